//! Log lines on stderr, as Lambda's advanced logging controls ask for them.
//!
//! - `AWS_LAMBDA_LOG_FORMAT=JSON`: one JSON object per line,
//!   `{"timestamp":"…Z","level":"INFO","message":"…","requestId":"…"}` (with the `tracing`
//!   feature, an event's fields are keys of their own, and `xrayTraceId` is added in an
//!   invocation); otherwise (`Text`): `timestamp<TAB>requestId<TAB>LEVEL<TAB>message`.
//! - `AWS_LAMBDA_LOG_LEVEL` (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`) drops lines
//!   below it (a value not understood is reported at start and the default kept). With the
//!   `tracing` feature, `RUST_LOG`-style directives (`info,my_crate=debug,hyper=warn`) set
//!   levels per target, for `tracing` events and `log` records alike; `AWS_LAMBDA_LOG_LEVEL`,
//!   when set, is the default level they refine. A directive not understood is reported at
//!   start.
//! - The current invocation's request id is attached automatically (set by the transports on
//!   the thread that runs the handler; `in_invocation` (the `tokio` feature) and the
//!   invocation's `tracing` span carry it into spawned tasks).
//! - With the `log` feature (default), the `log` facade's macros (`log::info!` …) write through
//!   the same logger; the runtime installs it unless the program installed its own.
//!
//! Each line is formatted into a 4 KiB stack buffer and written with one `write`, so lines
//! from several threads never interleave, and logging allocates nothing. A longer line moves to
//! the heap and is written whole up to 256 KiB (CloudWatch's limit for one event); past that it
//! is cut, and the cut is marked: `… [N bytes cut]`.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU8, Ordering};

use lamina_core::{Id, LogFormat, LogLevel, Notice};

static MIN_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);
static FORMAT: AtomicU8 = AtomicU8::new(LogFormat::Text as u8);

thread_local! {
    // `const` and never dropped (an `Id` owns no memory; heapless types implement `Drop`,
    // which would register a thread-local destructor): no initialisation or registration code
    // on access.
    static REQUEST_ID: RefCell<ManuallyDrop<Id>> =
        const { RefCell::new(ManuallyDrop::new(Id::EMPTY)) };
}

/// Sets the format and the level below which lines are dropped.
pub fn configure(format: LogFormat, level: LogLevel) {
    FORMAT.store(format as u8, Ordering::Relaxed);
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
    #[cfg(feature = "log")]
    facade::install();
}

/// Whether lines at `level` are written (by the default level; see `enabled_for` for a
/// target's).
pub fn enabled(level: LogLevel) -> bool {
    level as u8 >= MIN_LEVEL.load(Ordering::Relaxed)
}

/// Whether lines at `level` from `target` (a module path, e.g. `my_crate::db`) are written,
/// `RUST_LOG` directives considered.
#[cfg(feature = "tracing")]
pub fn enabled_for(level: LogLevel, target: &str) -> bool {
    filter::enabled(level, target)
}

/// Whether lines are JSON.
pub(crate) fn json() -> bool {
    FORMAT.load(Ordering::Relaxed) == LogFormat::Json as u8
}

/// Attaches `id` to this thread's lines (the transports call it at each invocation's start).
pub fn set_request_id(id: &Id) {
    REQUEST_ID.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            Id::clone_from(&mut r, id);
        }
    });
}

/// Detaches the request id from this thread's lines.
// Out of line: 32 bytes less of the size build than pasted where each invocation ends.
#[inline(never)]
pub fn clear_request_id() {
    REQUEST_ID.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            **r = Id::EMPTY;
        }
    });
}

#[cfg(any(feature = "tokio", feature = "tracing"))]
/// Swaps `id` with this thread's request id (to attach one for a while and put the previous
/// one back after).
pub(crate) fn swap_request_id(id: &mut Id) {
    REQUEST_ID.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            std::mem::swap(&mut **r, id);
        }
    });
}

#[cfg(feature = "tokio")]
/// This thread's request id (empty outside an invocation).
pub(crate) fn current_request_id() -> Id {
    REQUEST_ID.with(|r| r.try_borrow().map(|r| Id::clone(&r)).unwrap_or_default())
}

const LINE: usize = 4096;
/// The longest line written: CloudWatch's limit for one log event.
const MAX_LINE: usize = 256 * 1024;

