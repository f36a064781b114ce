//! Async handlers on tokio (the `tokio` feature).
//!
//! An async handler is a [`Handler`] like any other: the transport calls it on the thread that
//! serves the invocation's lane (the event loop's, or lane `i`'s worker thread when
//! `AWS_LAMBDA_MAX_CONCURRENCY` > 1), and it runs the handler's future there with
//! [`Handle::block_on`] on a multi-thread tokio runtime built at init. So every behaviour of the
//! sync forms holds unchanged (init errors, panics caught and reported, streaming, SIGTERM,
//! SnapStart hooks, `_X_AMZN_TRACE_ID`), N lanes run N invocations at once, and:
//!
//! - the handler borrows its `&Context` (the future is polled on the lane's thread while the
//!   lane's buffers stay put), and its future need not be `Send`;
//! - inside it, `tokio::spawn`, timers, IO and the AWS SDK work: `block_on` enters the runtime,
//!   whose worker threads drive IO and timers and run spawned tasks;
//! - log lines from the handler's own future carry the request id (it runs on the lane's
//!   thread); a spawned task runs on a tokio worker, so spawn it with [`spawn`] (or wrap it in
//!   [`in_invocation`]) to carry the request id (and, with the `tracing` feature, the
//!   invocation's span) into its lines; `tokio::spawn(fut.in_current_span())` does the same
//!   for `tracing`.
//!
//! The runtime is the multi-thread one the program's `main` runs in when there is one
//! (`#[tokio::main]`), else one lamina builds at the first need and keeps for the life of the
//! process. A current-thread runtime cannot serve (its driver would be blocked by the
//! handler's wait): lamina then builds its own.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;

use lamina_core::{Context, Id};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::runtime::{Builder, Handle, Runtime, RuntimeFlavor};

use crate::handler::{
    Diagnostic, Handler, Output, Reply, called_without_stream, decode, error_reply, typed_reply,
};
use crate::log;
use crate::stream::ResponseStream;

struct Tokio {
    handle: Handle,
    /// Kept for the life of the process when lamina built it.
    _runtime: Option<Runtime>,
}

static TOKIO: OnceLock<Result<Tokio, String>> = OnceLock::new();

fn start() -> Result<Tokio, String> {
    if let Ok(handle) = Handle::try_current()
        && handle.runtime_flavor() == RuntimeFlavor::MultiThread
    {
        return Ok(Tokio {
            handle,
            _runtime: None,
        });
    }
    let runtime = Builder::new_multi_thread()
        .enable_all()
        .thread_name("lamina-tokio")
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    Ok(Tokio {
        handle: runtime.handle().clone(),
        _runtime: Some(runtime),
    })
}

/// The tokio runtime async handlers run on: the multi-thread runtime the calling thread is in
/// (`#[tokio::main]`), or one lamina builds at the first call and keeps. The async entry
/// points call it at init, so that a failure is reported on `/init/error`.
pub fn tokio_handle() -> io::Result<Handle> {
    match TOKIO.get_or_init(start) {
        Ok(t) => Ok(t.handle.clone()),
        Err(e) => Err(io::Error::other(e.clone())),
    }
}

/// Runs `future` to completion on this thread, inside lamina's tokio runtime (see
/// [`tokio_handle`]): what async handlers and the async init run with. Usable from a
/// synchronous handler or init too.
///
/// ```no_run
/// // A sync initialisation that needs one async call.
/// let answer = lamina_std::block_on(async { 6 * 7 });
/// assert_eq!(answer, 42);
/// ```
///
/// # Panics
///
/// When the tokio runtime cannot be started (the entry points check that at init), or when
/// called from inside a task of a tokio runtime (the handler's future, say): `.await` there.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let handle = match tokio_handle() {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    };
    if Handle::try_current().is_ok() {
        // On a thread inside a runtime (`#[tokio::main]`'s, at concurrency 1): step out of it
        // for the wait.
        tokio::task::block_in_place(|| handle.block_on(future))
    } else {
        handle.block_on(future)
    }
}

/// Starts the runtime now, as an initialisation error if it cannot start.
pub(crate) fn started() -> Result<(), Diagnostic> {
    tokio_handle()
        .map(drop)
        .map_err(|e| Diagnostic::new("Runtime.Tokio", e.to_string()))
}

/// A future that carries the current invocation's request id (and, with the `tracing`
/// feature, its span) into whatever thread polls it: see [`in_invocation`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct InInvocation<F> {
    future: Pin<Box<F>>,
    request_id: Id,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// Wraps `future` so that the log lines it writes carry the current invocation's request id
