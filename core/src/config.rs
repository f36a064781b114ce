//! The function's settings, read from the environment Lambda gives a runtime (through a lookup
//! function the transport supplies: the core never reads the environment itself).

use core::fmt;

use heapless::String;
use heapless::string::StringView;

use crate::buf::{eq_ignore_case, parse_u64};
use crate::endpoint::{Endpoint, EndpointError};
use crate::response::Limits;

/// How the function was initialised (`AWS_LAMBDA_INITIALIZATION_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InitType {
    /// An ordinary cold start.
    #[default]
    OnDemand,
    /// Provisioned concurrency.
    ProvisionedConcurrency,
    /// SnapStart: the process is snapshotted after init and restored later.
    SnapStart,
    /// Lambda Managed Instances (several invocations in flight).
    ManagedInstances,
}

/// `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One plain line per entry.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `AWS_LAMBDA_LOG_LEVEL`, and the level of each line lamina logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Finest detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// The default.
    #[default]
    Info,
    /// Something went wrong and was handled.
    Warn,
    /// Something failed.
    Error,
    /// The runtime is about to stop.
    Fatal,
}

impl LogLevel {
    /// The level's name as Lambda spells it (`INFO`, `WARN`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// Parses a level name, ignoring case (`WARNING` is `WARN`).
    pub fn parse(s: &str) -> Option<LogLevel> {
        // The names packed in one string, 7 bytes each, space-padded: a table of `&str` would
        // cost a relocation per entry in a position-independent binary.
        const NAMES: &[u8; 49] = b"TRACE  DEBUG  INFO   WARN   WARNINGERROR  FATAL  ";
        const LEVELS: [LogLevel; 7] = [
            LogLevel::Trace,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Fatal,
        ];
        let s = s.trim_ascii().as_bytes();
        let (names, _) = NAMES.as_chunks::<7>();
        let i = names
            .iter()
            .position(|n| eq_ignore_case(n.trim_ascii_end(), s))?;
        LEVELS.get(i).copied()
    }
}

/// Longest `AWS_LAMBDA_FUNCTION_NAME` kept.
pub const MAX_FUNCTION_NAME: usize = 256;
/// Longest `AWS_LAMBDA_FUNCTION_VERSION` kept.
pub const MAX_FUNCTION_VERSION: usize = 64;
/// Longest log group or log stream name kept.
pub const MAX_LOG_NAME: usize = 512;
/// Most invocations in flight at once (`AWS_LAMBDA_MAX_CONCURRENCY`).
pub const MAX_CONCURRENCY: u32 = 1024;

/// Everything the runtime needs to know before its first request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The Runtime API (`AWS_LAMBDA_RUNTIME_API`).
    pub endpoint: Endpoint,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String<MAX_FUNCTION_NAME>,
    /// `AWS_LAMBDA_FUNCTION_VERSION` (`$LATEST` unless set).
    pub function_version: String<MAX_FUNCTION_VERSION>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB (128 unless set).
    pub memory_mb: u32,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group: String<MAX_LOG_NAME>,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: String<MAX_LOG_NAME>,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`: invocations in flight at once (1 unless set).
    pub max_concurrency: u32,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub init_type: InitType,
    /// `AWS_LAMBDA_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `AWS_LAMBDA_LOG_LEVEL`: lines below it are dropped.
    pub log_level: LogLevel,
    /// Largest event accepted, in bytes (6 MiB; `LAMINA_MAX_EVENT_BYTES`). A larger one is
    /// drained and answered with an error.
    pub max_event: usize,
    /// Largest response sent, in bytes (6 MiB; `LAMINA_MAX_RESPONSE_BYTES`). A larger one is
    /// reported as an error, never truncated.
    pub max_response: u64,
    /// How long failures to reach the Runtime API may last before the runtime gives up, in
    /// milliseconds (10 s; `LAMINA_RECONNECT_TIMEOUT_MS`).
    pub reconnect_timeout_ms: u64,
    /// The first variable that held a value of the wrong form: reported on `/init/error`.
    invalid: Option<Invalid>,
    /// A log setting that was not understood and left at its default: logged at start.
    ignored: Option<Invalid>,
}

/// `AWS_LAMBDA_RUNTIME_API` is missing or does not parse: the runtime cannot even report it on
/// `/init/error`, so it says so on stderr and exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// `AWS_LAMBDA_RUNTIME_API` is not set.
    MissingRuntimeApi,
    /// `AWS_LAMBDA_RUNTIME_API` does not parse.
    InvalidRuntimeApi(EndpointError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::MissingRuntimeApi => f.write_str(
                "AWS_LAMBDA_RUNTIME_API is not set: run this program as a Lambda bootstrap, or \
                 locally under the fake Runtime API: \
                 cargo run -p lamina-server -- --bootstrap <this program> --event '{}'",
            ),
            StartError::InvalidRuntimeApi(e) => {
                write!(f, "AWS_LAMBDA_RUNTIME_API is invalid: {}", e.as_str())
            }
        }
    }
}