/// A line being built: on the stack up to [`LINE`] bytes, on the heap beyond. What the message
/// and fields write (`content`) stops at [`MAX_LINE`] and counts what it drops; the structure
/// around them (`raw`) is always written. JSON-escapes what is written while `escape` is on.
pub(crate) struct Line {
    buf: [u8; LINE],
    len: usize,
    spill: Vec<u8>,
    /// Content bytes dropped past [`MAX_LINE`].
    cut: usize,
    pub(crate) escape: bool,
    raw: bool,
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; LINE],
            len: 0,
            spill: Vec::new(),
            cut: 0,
            escape: false,
            raw: false,
        }
    }

    fn bytes(&self) -> &[u8] {
        if self.spill.is_empty() {
            self.buf.get(..self.len).unwrap_or_default()
        } else {
            &self.spill
        }
    }

    fn len(&self) -> usize {
        if self.spill.is_empty() {
            self.len
        } else {
            self.spill.len()
        }
    }

    /// Writes `s` as structure: never escaped, never cut.
    pub(crate) fn raw(&mut self, s: &str) {
        let (escape, raw) = (self.escape, self.raw);
        self.escape = false;
        self.raw = true;
        let _ = self.write_str(s);
        self.escape = escape;
        self.raw = raw;
    }

    /// Appends `bytes`; content past [`MAX_LINE`] is dropped (and counted), cut anywhere when
    /// `whole` is off, else dropped whole (an escape sequence).
    fn push(&mut self, bytes: &[u8], whole: bool) {
        let mut bytes = bytes;
        if !self.raw {
            let room = MAX_LINE.saturating_sub(self.len());
            if self.cut > 0 || bytes.len() > room {
                let mut keep = if self.cut > 0 || whole { 0 } else { room };
                // Pieces are whole UTF-8 text: cut at a character boundary.
                while keep > 0 && bytes.get(keep).is_some_and(|b| b & 0xC0 == 0x80) {
                    keep -= 1;
                }
                self.cut += bytes.len() - keep;
                bytes = bytes.get(..keep).unwrap_or_default();
            }
        }
        if self.spill.is_empty() {
            if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
                crate::copy(dst, bytes);
                self.len += bytes.len();
                return;
            }
            // Over the stack buffer: the rest of this line goes on the heap.
            self.spill.reserve(2 * LINE + bytes.len());
            self.spill
                .extend_from_slice(self.buf.get(..self.len).unwrap_or_default());
        }
        self.spill.extend_from_slice(bytes);
    }

    /// Marks content cut since the last mark, if any: `… [N bytes cut]`.
    pub(crate) fn mark_cut(&mut self) {
        let cut = std::mem::take(&mut self.cut);
        if cut > 0 {
            self.raw_fmt(format_args!("… [{cut} bytes cut]"));
        }
    }

    /// Writes `args` as structure (see [`raw`](Line::raw)).
    pub(crate) fn raw_fmt(&mut self, args: fmt::Arguments<'_>) {
        let (escape, raw) = (self.escape, self.raw);
        self.escape = false;
        self.raw = true;
        let _ = self.write_fmt(args);
        self.escape = escape;
        self.raw = raw;
    }

    /// Whether content was cut since the last mark.
    #[cfg(any(test, feature = "tracing"))]
    pub(crate) fn is_cut(&self) -> bool {
        self.cut > 0
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Runs of bytes that need nothing done go in one piece; the others one at a time.
        let mut start = 0;
        for (i, &b) in s.as_bytes().iter().enumerate() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut esc = [b'\\', b'u', b'0', b'0', 0, 0];
            let replacement: &[u8] = match (self.escape, b) {
                (true, b'"' | b'\\') => {
                    esc[1] = b;
                    &esc[..2]
                }
                (true, b'\n') => b"\\n",
                (true, b'\r') => b"\\r",
                (true, b'\t') => b"\\t",
                (true, 0..=0x1f | 0x7f) => {
                    esc[4] = HEX[usize::from(b >> 4)];
                    esc[5] = HEX[usize::from(b & 15)];
                    &esc
                }
                // A text line is one line: line breaks from messages are made visible
                // (structure goes as it is).
                (false, b'\n' | b'\r') if !self.raw => b" ",
                _ => continue,
            };
            self.push(s.as_bytes().get(start..i).unwrap_or_default(), false);
            self.push(replacement, true);
            start = i + 1;
        }
        self.push(s.as_bytes().get(start..).unwrap_or_default(), false);
        Ok(())
    }
}