/// (and, with the `tracing` feature, are inside the invocation's span) on whatever thread it
/// runs, e.g. a task spawned on a tokio worker. [`spawn`] is `tokio::spawn` of this.
///
/// ```no_run
/// use lamina_std::{Context, in_invocation};
///
/// async fn handler(ctx: &Context, _event: serde_json::Value) -> Result<(), std::io::Error> {
///     let task = tokio::spawn(in_invocation(async {
///         log::info!("from a spawned task: this line carries the request id");
///     }));
///     task.await?;
///     Ok(())
/// }
///
/// fn main() { lamina_std::run_async(handler) }
/// ```
pub fn in_invocation<F: Future>(future: F) -> InInvocation<F> {
    InInvocation {
        future: Box::pin(future),
        request_id: log::current_request_id(),
        #[cfg(feature = "tracing")]
        span: tracing::Span::current(),
    }
}

impl<F: Future> Future for InInvocation<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        #[cfg(feature = "tracing")]
        let _span = this.span.enter();
        // This thread's request id is this future's while it is polled, and put back after
        // (even if it panics).
        struct Restore<'a>(&'a mut Id);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                log::swap_request_id(self.0);
            }
        }
        log::swap_request_id(&mut this.request_id);
        let _restore = Restore(&mut this.request_id);
        this.future.as_mut().poll(cx)
    }
}

/// `tokio::spawn`, with the current invocation's request id (and `tracing` span) carried into
/// the task's log lines: see [`in_invocation`].
///
/// ```no_run
/// use lamina_std::Context;
///
/// async fn handler(ctx: &Context, ids: Vec<u32>) -> Result<usize, tokio::task::JoinError> {
///     let tasks: Vec<_> = ids
///         .into_iter()
///         .map(|id| lamina_std::spawn(async move {
///             log::info!("fetching {id}"); // "<timestamp> <request id> INFO fetching 3"
///             id * 2
///         }))
///         .collect();
///     let mut done = 0;
///     for t in tasks {
///         t.await?;
///         done += 1;
///     }
///     Ok(done)
/// }
///
/// fn main() { lamina_std::run_async(handler) }
/// ```
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn` does (an async handler is always inside one).
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(in_invocation(future))
}

/// A typed async handler: see [`async_typed`].
pub struct AsyncTyped<F, E, R, Err> {
    f: F,
    _types: PhantomData<fn(E) -> (R, Err)>,
}

impl<F, E, R, Err> std::fmt::Debug for AsyncTyped<F, E, R, Err> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTyped")
            .field("event", &crate::short_type_name::<E>())
            .finish()
    }
}

/// Wraps `async fn(&Context, E) -> Result<R, Err>` (or an async closure) as a [`Handler`]: the
/// async twin of [`typed`](crate::typed).
///
/// How it runs: the transport calls it on the thread that serves the invocation's lane (the
/// event loop's, or lane `i`'s worker thread when `AWS_LAMBDA_MAX_CONCURRENCY` > 1), and it
/// runs the handler's future there with `Handle::block_on` on a multi-thread tokio runtime
/// ([`tokio_handle`]: the one `#[tokio::main]` runs, or one lamina starts at init). So:
///
/// - every behaviour of the sync forms holds unchanged (init errors, panics caught and
///   reported `Handler.Panic`, streaming, SIGTERM, SnapStart hooks, `_X_AMZN_TRACE_ID`), and N
///   lanes run N invocations at once;
/// - the handler borrows its `&Context`, and its future need not be `Send`;
/// - inside it, `tokio::spawn`, timers, IO and the AWS SDK work: the runtime's worker threads
///   drive IO and timers and run spawned tasks;
/// - its own log lines carry the request id; a spawned task runs on a tokio worker, so spawn it
///   with [`spawn`] (or wrap it in [`in_invocation`]) to keep the request id (and, with the
///   `tracing` feature, the invocation's span) on its lines; `tokio::spawn(fut.in_current_span())`
///   does the same for `tracing`.
///
/// ```no_run
/// use std::time::Duration;
/// use lamina_std::{Context, Runtime, async_typed};
///
/// async fn handler(ctx: &Context, name: String) -> Result<String, std::io::Error> {
///     tokio::time::sleep(Duration::from_millis(1)).await;
///     Ok(format!("Hello {name} from {}", ctx.request_id))
/// }
///
/// fn main() { Runtime::from_env().run(async_typed(handler)) }
/// ```
pub fn async_typed<F, E, R, Err>(f: F) -> AsyncTyped<F, E, R, Err>
where
    F: AsyncFn(&Context, E) -> Result<R, Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    R: Serialize + 'static,
    Err: Into<Diagnostic> + 'static,
{
    AsyncTyped {
        f,
        _types: PhantomData,
    }
}

