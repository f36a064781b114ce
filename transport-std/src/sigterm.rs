//! SIGTERM: the handler does the async-signal-safe things it must: it sets a flag (the blocking
//! transport looks at it between reads, which time out every tick) and writes a byte to a
//! non-blocking socket whose other end an event loop can watch (the mio transport polls it).
//!
//! This replaces `signal-hook-mio`, whose registry and iterator cost ~5 KB of a ~400 KB binary
//! for one signal.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// SIGTERM's number on Linux (every architecture).
const SIGTERM: i32 = 15;

/// The write end, for the handler (-1 before `install`).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);
/// Set once SIGTERM arrived.
static REQUESTED: AtomicBool = AtomicBool::new(false);

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn __errno_location() -> *mut i32;
}

extern "C" fn on_sigterm(_: i32) {
    REQUESTED.store(true, Ordering::SeqCst);
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) and errno access are async-signal-safe; errno is saved and restored
        // so the interrupted code never sees it change. The socket is non-blocking, so a full
        // buffer (a wake-up already pending) just drops this byte.
        unsafe {
            let errno = __errno_location();
            let saved = *errno;
            let byte = 1u8;
            write(fd, &byte, 1);
            *errno = saved;
        }
    }
}

/// Installs the handler (glibc's `signal` keeps it installed and restarts interrupted system
/// calls) and returns the read end, readable once SIGTERM arrived (non-blocking).
pub(crate) fn install() -> io::Result<UnixStream> {
    let (read, write) = pair()?;
    WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
    // The write end stays open for the life of the process: the handler may fire any time.
    std::mem::forget(write);
    // SAFETY: `on_sigterm` only does async-signal-safe things. SIG_ERR is usize::MAX.
    let previous = unsafe { signal(SIGTERM, on_sigterm as extern "C" fn(i32) as usize) };
    if previous == usize::MAX {
        return Err(io::Error::last_os_error());
    }
    Ok(read)
}

/// A connected pair of non-blocking, close-on-exec Unix sockets: one `socketpair` call on
/// 64-bit x86 and Arm Linux (std's `pair` and two `set_nonblocking` are three system calls and
/// more code).
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn pair() -> io::Result<(UnixStream, UnixStream)> {
    use std::os::fd::FromRawFd;
    unsafe extern "C" {
        fn socketpair(domain: i32, kind: i32, protocol: i32, fds: *mut [i32; 2]) -> i32;
    }
    const AF_UNIX: i32 = 1;
    const SOCK_STREAM: i32 = 1;
    const SOCK_NONBLOCK: i32 = 0o4000;
    const SOCK_CLOEXEC: i32 = 0o2_000_000;
    let mut fds = [-1; 2];
    // SAFETY: `fds` is room for the two descriptors socketpair returns.
    let r = unsafe {
        socketpair(
            AF_UNIX,
            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
            0,
            &mut fds,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let [a, b] = fds;
    // SAFETY: two open sockets just created, owned by nothing else.
    Ok(unsafe { (UnixStream::from_raw_fd(a), UnixStream::from_raw_fd(b)) })
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn pair() -> io::Result<(UnixStream, UnixStream)> {
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    Ok((read, write))
}

/// Whether SIGTERM arrived.
pub(crate) fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