/// Writes the UTC time as `2026-11-25T16:54:42.123Z`.
fn timestamp(line: &mut Line) {
    // The runtime's own clock read (std's SystemTime::now unwraps an io::Result, which
    // links io::Error's Debug into every bootstrap).
    line.push(&utc(crate::transport::clock().unix_ms), false);
}

/// `unix_ms` as `2026-11-25T16:54:42.123Z`.
fn utc(unix_ms: u64) -> [u8; 24] {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days (unsigned: the clock is after 1970).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    // Digits written by hand, right to left from each field's last: `{:02}` and friends cost
    // a formatter call per field. One loop over the fields: each one's last digit and width
    // (a constant table), and its value.
    const FIELDS: [(u8, u8); 7] = [(3, 4), (6, 2), (9, 2), (12, 2), (15, 2), (18, 2), (22, 3)];
    let values = [
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        unix_ms % 1000,
    ];
    for ((end, width), mut n) in FIELDS.into_iter().zip(values) {
        for i in 0..width {
            if let Some(d) = out.get_mut(usize::from(end - i)) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
        }
    }
    out
}

/// What a line says: its message, and (from `tracing` events) fields of its own and the
/// invocation's trace id.
pub(crate) trait Body {
    /// Writes the message (escaping is the line's business).
    fn message(&self, line: &mut Line);

    /// Writes the fields after the message: `,"key":value` pieces in JSON, ` key=value` in
    /// text.
    #[cfg(feature = "tracing")]
    fn fields(&self, line: &mut Line, json: bool) {
        let _ = (line, json);
    }

    /// The X-Ray trace id to add (JSON only).
    #[cfg(feature = "tracing")]
    fn trace_id(&self) -> Option<&str> {
        None
    }
}

impl Body for fmt::Arguments<'_> {
    fn message(&self, line: &mut Line) {
        let _ = line.write_fmt(*self);
    }
}

/// Writes one line at `level` (if enabled) in the configured format.
pub fn log(level: LogLevel, args: fmt::Arguments<'_>) {
    if enabled(level) {
        write(level, None, &args);
    }
}

/// Writes one line at `level` (if enabled) about the invocation `request_id`.
pub fn log_for(level: LogLevel, request_id: &Id, args: fmt::Arguments<'_>) {
    if enabled(level) {
        write(level, Some(request_id.as_str()), &args);
    }
}

/// Logs a line the driver asked for, with the request id it is about.
pub fn notice(notice: &Notice) {
    let level = notice.level();
    if enabled(level) {
        write(
            level,
            notice.request_id().map(Id::as_str),
            &format_args!("lamina: {notice}"),
        );
    }
}

/// What [`write`] is given to write: any [`Body`] with `tracing` (its events are bodies of their
/// own); without it only ever formatted text, called directly rather than through a vtable.
#[cfg(feature = "tracing")]
pub(crate) type AnyBody<'a> = dyn Body + 'a;
#[cfg(not(feature = "tracing"))]
pub(crate) type AnyBody<'a> = fmt::Arguments<'a>;