impl core::error::Error for StartError {}

/// A variable that holds a value of the wrong form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// The variable's name.
    pub name: &'static str,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is invalid: expected {}", self.name, self.expected)
    }
}

impl Config {
    /// Settings for the Runtime API at `endpoint`, every other value at its default.
    pub fn new(endpoint: Endpoint) -> Config {
        let mut function_version = String::new();
        let _ = function_version.push_str("$LATEST");
        Config {
            endpoint,
            function_name: String::new(),
            function_version,
            memory_mb: 128,
            log_group: String::new(),
            log_stream: String::new(),
            max_concurrency: 1,
            init_type: InitType::OnDemand,
            log_format: LogFormat::Text,
            log_level: LogLevel::Info,
            max_event: Limits::NEXT.max_body,
            max_response: 6 * 1024 * 1024,
            reconnect_timeout_ms: 10_000,
            invalid: None,
            ignored: None,
        }
    }

    /// Reads the settings through `get` (`std::env::var(name).ok()` in a std transport).
    ///
    /// Only a missing or unparseable `AWS_LAMBDA_RUNTIME_API` is an `Err`; any other bad value
    /// is kept in the returned settings and reported by the [`Driver`](crate::Driver) on
    /// `/init/error`, naming the variable ([`invalid`](Config::invalid)).
    pub fn from_lookup<S: AsRef<str>>(
        mut get: impl FnMut(&str) -> Option<S>,
    ) -> Result<Config, StartError> {
        let api = get("AWS_LAMBDA_RUNTIME_API").ok_or(StartError::MissingRuntimeApi)?;
        let endpoint = Endpoint::parse(api.as_ref()).map_err(StartError::InvalidRuntimeApi)?;
        let mut c = Config::new(endpoint);
        for var in Var::ALL {
            if let Some(value) = get(var.name()) {
                c.set(var, value.as_ref());
            }
        }
        Ok(c)
    }

    /// Applies one variable's value (one code path for all of them: this runs once, and its
    /// size matters more than its speed).
    fn set(&mut self, var: Var, v: &str) {
        // Parsed once whatever the variable (this runs a dozen times at start; one call site
        // is smaller than one per numeric variable).
        let n = parse_u64(v.trim_ascii().as_bytes());
        let number = |max: u64| n.filter(|n| *n <= max);
        let result = match var {
            Var::FunctionName => put(self.function_name.as_mut_view(), v),
            Var::FunctionVersion => put(self.function_version.as_mut_view(), v),
            Var::LogGroup => put(self.log_group.as_mut_view(), v),
            Var::LogStream => put(self.log_stream.as_mut_view(), v),
            Var::MemorySize => match number(1 << 20) {
                Some(n) if n > 0 => {
                    self.memory_mb = n as u32;
                    Ok(())
                }
                _ => Err("a size in MB"),
            },
            Var::MaxConcurrency => match number(u64::from(MAX_CONCURRENCY)) {
                Some(n) if n > 0 => {
                    self.max_concurrency = n as u32;
                    Ok(())
                }
                _ => Err("a number from 1 to 1024"),
            },
            Var::InitType => {
                self.init_type = match v.trim_ascii() {
                    "on-demand" | "" => InitType::OnDemand,
                    "provisioned-concurrency" => InitType::ProvisionedConcurrency,
                    "snap-start" => InitType::SnapStart,
                    "lambda-managed-instances" => InitType::ManagedInstances,
                    _ => {
                        self.refuse(
                            var,
                            "on-demand, provisioned-concurrency, snap-start or \
                             lambda-managed-instances",
                        );
                        return;
                    }
                };
                Ok(())
            }
            // Lambda validates these two itself: a value not understood keeps the default and
            // is reported with a warning, not as an init failure.
            Var::LogFormat => {
                match v.trim_ascii() {
                    t if eq_ignore_case(t.as_bytes(), b"json") => self.log_format = LogFormat::Json,
                    t if eq_ignore_case(t.as_bytes(), b"text") || t.is_empty() => {
                        self.log_format = LogFormat::Text;
                    }
                    _ => self.ignore(var, "Text or JSON"),
                }
                return;
            }
            Var::LogLevel => {
                match LogLevel::parse(v) {
                    Some(l) => self.log_level = l,
                    None => self.ignore(var, "TRACE, DEBUG, INFO, WARN, ERROR or FATAL"),
                }
                return;
            }
            Var::MaxEvent => number(1 << 40)
                .map(|n| self.max_event = n as usize)
                .ok_or("a size in bytes"),
            Var::MaxResponse => number(1 << 40)
                .map(|n| self.max_response = n)
                .ok_or("a size in bytes"),
            Var::ReconnectTimeout => number(1 << 40)
                .map(|n| self.reconnect_timeout_ms = n)
                .ok_or("milliseconds"),
        };
        if let Err(expected) = result {
            self.refuse(var, expected);
        }
    }

    fn refuse(&mut self, var: Var, expected: &'static str) {
        keep_first(&mut self.invalid, var, expected);
    }

