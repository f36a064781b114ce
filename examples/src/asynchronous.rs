//! The example functions as async handlers (the `tokio` feature), for the `async-*` binaries:
//! the same behaviour as their sync twins, with tokio's timers, sockets and tasks inside.
//!
//! - [`fail`] also understands `{"spawn_log": "text"}`: a task spawned with
//!   `lamina_mio::spawn` logs `spawned: text` (the line carries the request id) and is
//!   awaited; `{"join": n}` runs n sleeping tasks at once.
//! - [`http_get`] (`async-http`): `{"url": "http://127.0.0.1:PORT/path"}` → `{"status": 200,
//!   "body": "..."}`, fetched with tokio's `TcpStream` within the invocation's remaining time.

use std::convert::Infallible;
use std::time::Duration;

use lamina_std::{Context, Diagnostic, ResponseStream};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{FailRequested, MyError, MyEvent, StreamFailed};

/// `{"name":"World"}` → `"Hello World!"`, after yielding to the runtime once.
pub async fn hello(_ctx: &Context, event: MyEvent) -> Result<String, MyError> {
    tokio::task::yield_now().await;
    Ok(format!("Hello {}!", event.name))
}

/// The event's bytes back.
pub async fn echo(_ctx: &Context, event: &[u8]) -> Result<Vec<u8>, Infallible> {
    Ok(event.to_vec())
}

/// The async [`gate`](crate::gate): connects to `addr` and waits (at most 10 s) for a byte or
/// the close, on tokio's sockets.
pub async fn gate(addr: &str) {
    let wait = async {
        if let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await {
            let _ = conn.read(&mut [0u8; 1]).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
}

/// [`fail`](crate::fail), async: fails, panics, logs from spawned tasks or echoes, as the event
/// says (`sleep_ms` sleeps on tokio's timer).
pub async fn fail(_ctx: &Context, event: Value) -> Result<Value, FailRequested> {
    log::info!(
        "fail: event received ({} keys)",
        event.as_object().map_or(0, |o| o.len())
    );
    if let Some(addr) = event.get("gate").and_then(Value::as_str) {
        gate(addr).await;
    }
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
    }
    if let Some(text) = event.get("spawn_log").and_then(Value::as_str) {
        let text = text.to_string();
        let task = lamina_mio::spawn(async move {
            tokio::task::yield_now().await;
            log::info!("spawned: {text}");
        });
        task.await
            .map_err(|e| FailRequested(format!("the task failed: {e}")))?;
    }
    if let Some(n) = event.get("join").and_then(Value::as_u64) {
        let tasks: Vec<_> = (0..n.min(100))
            .map(|i| {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.map_err(|e| FailRequested(e.to_string()))?;
        }
        return Ok(json!({ "sum": sum }));
    }
    if let Some(msg) = event.get("error").and_then(Value::as_str) {
        return Err(FailRequested(msg.to_string()));
    }
    if let Some(msg) = event.get("panic").and_then(Value::as_str) {
        panic!("{msg}");
    }
    Ok(event)
}

/// The context, the function's settings (read in the handler with `lamina_mio::config()`) and
/// the trace variable, as JSON.
pub async fn context(ctx: &Context, _event: serde::de::IgnoredAny) -> Result<Value, Infallible> {
    tokio::task::yield_now().await;
    Ok(crate::context(lamina_mio::config(), ctx))
}

/// [`stream`](crate::stream), async: 10 chunks, `pause_ms` apart on tokio's timer.
pub async fn stream(
    _ctx: &Context,
    event: &[u8],
    out: &mut ResponseStream<'_>,
) -> std::io::Result<()> {
    out.set_content_type("text/plain")?;
    let pause = crate::pause(event);
    for i in 0..10 {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        out.write(format!("chunk {i}\n").as_bytes())?;
        if i == 0
            && let Some(addr) = crate::str_field(event, "gate")
        {
            gate(addr).await;
        }
    }
    Ok(())
}

/// [`stream_fail`](crate::stream_fail), async: 3 chunks, then the error in the trailers.
pub async fn stream_fail(
    _ctx: &Context,
    event: &[u8],
    out: &mut ResponseStream<'_>,
) -> Result<(), StreamFailed> {
    let pause = crate::pause(event);
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        out.write(format!("chunk {i}\n").as_bytes())
            .map_err(|e| StreamFailed(e.to_string()))?;
    }
    Err(StreamFailed("failed after 3 chunks".into()))
}

/// `async-http`'s event.
#[derive(Debug, Deserialize)]
pub struct Fetch {
    /// `http://HOST:PORT/PATH` (plain HTTP/1.1; no TLS in this example).
    pub url: String,
}

/// Why a fetch failed.
#[derive(Debug)]
pub enum FetchError {
    /// The URL is not `http://host:port/path`.
    BadUrl(String),
    /// Connecting, writing or reading failed.
    Io(std::io::Error),
    /// The invocation's deadline came first.
    Timeout,
}

impl From<FetchError> for Diagnostic {
    fn from(e: FetchError) -> Diagnostic {
        match e {
            FetchError::BadUrl(url) => {
                Diagnostic::new("Fetch.BadUrl", format!("not http://host:port/path: {url}"))
            }
            FetchError::Io(e) => Diagnostic::new("Fetch.Io", e.to_string()),
            FetchError::Timeout => Diagnostic::new("Fetch.Timeout", "the deadline came first"),
        }
    }
}

/// Fetches `url` with a plain HTTP/1.1 GET on tokio's `TcpStream`, bounded by the time the
/// invocation has left (a spawned task does the fetch; the handler awaits it).
pub async fn http_get(ctx: &Context, event: Fetch) -> Result<Value, FetchError> {
    let rest = event
        .url
        .strip_prefix("http://")
        .ok_or_else(|| FetchError::BadUrl(event.url.clone()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    };
    let fetch = lamina_mio::spawn(async move {
        let mut conn = tokio::net::TcpStream::connect(&authority).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        conn.read_to_end(&mut response).await?;
        log::info!("fetched {} bytes from {authority}", response.len());
        Ok::<_, std::io::Error>(response)
    });
    // Emulators send deadlines in 1970: give those 10 s.
    let left = ctx.remaining();
    let left = if left.is_zero() {
        Duration::from_secs(10)
    } else {
        left
    };
    let response = tokio::time::timeout(left, fetch)
        .await
        .map_err(|_| FetchError::Timeout)?
        .map_err(|e| FetchError::Io(std::io::Error::other(e)))?
        .map_err(FetchError::Io)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(json!({ "status": status, "body": body }))
}
