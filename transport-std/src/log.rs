//! Log lines on stderr, as Lambda's advanced logging controls ask for them.
//!
//! - `AWS_LAMBDA_LOG_FORMAT=JSON`: one JSON object per line,
//!   `{"timestamp":"…Z","level":"INFO","message":"…","requestId":"…"}`;
//!   otherwise (`Text`): `timestamp<TAB>requestId<TAB>LEVEL<TAB>message`.
//! - `AWS_LAMBDA_LOG_LEVEL` (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`) drops lines
//!   below it (a value not understood is reported at start and the default kept).
//! - The current invocation's request id is attached automatically (set by the transports).
//! - With the `log` feature (default), the `log` facade's macros (`log::info!` …) write through
//!   the same logger; the runtime installs it unless the program installed its own.
//!
//! Each line is formatted into a stack buffer and written with one `write`, so lines from
//! several threads never interleave, and logging allocates nothing.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use lamina_core::{Id, LogFormat, LogLevel, Notice};

static MIN_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);
static FORMAT: AtomicU8 = AtomicU8::new(LogFormat::Text as u8);

thread_local! {
    static REQUEST_ID: RefCell<Id> = RefCell::new(Id::default());
}

/// Sets the format and the level below which lines are dropped.
pub fn configure(format: LogFormat, level: LogLevel) {
    FORMAT.store(format as u8, Ordering::Relaxed);
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
    #[cfg(feature = "log")]
    facade::install(level);
}

/// Whether lines at `level` are written.
pub fn enabled(level: LogLevel) -> bool {
    level as u8 >= MIN_LEVEL.load(Ordering::Relaxed)
}

/// Attaches `id` to this thread's lines (the transports call it at each invocation's start).
pub fn set_request_id(id: &Id) {
    REQUEST_ID.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            r.clone_from(id);
        }
    });
}

/// Detaches the request id from this thread's lines.
pub fn clear_request_id() {
    REQUEST_ID.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            *r = Id::default();
        }
    });
}

const LINE: usize = 4096;

/// A line being built; JSON-escapes what is written while `escape` is on.
struct Line {
    buf: [u8; LINE],
    len: usize,
    cut: bool,
    escape: bool,
}

impl Line {
    fn raw(&mut self, s: &str) {
        let escape = std::mem::replace(&mut self.escape, false);
        let _ = self.write_str(s);
        self.escape = escape;
    }

    fn push(&mut self, bytes: &[u8]) {
        // Room is kept for the closing `"}` and the newline.
        let room = (LINE - 8).saturating_sub(self.len);
        if bytes.len() > room {
            self.cut = true;
        }
        let n = bytes.len().min(room);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + n), bytes.get(..n)) {
            dst.copy_from_slice(src);
            self.len += n;
        }
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            match (self.escape, b) {
                (true, b'"') => self.push(b"\\\""),
                (true, b'\\') => self.push(b"\\\\"),
                (true, b'\n') => self.push(b"\\n"),
                (true, b'\r') => self.push(b"\\r"),
                (true, b'\t') => self.push(b"\\t"),
                (true, 0..=0x1f | 0x7f) => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.push(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 15)],
                    ]);
                }
                // A text line is one line: line breaks from messages are made visible.
                (false, b'\n' | b'\r') => self.push(b" "),
                _ => self.push(&[b]),
            }
        }
        Ok(())
    }
}

/// Writes the UTC time as `2026-11-25T16:54:42.123Z`.
fn timestamp(line: &mut Line) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        line,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        now.subsec_millis()
    );
}

/// Writes one line at `level` (if enabled) in the configured format.
pub fn log(level: LogLevel, args: fmt::Arguments<'_>) {
    write_line(level, None, args);
}

/// Logs a line the driver asked for, with the request id it is about.
pub fn notice(notice: &Notice) {
    write_line(
        notice.level(),
        notice.request_id(),
        format_args!("lamina: {notice}"),
    );
}

fn write_line(level: LogLevel, request_id: Option<&Id>, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = Line {
        buf: [0; LINE],
        len: 0,
        cut: false,
        escape: false,
    };
    let json = FORMAT.load(Ordering::Relaxed) == LogFormat::Json as u8;
    REQUEST_ID.with(|id| {
        let id = id.try_borrow().ok();
        let id = match request_id {
            Some(id) => id.as_str(),
            None => id.as_deref().map(Id::as_str).unwrap_or(""),
        };
        if json {
            line.raw("{\"timestamp\":\"");
            timestamp(&mut line);
            line.raw("\",\"level\":\"");
            line.raw(level.as_str());
            line.raw("\",\"message\":\"");
            line.escape = true;
            let _ = line.write_fmt(args);
            line.escape = false;
            if line.cut {
                line.raw("...");
            }
            line.raw("\"");
            if !id.is_empty() {
                line.raw(",\"requestId\":\"");
                line.raw(id);
                line.raw("\"");
            }
            line.len = line.len.min(LINE - 3);
            line.cut = false;
            line.raw("}");
        } else {
            timestamp(&mut line);
            line.raw("\t");
            line.raw(if id.is_empty() { "-" } else { id });
            line.raw("\t");
            line.raw(level.as_str());
            line.raw("\t");
            let _ = line.write_fmt(args);
            if line.cut {
                line.len = line.len.min(LINE - 5);
                line.raw("...");
            }
        }
    });
    let end = line.len.min(LINE - 1);
    line.buf[end] = b'\n';
    let _ = std::io::stderr().write_all(&line.buf[..=end]);
}

/// Logs a formatted line of the runtime's own: `rt_log!(Warn, "x {}", y)`.
#[macro_export]
#[doc(hidden)]
macro_rules! rt_log {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::log(
            $crate::core::LogLevel::$level,
            format_args!("lamina: {}", format_args!($($arg)*)),
        )
    };
}

#[cfg(feature = "log")]
mod facade {
    use lamina_core::LogLevel;

    struct Logger;

    static LOGGER: Logger = Logger;

    fn level(l: log::Level) -> LogLevel {
        match l {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }

    impl log::Log for Logger {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            super::enabled(level(metadata.level()))
        }
        fn log(&self, record: &log::Record<'_>) {
            super::log(level(record.level()), *record.args());
        }
        fn flush(&self) {}
    }

    pub(super) fn install(min: LogLevel) {
        // A program that installed its own logger keeps it.
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(match min {
                LogLevel::Error | LogLevel::Fatal => log::LevelFilter::Error,
                LogLevel::Warn => log::LevelFilter::Warn,
                LogLevel::Info => log::LevelFilter::Info,
                LogLevel::Debug => log::LevelFilter::Debug,
                LogLevel::Trace => log::LevelFilter::Trace,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping_and_timestamp_shape() {
        let mut line = Line {
            buf: [0; LINE],
            len: 0,
            cut: false,
            escape: true,
        };
        let _ = write!(line, "a\"b\\c\nd\u{1}");
        assert_eq!(&line.buf[..line.len], br#"a\"b\\c\nd\u0001"#);
        let mut line = Line {
            buf: [0; LINE],
            len: 0,
            cut: false,
            escape: false,
        };
        timestamp(&mut line);
        let t = std::str::from_utf8(&line.buf[..line.len]).unwrap();
        assert_eq!(t.len(), 24, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
    }
}
