//! `fail` on the tokio transport: `{"error":"msg"}` fails with errorType `FailRequested`,
//! `{"panic":"msg"}` panics (`Handler.Panic`), anything else comes back as it was (after
//! `sleep_ms` milliseconds if it says so: a slow handler for concurrency tests). With
//! `LAMINA_EXAMPLE_FAIL_INIT=msg` its initialisation fails instead (`Init.Failed`).

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use lamina_tokio::{Config, Context, Diagnostic, json};
use serde_json::Value;

/// The error `fail` returns for `{"error": ...}`.
#[derive(Debug)]
struct FailRequested(String);

impl fmt::Display for FailRequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

async fn fail(_ctx: &Context, event: Value) -> Result<Value, FailRequested> {
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
    }
    if let Some(msg) = event.get("error").and_then(Value::as_str) {
        return Err(FailRequested(msg.to_string()));
    }
    if let Some(msg) = event.get("panic").and_then(Value::as_str) {
        panic!("{msg}");
    }
    Ok(event)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lamina_tokio::run_with_init(async |_: &Config| {
        match std::env::var("LAMINA_EXAMPLE_FAIL_INIT") {
            Ok(msg) => Err(Diagnostic::new("Init.Failed", msg)),
            Err(_) => Ok(json(fail)),
        }
    })
    .await
}
