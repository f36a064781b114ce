//! What a function ported from `lambda_runtime` uses, for the `port` (mio), `std-port` and
//! `async-port` binaries:
//!
//! - [`orders`]: an SQS-shaped event (`{"Records": [{"body": ...}]}`), so a bad event's error
//!   names the field (`Records[0].body: invalid type: ...`); an error type with its own
//!   `impl From<OrderError> for Diagnostic` (`errorType` `OrderNotFound` / `InvalidOrder`); a
//!   body `settings` answers the function's settings, read in the handler.
//! - [`report`]: a typed streaming handler writing one chunk per `writeln!`.
//! - [`timing`]: a layer around either, logging before and after each invocation.
//!
//! `LAMINA_EXAMPLE_PORT` picks what the binaries serve: unset, `layer(typed(orders), timing)`;
//! `stream`, `layer(typed_streaming(report), timing)`; `raw`, `layer(raw(echo), timing)`.

use std::fmt;
use std::io::Write;

use lamina_std::{Context, Diagnostic, Next, Reply, ResponseStream};
use serde::Deserialize;
use serde_json::{Value, json};

/// An SQS-shaped batch.
#[derive(Debug, Deserialize)]
pub struct Batch {
    /// The messages.
    #[serde(rename = "Records")]
    pub records: Vec<Message>,
}

/// One message.
#[derive(Debug, Deserialize)]
pub struct Message {
    /// `ok`, `missing`, `invalid` or `settings` (see [`orders`]).
    pub body: String,
}

/// What [`orders`] fails with.
#[derive(Debug)]
pub enum OrderError {
    /// `missing`.
    NotFound(usize),
    /// `invalid`.
    Invalid(String),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::NotFound(i) => write!(f, "message {i}: no such order"),
            OrderError::Invalid(why) => write!(f, "invalid order: {why}"),
        }
    }
}

impl std::error::Error for OrderError {}

// As a `lambda_runtime` user writes it: this conversion names the error type reported.
impl From<OrderError> for Diagnostic {
    fn from(e: OrderError) -> Diagnostic {
        let error_type = match e {
            OrderError::NotFound(_) => "OrderNotFound",
            OrderError::Invalid(_) => "InvalidOrder",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

/// What one message says to do.
fn process(i: usize, m: &Message) -> Result<Value, OrderError> {
    match m.body.as_str() {
        "missing" => Err(OrderError::NotFound(i)),
        "invalid" => Err(OrderError::Invalid(format!("message {i}"))),
        "settings" => {
            let s = lamina_std::config();
            Ok(json!({
                "function_name": s.function_name.as_str(),
                "function_version": s.function_version.as_str(),
                "memory_mb": s.memory_mb,
                "log_group": s.log_group.as_str(),
                "log_stream": s.log_stream.as_str(),
            }))
        }
        other => Ok(json!(other)),
    }
}

/// Processes each message: their results in order, or the first error.
pub fn orders(_ctx: &Context, batch: Batch) -> Result<Vec<Value>, OrderError> {
    batch
        .records
        .iter()
        .enumerate()
        .map(|(i, m)| process(i, m))
        .collect()
}

/// [`orders`], async.
#[cfg(feature = "tokio")]
pub async fn orders_async(ctx: &Context, batch: Batch) -> Result<Vec<Value>, OrderError> {
    tokio::task::yield_now().await;
    orders(ctx, batch)
}

/// [`report`]'s event.
#[derive(Debug, Deserialize)]
pub struct Report {
    /// How many lines.
    pub lines: u32,
}

/// Streams `lines` lines (`line 1 of 3`), one `writeln!` and so one chunk each.
pub fn report(_ctx: &Context, event: Report, out: &mut ResponseStream<'_>) -> std::io::Result<()> {
    out.set_content_type("text/plain")?;
    for i in 1..=event.lines.min(1000) {
        writeln!(out, "line {} of {}", i, event.lines)?;
    }
    Ok(())
}

/// [`report`] on raw bytes, async (`{"lines": n}` read with serde_json).
#[cfg(feature = "tokio")]
pub async fn report_async(
    ctx: &Context,
    event: &[u8],
    out: &mut ResponseStream<'_>,
) -> Result<(), Diagnostic> {
    let event: Report = serde_json::from_slice(event).map_err(|e| {
        Diagnostic::new(
            "InvalidEvent",
            format!("could not deserialize the event: {e}"),
        )
    })?;
    tokio::task::yield_now().await;
    Ok(report(ctx, event, out)?)
}

/// A layer: logs `layer: before` and `layer: after <reply>` around each invocation.
pub fn timing<'a>(ctx: &Context, event: &'a [u8], mut next: Next<'_, 'a>) -> Reply<'a> {
    let start = std::time::Instant::now();
    eprintln!("layer: before {} ({} bytes)", ctx.request_id, event.len());
    let reply = next.run();
    let outcome = match reply {
        Reply::Error => next.output().error_type.clone(),
        _ => "ok".to_string(),
    };
    eprintln!(
        "layer: after {} {outcome} in {:?}",
        ctx.request_id,
        start.elapsed()
    );
    reply
}
