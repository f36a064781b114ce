//! Handler forms on top of the raw transport: calling a handler (panics caught, oversized
//! responses refused), errors with a chosen `errorType`, and typed JSON handlers.

use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::task::{self, Poll};

use lamina_core::{Context, error_type};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error with an explicit `errorType`, instead of the error's Rust type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `errorType`, e.g. `"OrderNotFound"`.
    pub error_type: String,
    /// `errorMessage`.
    pub message: String,
}

impl Diagnostic {
    /// An error of type `error_type` saying `message`.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { error_type: error_type.into(), message: message.into() }
    }

    /// The error's short type name and its `Display`.
    pub fn from_error<E: Display + 'static>(err: &E) -> Self {
        match (err as &dyn std::any::Any).downcast_ref::<Diagnostic>() {
            Some(d) => d.clone(),
            None => Diagnostic::new(short_type_name::<E>(), err.to_string()),
        }
    }
}

impl Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// `my_crate::MyError` → `MyError`, `Box<dyn Error>` → `Box`, `&str` → `str`.
pub fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    let name = base.rsplit("::").next().unwrap_or(base);
    name.trim_start_matches('&').trim_start_matches("mut ")
}

/// Wraps `async fn(&Context, E) -> Result<R, Err>` as a raw handler for [`run`](crate::run):
/// an event that does not deserialize is an `InvalidEvent` error, a response that does not
/// serialize an `InvalidResponse` one, and `Err(e)` is reported with `e`'s short type name.
pub fn json<F, E, R, Err>(f: F) -> impl AsyncFn(&Context, Vec<u8>) -> Result<Vec<u8>, Diagnostic>
where
    F: AsyncFn(&Context, E) -> Result<R, Err>,
    E: DeserializeOwned,
    R: Serialize,
    Err: Display + 'static,
{
    async move |ctx: &Context, event: Vec<u8>| {
        let event: E = serde_json::from_slice(&event).map_err(|e| {
            let msg = format!("could not deserialize the event: {e}");
            Diagnostic::new(error_type::INVALID_EVENT, msg)
        })?;
        let response = f(ctx, event).await.map_err(|e| Diagnostic::from_error(&e))?;
        serde_json::to_vec(&response).map_err(|e| {
            let msg = format!("could not serialize the response: {e}");
            Diagnostic::new(error_type::INVALID_RESPONSE, msg)
        })
    }
}

/// Lambda's limit on a synchronous response.
pub const MAX_RESPONSE: usize = 6 * 1024 * 1024;

/// Calls the handler: `Err(e)`, a panic (in an unwind build) or a response over
/// [`MAX_RESPONSE`] becomes the error to report.
pub(crate) async fn invoke<H, E>(
    h: &H,
    ctx: &Context,
    event: Vec<u8>,
) -> Result<Vec<u8>, Diagnostic>
where
    H: AsyncFn(&Context, Vec<u8>) -> Result<Vec<u8>, E>,
    E: Display + 'static,
{
    match CatchUnwind(pin!(h(ctx, event))).await {
        Ok(Ok(body)) if body.len() > MAX_RESPONSE => Err(Diagnostic::new(
            error_type::RESPONSE_TOO_LARGE,
            format!("the response is {} bytes, over the maximum of {MAX_RESPONSE}", body.len()),
        )),
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(Diagnostic::from_error(&e)),
        Err(panic) => {
            let msg = match panic.downcast::<String>() {
                Ok(s) => *s,
                Err(p) => p.downcast_ref::<&str>().map_or("panic", |s| s).to_string(),
            };
            Err(Diagnostic::new(error_type::PANIC, msg))
        }
    }
}

/// A future whose panics come out as `Err` (what `futures::FutureExt::catch_unwind` does).
struct CatchUnwind<'a, F>(Pin<&'a mut F>);

impl<F: Future> Future for CatchUnwind<'_, F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