    fn ignore(&mut self, var: Var, expected: &'static str) {
        keep_first(&mut self.ignored, var, expected);
    }

    /// The first variable that held a value of the wrong form (the runtime reports it on
    /// `/init/error` and exits).
    pub fn invalid(&self) -> Option<Invalid> {
        self.invalid
    }

    /// A log setting that was not understood and kept its default (logged at start).
    pub fn ignored(&self) -> Option<Invalid> {
        self.ignored
    }

    pub(crate) fn next_limits(&self) -> Limits {
        Limits {
            max_body: self.max_event,
            ..Limits::NEXT
        }
    }
}

/// The variables read besides `AWS_LAMBDA_RUNTIME_API`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    FunctionName,
    FunctionVersion,
    LogGroup,
    LogStream,
    MemorySize,
    MaxConcurrency,
    InitType,
    LogFormat,
    LogLevel,
    MaxEvent,
    MaxResponse,
    ReconnectTimeout,
}

impl Var {
    const ALL: [Var; 12] = [
        Var::FunctionName,
        Var::FunctionVersion,
        Var::LogGroup,
        Var::LogStream,
        Var::MemorySize,
        Var::MaxConcurrency,
        Var::InitType,
        Var::LogFormat,
        Var::LogLevel,
        Var::MaxEvent,
        Var::MaxResponse,
        Var::ReconnectTimeout,
    ];

    fn name(self) -> &'static str {
        match self {
            Var::FunctionName => "AWS_LAMBDA_FUNCTION_NAME",
            Var::FunctionVersion => "AWS_LAMBDA_FUNCTION_VERSION",
            Var::LogGroup => "AWS_LAMBDA_LOG_GROUP_NAME",
            Var::LogStream => "AWS_LAMBDA_LOG_STREAM_NAME",
            Var::MemorySize => "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            Var::MaxConcurrency => "AWS_LAMBDA_MAX_CONCURRENCY",
            Var::InitType => "AWS_LAMBDA_INITIALIZATION_TYPE",
            Var::LogFormat => "AWS_LAMBDA_LOG_FORMAT",
            Var::LogLevel => "AWS_LAMBDA_LOG_LEVEL",
            Var::MaxEvent => "LAMINA_MAX_EVENT_BYTES",
            Var::MaxResponse => "LAMINA_MAX_RESPONSE_BYTES",
            Var::ReconnectTimeout => "LAMINA_RECONNECT_TIMEOUT_MS",
        }
    }
}

/// (On a `StringView`: one copy for every capacity.)
/// Keeps `var` in `slot` unless another came first (one copy for the four callers).
#[inline(never)]
fn keep_first(slot: &mut Option<Invalid>, var: Var, expected: &'static str) {
    slot.get_or_insert(Invalid {
        name: var.name(),
        expected,
    });
}

#[inline(always)]
fn put(field: &mut StringView, v: &str) -> Result<(), &'static str> {
    field.clear();
    field.push_str(v).map_err(|_| "a shorter value")
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn reads_lambda_settings() {
        let c = Config::from_lookup(env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "4"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "warn"),
        ]))
        .unwrap();
        assert_eq!(c.endpoint.port(), 9001);
        assert_eq!(c.function_name.as_str(), "f");
        assert_eq!(c.memory_mb, 512);
        assert_eq!(c.max_concurrency, 4);
        assert_eq!(c.init_type, InitType::SnapStart);
        assert_eq!(c.function_version.as_str(), "$LATEST");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.log_level, LogLevel::Warn);
        assert_eq!((c.invalid(), c.ignored()), (None, None));
    }

    #[test]
    fn names_the_bad_variable() {
        assert_eq!(
            Config::from_lookup(env(&[])).unwrap_err(),
            StartError::MissingRuntimeApi
        );
        assert!(matches!(
            Config::from_lookup(env(&[("AWS_LAMBDA_RUNTIME_API", "nope")])),
            Err(StartError::InvalidRuntimeApi(_))
        ));
        let c = Config::from_lookup(env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "0"),
        ]))
        .unwrap();
        let bad = c.invalid().unwrap();
        assert_eq!(bad.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
        assert_eq!(
            std::format!("{bad}"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is invalid: expected a size in MB"
        );
        let c = Config::from_lookup(env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "2000"),
        ]))
        .unwrap();
        assert_eq!(c.invalid().unwrap().name, "AWS_LAMBDA_MAX_CONCURRENCY");
        let long = "x".repeat(MAX_FUNCTION_NAME + 1);
        let c = Config::from_lookup(env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", &long),
        ]))
        .unwrap();
        assert_eq!(c.invalid().unwrap().name, "AWS_LAMBDA_FUNCTION_NAME");
    }

    #[test]
    fn log_settings_not_understood_keep_their_default() {
        let c = Config::from_lookup(env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_LOG_LEVEL", "LOUD"),
        ]))
        .unwrap();
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.invalid(), None);
        assert_eq!(c.ignored().unwrap().name, "AWS_LAMBDA_LOG_LEVEL");
    }
}
