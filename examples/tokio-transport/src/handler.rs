//! Handler forms on top of the raw transport: calling a handler (panics caught), errors with a
//! chosen `errorType`, typed JSON handlers, and the `_X_AMZN_TRACE_ID` the handler sees.

use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::task::{self, Poll};

use lamina_core::{Context, error_type};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The variable that carries the invocation's X-Ray trace id.
const TRACE: &str = "_X_AMZN_TRACE_ID";

/// A raw handler: `async fn(&Context, Vec<u8>) -> Result<Vec<u8>, E>` (an async closure works),
/// whose `Err(e)` is reported on `/error` with `e`'s short type name (or the type a
/// [`Diagnostic`] names) and `e`'s `Display`.
pub trait Handler<E>: AsyncFn(&Context, Vec<u8>) -> Result<Vec<u8>, E> {}

impl<E, F: AsyncFn(&Context, Vec<u8>) -> Result<Vec<u8>, E>> Handler<E> for F {}

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

/// Wraps `async fn(&Context, E) -> Result<R, Err>` as a raw handler for [`run`](crate::run)
/// (or the one [`run_with_init`](crate::run_with_init)'s init returns):
/// an event that does not deserialize is an `InvalidEvent` error, a response that does not
/// serialize an `InvalidResponse` one, and `Err(e)` is reported with `e`'s short type name.
pub fn json<F, E, R, Err>(f: F) -> impl Handler<Diagnostic>
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

/// Calls the handler: `Err(e)` or a panic (in an unwind build) becomes the error to report.
/// (A response over `LAMINA_MAX_RESPONSE_BYTES` is the driver's to refuse.)
pub(crate) async fn invoke<H, E>(
    h: &H,
    ctx: &Context,
    event: Vec<u8>,
) -> Result<Vec<u8>, Diagnostic>
where
    H: Handler<E>,
    E: Display + 'static,
{
    match CatchUnwind(pin!(h(ctx, event))).await {
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

/// Sets `_X_AMZN_TRACE_ID` to the invocation's trace id, or removes it (the loop calls it at
/// start, and before each invocation when [`Driver::sets_trace_env`] says so: one at a time).
///
/// `std::env::set_var` is the simple choice for an example; glibc keeps every distinct value
/// ever set (about 116 bytes per invocation), where the mio transport rewrites one buffer.
///
/// [`Driver::sets_trace_env`]: lamina_core::Driver::sets_trace_env
pub(crate) fn set_trace(trace: Option<&str>) {
    // SAFETY: this runtime touches the environment from the task that runs the handlers only,
    // between invocations; a handler that reads it from threads of its own races with this, as
    // with any runtime that sets `_X_AMZN_TRACE_ID`.
    unsafe {
        match trace.filter(|t| !t.contains('\0')) {
            Some(t) => std::env::set_var(TRACE, t),
            None => std::env::remove_var(TRACE),
        }
    }
}
