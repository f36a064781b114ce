//! The runtime's own log lines: one line each, on stderr, written with a single `write` so lines
//! from several threads never interleave.

use std::fmt::{self, Write as _};
use std::io::Write as _;

/// How serious a runtime log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The runtime cannot go on.
    Error,
    /// Something was dropped or refused; the runtime goes on.
    Warn,
    /// Progress worth knowing about.
    Info,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
        }
    }
}

const LINE: usize = 2048;

struct Line {
    buf: [u8; LINE],
    len: usize,
    cut: bool,
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the newline; a longer line is cut (and marked) rather than split.
        let room = LINE - 1 - self.len;
        let bytes = s.as_bytes();
        let n = if bytes.len() <= room {
            bytes.len()
        } else {
            self.cut = true;
            room
        };
        for (dst, &b) in self.buf[self.len..self.len + n].iter_mut().zip(bytes) {
            // A log line is one line: control characters from the network are made visible.
            *dst = if b == b'\n' || b == b'\r' { b' ' } else { b };
        }
        self.len += n;
        Ok(())
    }
}

/// Writes one line `lamina LEVEL message` to stderr.
pub fn log(level: Level, args: fmt::Arguments<'_>) {
    let mut line = Line {
        buf: [0; LINE],
        len: 0,
        cut: false,
    };
    let _ = write!(line, "lamina {} ", level.as_str());
    let _ = line.write_fmt(args);
    if line.cut {
        line.len = LINE - 4;
        line.buf[line.len..line.len + 3].copy_from_slice(b"...");
        line.len += 3;
    }
    line.buf[line.len] = b'\n';
    let _ = std::io::stderr().write_all(&line.buf[..=line.len]);
}

/// Logs a formatted line at a level: `rt_log!(Warn, "x {}", y)`.
#[macro_export]
#[doc(hidden)]
macro_rules! rt_log {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::log($crate::log::Level::$level, format_args!($($arg)*))
    };
}
