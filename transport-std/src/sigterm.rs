//! SIGTERM through a self-pipe: the handler does the one async-signal-safe thing it must,
//! write a byte to a non-blocking socket whose other end the runtime watches (the mio loop
//! polls it; the blocking transport reads it on a thread of its own).
//!
//! This replaces `signal-hook-mio`, whose registry and iterator cost ~5 KB of a ~400 KB
//! binary for one signal.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};

/// SIGTERM's number on Linux (every architecture).
const SIGTERM: i32 = 15;

/// The write end, for the handler (-1 before `install`).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
}

extern "C" fn on_sigterm(_: i32) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the socket is non-blocking, so a full buffer
        // (a wake-up already pending) just drops this byte.
        unsafe {
            write(fd, &byte, 1);
        }
    }
}

/// Installs the handler (glibc's `signal` keeps it installed and restarts interrupted system
/// calls) and returns the read end, readable once SIGTERM arrived (non-blocking).
pub fn install() -> io::Result<UnixStream> {
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
    // The write end stays open for the life of the process: the handler may fire any time.
    std::mem::forget(write);
    // SAFETY: `on_sigterm` only calls async-signal-safe functions. SIG_ERR is usize::MAX.
    let previous = unsafe { signal(SIGTERM, on_sigterm as extern "C" fn(i32) as usize) };
    if previous == usize::MAX {
        return Err(io::Error::last_os_error());
    }
    Ok(read)
}
