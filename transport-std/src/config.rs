//! Function settings, from the environment Lambda gives a runtime or given explicitly.

use std::time::Duration;

use lamina_core::{Endpoint, EndpointError, Limits};

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

/// Everything the runtime needs to know before its first request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The Runtime API (`AWS_LAMBDA_RUNTIME_API`).
    pub endpoint: Endpoint,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory_mb: u32,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: String,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`: invocations in flight at once (1 unless set).
    pub max_concurrency: u32,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub init_type: InitType,
    /// Largest event accepted, in bytes (6 MiB; `LAMINA_MAX_EVENT_BYTES`). A larger one is
    /// drained and answered with an error.
    pub max_event: usize,
    /// Largest response sent, in bytes (6 MiB; `LAMINA_MAX_RESPONSE_BYTES`). A larger one is
    /// reported as an error, never truncated.
    pub max_response: usize,
    /// `AWS_LAMBDA_LOG_FORMAT`: `Text` (default) or `JSON`.
    pub log_format: crate::log::Format,
    /// `AWS_LAMBDA_LOG_LEVEL`: lines below it are dropped (default `INFO`).
    pub log_level: crate::log::Level,
    /// How long to keep trying to reach the Runtime API before giving up (10 s;
    /// `LAMINA_RECONNECT_TIMEOUT_MS`).
    pub reconnect_timeout: Duration,
}

/// A setting that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `AWS_LAMBDA_RUNTIME_API` is not set (or not UTF-8).
    MissingRuntimeApi,
    /// `AWS_LAMBDA_RUNTIME_API` does not parse.
    InvalidRuntimeApi(EndpointError),
    /// Another variable holds a value of the wrong form.
    InvalidVariable {
        /// The variable's name.
        name: &'static str,
        /// What was expected.
        expected: &'static str,
    },
}

impl ConfigError {
    /// Whether the Runtime API itself is unknown (so no `/init/error` can be sent).
    pub fn is_endpoint(&self) -> bool {
        matches!(
            self,
            ConfigError::MissingRuntimeApi | ConfigError::InvalidRuntimeApi(_)
        )
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::MissingRuntimeApi => f.write_str(
                "AWS_LAMBDA_RUNTIME_API is not set; lamina must run as a Lambda bootstrap \
                 (or under a local Runtime API server)",
            ),
            ConfigError::InvalidRuntimeApi(e) => {
                write!(f, "AWS_LAMBDA_RUNTIME_API is invalid: {e}")
            }
            ConfigError::InvalidVariable { name, expected } => {
                write!(f, "{name} is invalid: expected {expected}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Settings for the Runtime API at `endpoint`, with every other value at its default.
    pub fn new(endpoint: Endpoint) -> Config {
        Config {
            endpoint,
            function_name: String::new(),
            function_version: String::from("$LATEST"),
            memory_mb: 128,
            log_group: String::new(),
            log_stream: String::new(),
            max_concurrency: 1,
            init_type: InitType::OnDemand,
            max_event: Limits::NEXT.max_body,
            max_response: 6 * 1024 * 1024,
            reconnect_timeout: Duration::from_secs(10),
            log_format: crate::log::Format::Text,
            log_level: crate::log::Level::Info,
        }
    }

    /// Reads the settings Lambda gives a runtime from the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `get` (for tests, or a custom environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let api = get("AWS_LAMBDA_RUNTIME_API").ok_or(ConfigError::MissingRuntimeApi)?;
        let endpoint = Endpoint::parse(&api).map_err(ConfigError::InvalidRuntimeApi)?;
        let mut c = Config::new(endpoint);
        if let Some(v) = get("AWS_LAMBDA_FUNCTION_NAME") {
            c.function_name = v;
        }
        if let Some(v) = get("AWS_LAMBDA_FUNCTION_VERSION") {
            c.function_version = v;
        }
        if let Some(v) = get("AWS_LAMBDA_LOG_GROUP_NAME") {
            c.log_group = v;
        }
        if let Some(v) = get("AWS_LAMBDA_LOG_STREAM_NAME") {
            c.log_stream = v;
        }
        if let Some(v) = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
            c.memory_mb = number(&v, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "a size in MB")?;
        }
        if let Some(v) = get("AWS_LAMBDA_MAX_CONCURRENCY") {
            c.max_concurrency =
                number(&v, "AWS_LAMBDA_MAX_CONCURRENCY", "a number from 1 to 1024")?;
            if !(1..=1024).contains(&c.max_concurrency) {
                return Err(ConfigError::InvalidVariable {
                    name: "AWS_LAMBDA_MAX_CONCURRENCY",
                    expected: "a number from 1 to 1024",
                });
            }
        }
        if let Some(v) = get("AWS_LAMBDA_INITIALIZATION_TYPE") {
            c.init_type = match v.as_str() {
                "on-demand" | "" => InitType::OnDemand,
                "provisioned-concurrency" => InitType::ProvisionedConcurrency,
                "snap-start" => InitType::SnapStart,
                "lambda-managed-instances" => InitType::ManagedInstances,
                _ => {
                    return Err(ConfigError::InvalidVariable {
                        name: "AWS_LAMBDA_INITIALIZATION_TYPE",
                        expected: "on-demand, provisioned-concurrency, snap-start or lambda-managed-instances",
                    });
                }
            };
        }
        // Lambda validates these two; an unknown value keeps the default rather than failing.
        if let Some(f) = get("AWS_LAMBDA_LOG_FORMAT").and_then(|v| crate::log::Format::parse(&v)) {
            c.log_format = f;
        }
        if let Some(l) = get("AWS_LAMBDA_LOG_LEVEL").and_then(|v| crate::log::Level::parse(&v)) {
            c.log_level = l;
        }
        if let Some(v) = get("LAMINA_MAX_EVENT_BYTES") {
            c.max_event = number(&v, "LAMINA_MAX_EVENT_BYTES", "a size in bytes")?;
        }
        if let Some(v) = get("LAMINA_MAX_RESPONSE_BYTES") {
            c.max_response = number(&v, "LAMINA_MAX_RESPONSE_BYTES", "a size in bytes")?;
        }
        if let Some(v) = get("LAMINA_RECONNECT_TIMEOUT_MS") {
            let ms: u64 = number(&v, "LAMINA_RECONNECT_TIMEOUT_MS", "milliseconds")?;
            c.reconnect_timeout = Duration::from_millis(ms);
        }
        Ok(c)
    }

    /// The core's settings for these values.
    pub fn core_config(&self) -> lamina_core::Config {
        lamina_core::Config {
            next: Limits {
                max_body: self.max_event,
                ..Limits::NEXT
            },
            answer: Limits::ANSWER,
        }
    }
}

fn number<T: std::str::FromStr>(
    v: &str,
    name: &'static str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| ConfigError::InvalidVariable { name, expected })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn reads_lambda_settings() {
        let c = Config::from_lookup(env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "4"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"),
        ]))
        .unwrap();
        assert_eq!(c.endpoint.port(), 9001);
        assert_eq!(c.function_name, "f");
        assert_eq!(c.memory_mb, 512);
        assert_eq!(c.max_concurrency, 4);
        assert_eq!(c.init_type, InitType::SnapStart);
        assert_eq!(c.function_version, "$LATEST");
    }

    #[test]
    fn names_the_bad_variable() {
        assert_eq!(
            Config::from_lookup(env(&[])).unwrap_err(),
            ConfigError::MissingRuntimeApi
        );
        assert!(
            Config::from_lookup(env(&[("AWS_LAMBDA_RUNTIME_API", "nope")]))
                .unwrap_err()
                .is_endpoint()
        );
        let e = Config::from_lookup(env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
        ]))
        .unwrap_err();
        assert!(!e.is_endpoint());
        assert!(e.to_string().contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
        let e = Config::from_lookup(env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "0"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("AWS_LAMBDA_MAX_CONCURRENCY"));
    }
}
