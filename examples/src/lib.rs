//! The example functions' handlers, shared by their binaries (one per transport).
//!
//! - `hello`: `{"name":"World"}` gives `"Hello World!"`.
//! - `echo`: the event's bytes back, unchanged, without allocating.
//! - `fail`: `{"error":"msg"}` fails with that message, `{"panic":"msg"}` panics, anything else
//!   comes back as it was (after `sleep_ms` milliseconds, or after a [`gate`], if it says so);
//!   `LAMINA_EXAMPLE_HOOKS=1` registers SnapStart hooks (`before-1`, `before-2`, `after-1`,
//!   `after-2`; `LAMINA_EXAMPLE_FAIL_HOOK=<label>` fails one) and `LAMINA_EXAMPLE_GRACEFUL=1`
//!   turns graceful shutdown on (its hook says `shutdown hook ran`); with `LAMINA_EXAMPLE_FAIL_INIT=msg` in the environment its
//!   initialisation fails instead.
//! - `stream`: streams 10 chunks, `pause_ms` (default 100) apart (with `"gate"`, it waits at that
//!   [`gate`] after the first); `stream_fail` fails after 3.
//! - `context`: the decoded `Context`, the function settings and the `_X_AMZN_TRACE_ID` the
//!   handler saw, as JSON (a debugging aid).
//! - `port` / `std-port` (module `port`) and `async-port`: what a `lambda_runtime` port uses — an
//!   error type with `impl From<_> for Diagnostic`, an event whose field paths errors name, a
//!   layer around a streaming handler, `write!` into a stream, the function's settings.
//! - `async-*` (module `asynchronous`, the `tokio` feature): the examples above as async handlers,
//!   and `async-http`, which calls a local HTTP endpoint; `traced` (module `traced`, the
//!   `tracing` feature) logs through `tracing`.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;

#[cfg(feature = "tokio")]
pub mod asynchronous;
#[cfg(feature = "serde_json")]
pub mod port;
#[cfg(all(feature = "tracing", feature = "tokio"))]
pub mod traced;

#[cfg(feature = "serde_json")]
use lamina_std::{Config, Diagnostic};
use lamina_std::{Context, ResponseStream};
use serde::Deserialize;
#[cfg(feature = "serde_json")]
use serde_json::{Value, json};

/// The seed article's event.
#[derive(Debug, Deserialize)]
pub struct MyEvent {
    /// Who to greet.
    pub name: String,
}

/// The seed article's error.
#[derive(Debug)]
pub struct MyError(pub String);

impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Each error type's `errorType` is its name, its `errorMessage` its `Display`.
lamina_std::impl_diagnostic!(MyError, FailRequested, StreamFailed);

/// `{"name":"World"}` → `"Hello World!"`.
pub fn hello(_ctx: &Context, event: MyEvent) -> Result<String, MyError> {
    Ok(format!("Hello {}!", event.name))
}

/// The event, back as it came, borrowed: no allocation.
pub fn echo<'a>(_ctx: &Context, event: &'a [u8]) -> Result<Cow<'a, [u8]>, Infallible> {
    Ok(Cow::Borrowed(event))
}

/// The error `fail` returns for `{"error": ...}`.
#[derive(Debug)]
pub struct FailRequested(pub String);

impl fmt::Display for FailRequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "serde_json")]
/// Fails, panics or echoes, as the event says (`{"sleep_ms": n}` waits first: a slow handler
/// for concurrency tests).
pub fn fail(_ctx: &Context, event: Value) -> Result<Value, FailRequested> {
    #[cfg(feature = "log")]
    log::info!(
        "fail: event received ({} keys)",
        event.as_object().map_or(0, |o| o.len())
    );
    if let Some(addr) = event.get("gate").and_then(Value::as_str) {
        gate(addr);
    }
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(10_000)));
    }
    if let Some(msg) = event.get("error").and_then(Value::as_str) {
        return Err(FailRequested(msg.to_string()));
    }
    if let Some(msg) = event.get("panic").and_then(Value::as_str) {
        panic!("{msg}");
    }
    Ok(event)
}