impl<F, E, R, Err> Handler for AsyncTyped<F, E, R, Err>
where
    F: AsyncFn(&Context, E) -> Result<R, Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    R: Serialize + 'static,
    Err: Into<Diagnostic> + 'static,
{
    fn call<'a>(&self, ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        match decode::<E>(event, out) {
            Some(event) => typed_reply(block_on((self.f)(ctx, event)), out),
            None => Reply::Error,
        }
    }
}

/// A raw-bytes async handler: see [`async_raw`].
pub struct AsyncRaw<F, Err> {
    f: F,
    _types: PhantomData<fn() -> Err>,
}

impl<F, Err> std::fmt::Debug for AsyncRaw<F, Err> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsyncRaw")
    }
}

/// Wraps `async fn(&Context, &[u8]) -> Result<Vec<u8>, Err>` as a [`Handler`]: the event's
/// bytes in, the response's out (`application/octet-stream`).
///
/// ```no_run
/// use lamina_std::Context;
///
/// async fn upper(_ctx: &Context, event: &[u8]) -> Result<Vec<u8>, std::io::Error> {
///     Ok(event.to_ascii_uppercase())
/// }
///
/// fn main() { lamina_std::Runtime::from_env().run(lamina_std::async_raw(upper)) }
/// ```
pub fn async_raw<F, Err>(f: F) -> AsyncRaw<F, Err>
where
    F: AsyncFn(&Context, &[u8]) -> Result<Vec<u8>, Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    AsyncRaw {
        f,
        _types: PhantomData,
    }
}

impl<F, Err> Handler for AsyncRaw<F, Err>
where
    F: AsyncFn(&Context, &[u8]) -> Result<Vec<u8>, Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    fn call<'a>(&self, ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        match block_on((self.f)(ctx, event)) {
            Ok(body) => {
                out.body = body;
                Reply::Output
            }
            Err(e) => error_reply(e.into(), out),
        }
    }

    fn content_type(&self) -> &str {
        "application/octet-stream"
    }
}

/// A streaming async handler: see [`async_streaming`].
pub struct AsyncStreaming<F, Err> {
    f: F,
    _types: PhantomData<fn() -> Err>,
}

impl<F, Err> std::fmt::Debug for AsyncStreaming<F, Err> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsyncStreaming")
    }
}

/// Wraps `async fn(&Context, &[u8], &mut ResponseStream) -> Result<(), Err>` as a streaming
/// [`Handler`] (the async twin of [`streaming`](crate::streaming)).
///
/// The stream's writes are the blocking ones of [`ResponseStream`]: they wait for the socket
/// on the lane's thread, which runs this invocation's future and nothing else (spawned tasks
/// and other invocations go on meanwhile), exactly as a sync streaming handler does.
///
/// ```no_run
/// use std::io::Write;
/// use std::time::Duration;
/// use lamina_std::{Context, ResponseStream};
///
/// async fn ticks(_ctx: &Context, _event: &[u8], out: &mut ResponseStream<'_>)
///     -> std::io::Result<()>
/// {
///     for i in 0..3 {
///         tokio::time::sleep(Duration::from_millis(100)).await;
///         writeln!(out, "tick {i}")?;
///     }
///     Ok(())
/// }
///
/// fn main() { lamina_std::run_async_streaming(ticks) }
/// ```
pub fn async_streaming<F, Err>(f: F) -> AsyncStreaming<F, Err>
where
    F: AsyncFn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    AsyncStreaming {
        f,
        _types: PhantomData,
    }
}

impl<F, Err> Handler for AsyncStreaming<F, Err>
where
    F: AsyncFn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    fn call<'a>(&self, _ctx: &Context, _event: &'a [u8], out: &mut Output) -> Reply<'a> {
        called_without_stream(out)
    }

    fn streams(&self) -> bool {
        true
    }

    fn call_streaming<'a>(
        &self,
        ctx: &Context,
        event: &'a [u8],
        stream: &mut ResponseStream<'_>,
        out: &mut Output,
    ) -> Reply<'a> {
        match block_on((self.f)(ctx, event, stream)) {
            Ok(()) => Reply::Output,
            Err(e) => error_reply(e.into(), out),
        }
    }
}
