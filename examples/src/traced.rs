//! A handler that logs through `tracing` (the `tracing` feature), for the `traced` binary:
//! lamina's subscriber writes its lines, inside the invocation's span.
//!
//! For any event it writes `processed` (fields `order_id`, `paid`, `note`), a `DEBUG` line on
//! target `lamina_examples::noisy` and one on its own target, a `WARN` through the `log`
//! facade, and `in a spawned task` from a task spawned with `.in_current_span()`; `{"long": n}`
//! also writes a line of `n` `x`s.

use lamina_std::Context;
use serde_json::Value;
use tracing::Instrument;

/// See the module docs.
pub async fn traced(_ctx: &Context, event: Value) -> Result<&'static str, tokio::task::JoinError> {
    tracing::info!(
        order_id = 42,
        paid = true,
        note = "a \"quoted\" note",
        "processed"
    );
    tracing::debug!(target: "lamina_examples::noisy", "noisy debug");
    tracing::debug!("quiet debug");
    log::warn!("through the log facade");
    if let Some(n) = event.get("long").and_then(Value::as_u64) {
        tracing::info!("{}", "x".repeat(n.min(1 << 20) as usize));
    }
    tokio::spawn(
        async {
            tokio::task::yield_now().await;
            tracing::info!(task = 1, "in a spawned task");
        }
        .in_current_span(),
    )
    .await?;
    Ok("done")
}