/// A lifecycle hook for the `fail` example: says `hook: <label>` on stderr, and fails (type
/// `Hook.Failed`) when `LAMINA_EXAMPLE_FAIL_HOOK` names it.
#[cfg(feature = "serde_json")]
pub fn hook(label: &'static str) -> impl FnOnce() -> Result<(), Diagnostic> + Send + 'static {
    move || {
        eprintln!("hook: {label}");
        match std::env::var("LAMINA_EXAMPLE_FAIL_HOOK") {
            Ok(which) if which == label => Err(Diagnostic::new("Hook.Failed", label)),
            _ => Ok(()),
        }
    }
}

#[cfg(feature = "serde_json")]
/// `fail`'s initialisation: fails when `LAMINA_EXAMPLE_FAIL_INIT` is set.
pub fn fail_init() -> Result<(), Diagnostic> {
    match std::env::var("LAMINA_EXAMPLE_FAIL_INIT") {
        Ok(msg) => Err(Diagnostic::new("Init.Failed", msg)),
        Err(_) => Ok(()),
    }
}

#[cfg(feature = "serde_json")]
/// The context, settings and trace variable as JSON.
pub fn context(config: &Config, ctx: &Context) -> Value {
    let client_context = ctx.client_context.as_ref().map(|cc| {
        let client = cc.client.as_ref().map(|c| {
            json!({
                "installation_id": c.installation_id.as_deref(),
                "app_title": c.app_title.as_deref(),
                "app_version_name": c.app_version_name.as_deref(),
                "app_version_code": c.app_version_code.as_deref(),
                "app_package_name": c.app_package_name.as_deref(),
            })
        });
        let map = |m: &lamina_std::core::context::StringMap| -> Value {
            m.iter()
                .map(|(k, v)| (k.to_string(), Value::from(v.as_str())))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        json!({ "client": client, "custom": map(&cc.custom), "env": map(&cc.env) })
    });
    let identity = ctx.identity.as_ref().map(|i| {
        json!({
            "cognitoIdentityId": i.identity_id.as_deref(),
            "cognitoIdentityPoolId": i.identity_pool_id.as_deref(),
        })
    });
    json!({
        "request_id": ctx.request_id.as_str(),
        "deadline_ms": ctx.deadline_ms,
        "invoked_function_arn": ctx.invoked_function_arn.as_str(),
        "xray_trace_id": ctx.xray_trace_id.as_deref(),
        "client_context": client_context,
        "identity": identity,
        "tenant_id": ctx.tenant_id.as_deref(),
        "invocation_id": ctx.invocation_id.as_ref().map(|i| i.as_str()),
        "env_trace_id": std::env::var("_X_AMZN_TRACE_ID").ok(),
        "function_name": config.function_name,
        "function_version": config.function_version,
        "memory_mb": config.memory_mb,
        "log_group": config.log_group,
        "log_stream": config.log_stream,
        "max_concurrency": config.max_concurrency,
    })
}

/// Holds the handler until a test says go: connects to `addr` (`127.0.0.1:PORT`, from the
/// event's `"gate"`) and waits, at most 10 s, for one byte or the close. The accepted connection
/// tells the test that the handler runs, and the test answers when it has done what it must do
/// meanwhile (send SIGTERM, look at a half-sent stream): synchronised, never a sleep.
pub fn gate(addr: &str) {
    use std::io::Read;
    if let Ok(mut conn) = std::net::TcpStream::connect(addr) {
        let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        let _ = conn.read(&mut [0u8; 1]);
    }
}

/// The string value of `"name"` in a flat JSON event, found by a tiny scan (no serde here).
fn str_field<'a>(event: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(event).ok()?;
    let rest = text.split(&format!("\"{name}\"")).nth(1)?;
    let rest = rest.trim_start_matches([' ', ':']).strip_prefix('"')?;
    rest.split('"').next()
}

fn pause(event: &[u8]) -> std::time::Duration {
    // `{"pause_ms": n}`: a tiny scan rather than a JSON parser, so the example needs no serde.
    let text = std::str::from_utf8(event).unwrap_or("");
    let ms = text
        .split("\"pause_ms\"")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest
                .trim_start_matches([' ', ':'])
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(100u64);
    std::time::Duration::from_millis(ms.min(5_000))
}

/// Streams 10 chunks (`chunk 0` … `chunk 9`, one line each), pausing between them.
pub fn stream(_ctx: &Context, event: &[u8], out: &mut ResponseStream<'_>) -> std::io::Result<()> {
    out.set_content_type("text/plain")?;
    let pause = pause(event);
    for i in 0..10 {
        if i > 0 {
            std::thread::sleep(pause);
        }
        out.write(format!("chunk {i}\n").as_bytes())?;
        if i == 0
            && let Some(addr) = str_field(event, "gate")
        {
            gate(addr);
        }
    }
    Ok(())
}

/// The error `stream_fail` ends with.
#[derive(Debug)]
pub struct StreamFailed(pub String);

impl fmt::Display for StreamFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Streams 3 chunks, then fails: the error goes in the stream's trailers.
pub fn stream_fail(
    _ctx: &Context,
    event: &[u8],
    out: &mut ResponseStream<'_>,
) -> Result<(), StreamFailed> {
    let pause = pause(event);
    for i in 0..3 {
        if i > 0 {
            std::thread::sleep(pause);
        }
        out.write(format!("chunk {i}\n").as_bytes())
            .map_err(|e| StreamFailed(e.to_string()))?;
    }
    Err(StreamFailed("failed after 3 chunks".into()))
}