/// Writes one line, whatever the level filters say: `request_id` (or this thread's) and what
/// `body` writes.
pub(crate) fn write(level: LogLevel, request_id: Option<&str>, body: &AnyBody<'_>) {
    let mut line = Line::new();
    let json = json();
    REQUEST_ID.with(|id| {
        let id = id.try_borrow().ok();
        let id = match request_id {
            Some(id) => id,
            None => id.as_deref().map_or("", |id| id.as_str()),
        };
        if json {
            line.raw("{\"timestamp\":\"");
            timestamp(&mut line);
            line.raw("\",\"level\":\"");
            line.raw(level.as_str());
            line.raw("\",\"message\":\"");
            line.escape = true;
            body.message(&mut line);
            line.escape = false;
            line.mark_cut();
            line.raw("\"");
            #[cfg(feature = "tracing")]
            {
                body.fields(&mut line, true);
                if line.is_cut() {
                    line.raw(",\"cut\":\"");
                    line.mark_cut();
                    line.raw("\"");
                }
            }
            if !id.is_empty() {
                line.raw(",\"requestId\":\"");
                line.raw(id);
                line.raw("\"");
            }
            #[cfg(feature = "tracing")]
            if let Some(trace) = body.trace_id() {
                line.raw(",\"xrayTraceId\":\"");
                line.escape = true;
                line.raw = true;
                let _ = line.write_str(trace);
                line.raw = false;
                line.escape = false;
                line.raw("\"");
            }
            line.raw("}");
        } else {
            timestamp(&mut line);
            line.raw("\t");
            line.raw(if id.is_empty() { "-" } else { id });
            line.raw("\t");
            line.raw(level.as_str());
            line.raw("\t");
            body.message(&mut line);
            #[cfg(feature = "tracing")]
            body.fields(&mut line, false);
            line.mark_cut();
        }
    });
    line.raw("\n");
    // One write (std's stderr lock is held across `write_all`): lines never interleave.
    let _ = std::io::stderr().write_all(line.bytes());
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

/// `RUST_LOG`-style directives: a default level and levels per target.
#[cfg(feature = "tracing")]
pub(crate) mod filter {
    use std::sync::RwLock;

    use lamina_core::LogLevel;

    /// Above every level: `off`.
    pub(crate) const OFF: u8 = u8::MAX;

    /// `(target, level)`: the longest target that is `target` or a parent module of it wins.
    static DIRECTIVES: RwLock<Vec<(String, u8)>> = RwLock::new(Vec::new());

    /// The most verbose level any directive (or the default) lets through.
    pub(crate) fn most_verbose() -> u8 {
        let default = super::MIN_LEVEL.load(std::sync::atomic::Ordering::Relaxed);
        DIRECTIVES
            .read()
            .map(|d| d.iter().map(|(_, l)| *l).fold(default, u8::min))
            .unwrap_or(default)
    }

    pub(super) fn enabled(level: LogLevel, target: &str) -> bool {
        let default = super::MIN_LEVEL.load(std::sync::atomic::Ordering::Relaxed);
        let Ok(directives) = DIRECTIVES.read() else {
            return level as u8 >= default;
        };
        let min = directives
            .iter()
            .filter(|(t, _)| {
                target
                    .strip_prefix(t.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            })
            .max_by_key(|(t, _)| t.len())
            .map_or(default, |(_, l)| *l);
        level as u8 >= min
    }

    /// A level name as `RUST_LOG` spells it (any case; `warning`, `off` too).
    fn level(s: &str) -> Option<u8> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "none" => Some(OFF),
            "warning" => Some(LogLevel::Warn as u8),
            other => LogLevel::parse(other).map(|l| l as u8),
        }
    }

    /// A module path (`my_crate::db`): span and field filters (`[span{field}]`) are not read.
    fn is_target(t: &str) -> bool {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':' || b == b'-')
    }

    /// Reads `RUST_LOG`-style `directives`. A bare level is the default level unless
    /// `AWS_LAMBDA_LOG_LEVEL` was set (`aws_level_set`), which wins. Returns what it could not
    /// read, to report.
    pub(crate) fn configure(directives: &str, aws_level_set: bool) -> Vec<String> {
        let mut bad = Vec::new();
        let mut parsed = Vec::new();
        for d in directives
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            match d.split_once('=') {
                Some((target, l)) => match (target.trim(), level(l.trim())) {
                    (t, Some(l)) if is_target(t) => {
                        parsed.push((t.to_string(), l));
                    }
                    _ => bad.push(d.to_string()),
                },
                None => match level(d) {
                    Some(l) if !aws_level_set => {
                        super::MIN_LEVEL.store(l, std::sync::atomic::Ordering::Relaxed);
                    }
                    Some(_) => {}
                    // A bare word that is not a level is a target at the most verbose level.
                    None if is_target(d) => {
                        parsed.push((d.to_string(), LogLevel::Trace as u8));
                    }
                    None => bad.push(d.to_string()),
                },
            }
        }
        if let Ok(mut d) = DIRECTIVES.write() {
            *d = parsed;
        }
        bad
    }
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
            #[cfg(feature = "tracing")]
            return super::filter::enabled(level(metadata.level()), metadata.target());
            #[cfg(not(feature = "tracing"))]
            super::enabled(level(metadata.level()))
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                super::write(level(record.level()), None, record.args());
            }
        }
        fn flush(&self) {}
    }

    /// Installs the logger (unless the program installed its own) and sets the facade's
    /// maximum level from the filters.
    pub(super) fn install() {
        // A program that installed its own logger keeps it (and its maximum level).
        if log::set_logger(&LOGGER).is_ok() {
            INSTALLED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        set_max_level();
    }

    static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    pub(crate) fn set_max_level() {
        if !INSTALLED.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        #[cfg(feature = "tracing")]
        let min = super::filter::most_verbose();
        #[cfg(not(feature = "tracing"))]
        let min = super::MIN_LEVEL.load(std::sync::atomic::Ordering::Relaxed);
        log::set_max_level(match min {
            u8::MAX => log::LevelFilter::Off,
            m if m <= LogLevel::Trace as u8 => log::LevelFilter::Trace,
            m if m <= LogLevel::Debug as u8 => log::LevelFilter::Debug,
            m if m <= LogLevel::Info as u8 => log::LevelFilter::Info,
            m if m <= LogLevel::Warn as u8 => log::LevelFilter::Warn,
            _ => log::LevelFilter::Error,
        });
    }
}

