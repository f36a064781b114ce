//! The function's settings, read from the environment Lambda gives a runtime (through a lookup
//! function the transport supplies: the core never reads the environment itself).

use core::fmt;

use heapless::String;

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
        const NAMES: [(&str, LogLevel); 7] = [
            ("TRACE", LogLevel::Trace),
            ("DEBUG", LogLevel::Debug),
            ("INFO", LogLevel::Info),
            ("WARN", LogLevel::Warn),
            ("WARNING", LogLevel::Warn),
            ("ERROR", LogLevel::Error),
            ("FATAL", LogLevel::Fatal),
        ];
        let s = s.trim();
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, l)| *l)
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
                write!(f, "AWS_LAMBDA_RUNTIME_API is invalid: {e}")
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
        let mut read = Reader {
            config: &mut c,
            get: &mut get,
        };
        read.string("AWS_LAMBDA_FUNCTION_NAME", |c| &mut c.function_name);
        read.string("AWS_LAMBDA_FUNCTION_VERSION", |c| &mut c.function_version);
        read.string("AWS_LAMBDA_LOG_GROUP_NAME", |c| &mut c.log_group);
        read.string("AWS_LAMBDA_LOG_STREAM_NAME", |c| &mut c.log_stream);
        if let Some(n) = read.number(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "a size in MB",
            1,
            1 << 20,
        ) {
            read.config.memory_mb = n as u32;
        }
        if let Some(n) = read.number(
            "AWS_LAMBDA_MAX_CONCURRENCY",
            "a number from 1 to 1024",
            1,
            u64::from(MAX_CONCURRENCY),
        ) {
            read.config.max_concurrency = n as u32;
        }
        read.with("AWS_LAMBDA_INITIALIZATION_TYPE", |c, v| {
            c.init_type = match v.trim() {
                "on-demand" | "" => InitType::OnDemand,
                "provisioned-concurrency" => InitType::ProvisionedConcurrency,
                "snap-start" => InitType::SnapStart,
                "lambda-managed-instances" => InitType::ManagedInstances,
                _ => {
                    return Err(
                        "on-demand, provisioned-concurrency, snap-start or lambda-managed-instances",
                    );
                }
            };
            Ok(())
        });
        // Lambda validates these two itself: a value not understood keeps the default and is
        // reported with a warning, not as an init failure.
        read.log_setting("AWS_LAMBDA_LOG_FORMAT", |c, v| {
            c.log_format = match v.trim() {
                t if t.eq_ignore_ascii_case("json") => LogFormat::Json,
                t if t.eq_ignore_ascii_case("text") || t.is_empty() => LogFormat::Text,
                _ => return Err("Text or JSON"),
            };
            Ok(())
        });
        read.log_setting("AWS_LAMBDA_LOG_LEVEL", |c, v| {
            c.log_level = LogLevel::parse(v).ok_or("TRACE, DEBUG, INFO, WARN, ERROR or FATAL")?;
            Ok(())
        });
        let max = 1 << 40;
        if let Some(n) = read.number("LAMINA_MAX_EVENT_BYTES", "a size in bytes", 0, max) {
            read.config.max_event = n as usize;
        }
        if let Some(n) = read.number("LAMINA_MAX_RESPONSE_BYTES", "a size in bytes", 0, max) {
            read.config.max_response = n;
        }
        if let Some(n) = read.number("LAMINA_RECONNECT_TIMEOUT_MS", "milliseconds", 0, max) {
            read.config.reconnect_timeout_ms = n;
        }
        Ok(c)
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

struct Reader<'a, F> {
    config: &'a mut Config,
    get: &'a mut F,
}

impl<F: FnMut(&str) -> Option<S>, S: AsRef<str>> Reader<'_, F> {
    fn with(
        &mut self,
        name: &'static str,
        apply: impl FnOnce(&mut Config, &str) -> Result<(), &'static str>,
    ) {
        if let Some(v) = (self.get)(name)
            && let Err(expected) = apply(self.config, v.as_ref())
        {
            self.config
                .invalid
                .get_or_insert(Invalid { name, expected });
        }
    }

    fn log_setting(
        &mut self,
        name: &'static str,
        apply: impl FnOnce(&mut Config, &str) -> Result<(), &'static str>,
    ) {
        if let Some(v) = (self.get)(name)
            && let Err(expected) = apply(self.config, v.as_ref())
        {
            self.config
                .ignored
                .get_or_insert(Invalid { name, expected });
        }
    }

    fn string<const N: usize>(
        &mut self,
        name: &'static str,
        field: impl FnOnce(&mut Config) -> &mut String<N>,
    ) {
        self.with(name, |c, v| {
            let f = field(c);
            f.clear();
            f.push_str(v).map_err(|_| "a shorter value")
        });
    }

    fn number(
        &mut self,
        name: &'static str,
        expected: &'static str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let mut out = None;
        self.with(name, |_, v| match v.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => {
                out = Some(n);
                Ok(())
            }
            _ => Err(expected),
        });
        out
    }
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
