//! SIGTERM wakes the event loop through a self-pipe.
//!
//! The handler does the one async-signal-safe thing it must: write a byte to a non-blocking
//! socket whose other end the loop polls. This is the classic self-pipe; it replaces
//! `signal-hook-mio`, whose registry and iterator cost ~5 KB of a ~400 KB binary for one signal.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicI32, Ordering};

use mio::net::UnixStream;

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

/// The read end the loop registers; readable once SIGTERM arrived.
#[derive(Debug)]
pub struct Sigterm {
    read: UnixStream,
    // Kept open for the handler.
    _write: StdUnixStream,
}

impl Sigterm {
    /// Installs the handler (glibc's `signal` keeps it installed and restarts interrupted
    /// system calls).
    pub fn install() -> io::Result<Sigterm> {
        let (read, write) = StdUnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        // SAFETY: `on_sigterm` only calls async-signal-safe functions. SIG_ERR is usize::MAX.
        let previous = unsafe { signal(SIGTERM, on_sigterm as extern "C" fn(i32) as usize) };
        if previous == usize::MAX {
            return Err(io::Error::last_os_error());
        }
        Ok(Sigterm {
            read: UnixStream::from_std(read),
            _write: write,
        })
    }

    /// The source to register with the poll.
    pub fn source(&mut self) -> &mut UnixStream {
        &mut self.read
    }

    /// Drains the pipe; whether SIGTERM arrived since the last call.
    pub fn take(&mut self) -> bool {
        let mut got = false;
        let mut buf = [0u8; 16];
        while let Ok(n @ 1..) = self.read.read(&mut buf) {
            got |= n > 0;
        }
        got
    }
}