/// Reads `RUST_LOG`-style per-target directives (see the module docs); what cannot be read is
/// reported on stderr.
#[cfg(feature = "tracing")]
pub(crate) fn configure_filters(directives: Option<&str>, aws_level_set: bool) {
    let bad = filter::configure(directives.unwrap_or(""), aws_level_set);
    for d in bad {
        crate::rt_log!(
            Warn,
            "RUST_LOG: ignoring {d:?}: expected LEVEL or TARGET=LEVEL, LEVEL one of trace, debug, info, warn, error, off"
        );
    }
    #[cfg(feature = "log")]
    facade::set_max_level();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> &str {
        std::str::from_utf8(line.bytes()).unwrap()
    }

    #[test]
    fn utc_dates() {
        let at = |ms: u64| String::from_utf8(utc(ms).to_vec()).unwrap();
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(at(1_709_164_800_123), "2024-02-29T00:00:00.123Z");
        assert_eq!(at(1_764_547_200_000), "2025-12-01T00:00:00.000Z");
        assert_eq!(at(1_780_000_000_042), "2026-05-28T20:26:40.042Z");
        assert_eq!(at(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
        assert_eq!(at(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn json_escaping_and_timestamp_shape() {
        let mut line = Line::new();
        line.escape = true;
        let _ = write!(line, "a\"b\\c\nd\u{1}");
        assert_eq!(line.bytes(), br#"a\"b\\c\nd\u0001"#);
        let mut line = Line::new();
        timestamp(&mut line);
        let t = text(&line);
        assert_eq!(t.len(), 24, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
    }

    #[test]
    fn long_lines_spill_then_are_cut_and_marked() {
        // Over the stack buffer: written whole.
        let mut line = Line::new();
        let long = "é".repeat(3 * LINE);
        let _ = line.write_str(&long);
        line.mark_cut();
        assert_eq!(text(&line), long);
        // Over the maximum: cut at a character boundary, and the cut said.
        let mut line = Line::new();
        line.raw("prefix ");
        let huge = "é".repeat(MAX_LINE);
        let _ = line.write_str(&huge);
        line.mark_cut();
        let t = text(&line);
        assert!(t.len() <= MAX_LINE + 40, "{}", t.len());
        let (kept, mark) = t.rsplit_once("… [").unwrap();
        assert!(mark.ends_with(" bytes cut]"), "{mark}");
        let cut: usize = mark.trim_end_matches(" bytes cut]").parse().unwrap();
        assert_eq!(kept.len() - "prefix ".len() + cut, huge.len());
        // Escape sequences are never split.
        let mut line = Line::new();
        line.escape = true;
        let _ = line.write_str(&"\"".repeat(MAX_LINE));
        assert!(line.bytes().len().is_multiple_of(2) && line.is_cut());
    }

    #[cfg(feature = "tracing")]
    #[test]
    fn directives_per_target() {
        let bad = filter::configure("warn,my_crate=debug,my_crate::db=off,noisy,a=loud", false);
        assert_eq!(bad, ["a=loud"]);
        assert!(filter::enabled(LogLevel::Debug, "my_crate"));
        assert!(filter::enabled(LogLevel::Debug, "my_crate::api"));
        assert!(!filter::enabled(LogLevel::Error, "my_crate::db"));
        assert!(!filter::enabled(LogLevel::Debug, "my_crate_other"));
        assert!(!filter::enabled(LogLevel::Info, "other"));
        assert!(filter::enabled(LogLevel::Warn, "other"));
        assert!(filter::enabled(LogLevel::Trace, "noisy::x"));
        assert_eq!(filter::most_verbose(), LogLevel::Trace as u8);
        // AWS_LAMBDA_LOG_LEVEL wins over a bare level.
        MIN_LEVEL.store(LogLevel::Error as u8, Ordering::Relaxed);
        let _ = filter::configure("debug", true);
        assert!(!filter::enabled(LogLevel::Warn, "x"));
        let _ = filter::configure("", false);
        MIN_LEVEL.store(LogLevel::Info as u8, Ordering::Relaxed);
    }
}
