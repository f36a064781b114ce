#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod event_loop;
#[cfg(feature = "workers")]
mod pool;

use std::borrow::Cow;

pub use lamina_std::{
    Config, Context, Diagnostic, Handler, Layered, Next, Output, Reply, ResponseStream, config,
    core, impl_diagnostic, layer, raw, short_type_name, streaming, typed, typed_streaming,
};
#[cfg(feature = "tokio")]
pub use lamina_std::{
    async_raw, async_streaming, async_typed, block_on, in_invocation, spawn, tokio_handle,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use event_loop::Mio;

/// The runtime on the mio transport: the same builder as `lamina_std::Runtime`, so switching
/// transports is one line.
///
/// ```no_run
/// use lamina_mio::{Context, Runtime, typed};
///
/// fn main() {
///     Runtime::from_env()
///         .on_shutdown(|| eprintln!("bye"))
///         .run(typed(|_ctx: &Context, name: String| Ok::<_, std::io::Error>(format!("Hi {name}"))))
/// }
/// ```
pub type Runtime = lamina_std::RuntimeOn<Mio>;

/// Runs a typed handler as this process's Lambda runtime on the mio event loop, with settings
/// from the environment. Never returns. The same signature as `lamina_std::run`, so switching
/// transports is one line.
///
/// ```no_run
/// use lamina_mio::Context;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyEvent { name: String }
///
/// fn my_handler(_ctx: &Context, event: MyEvent) -> Result<String, std::io::Error> {
///     Ok(format!("Hello {}!", event.name))
/// }
///
/// fn main() { lamina_mio::run(my_handler) }
/// ```
pub fn run<F, E, R, Err>(handler: F) -> !
where
    F: Fn(&Context, E) -> Result<R, Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    R: Serialize + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run(typed(handler))
}

/// Runs a raw-bytes handler (see `lamina_std::run_raw`).
///
/// ```no_run
/// use std::borrow::Cow;
/// use lamina_mio::Context;
///
/// fn echo<'a>(_: &Context, event: &'a [u8]) -> Result<Cow<'a, [u8]>, std::convert::Infallible> {
///     Ok(Cow::Borrowed(event))
/// }
///
/// fn main() { lamina_mio::run_raw(echo) }
/// ```
pub fn run_raw<F, Err>(handler: F) -> !
where
    F: for<'a, 'c> Fn(&'c Context, &'a [u8]) -> Result<Cow<'a, [u8]>, Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run(raw(handler))
}

/// Runs a streaming handler (see `lamina_std::run_streaming`).
///
/// ```no_run
/// use lamina_mio::{Context, ResponseStream};
///
/// fn count(_: &Context, _event: &[u8], out: &mut ResponseStream<'_>) -> std::io::Result<()> {
///     out.write(b"one\n")?;
///     out.write(b"two\n")
/// }
///
/// fn main() { lamina_mio::run_streaming(count) }
/// ```
pub fn run_streaming<F, Err>(handler: F) -> !
where
    F: Fn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run(streaming(handler))
}

/// Runs a typed streaming handler (see `lamina_std::typed_streaming`).
///
/// ```no_run
/// use std::io::Write;
/// use lamina_mio::{Context, ResponseStream};
///
/// fn lines(_: &Context, n: u32, out: &mut ResponseStream<'_>) -> std::io::Result<()> {
///     (0..n).try_for_each(|i| writeln!(out, "line {i}"))
/// }
///
/// fn main() { lamina_mio::run_typed_streaming(lines) }
/// ```
pub fn run_typed_streaming<F, E, Err>(handler: F) -> !
where
    F: Fn(&Context, E, &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run(typed_streaming(handler))
}

/// Runs an async typed handler on the mio event loop (the `tokio` feature): `async fn(&Context,
/// E) -> Result<R, Err>`. Never returns.
///
/// The event loop stays what it is (every protocol behaviour comes from the core); each
/// invocation's future runs on the thread that serves its lane (the loop's at concurrency 1,
/// lane `i`'s worker with `AWS_LAMBDA_MAX_CONCURRENCY` > 1), blocked on a multi-thread tokio
/// runtime started at init whose workers drive IO, timers and spawned tasks. So the handler
/// borrows its `&Context`, its future need not be `Send`, and `tokio::spawn`, timers and the
/// AWS SDK work inside it. Spawn with [`spawn`] to keep the request id on a task's log lines.
/// Details: `lamina_std::async_typed`.
///
/// ```no_run
/// use std::time::Duration;
/// use lamina_mio::Context;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyEvent { name: String }
///
/// async fn my_handler(ctx: &Context, event: MyEvent) -> Result<String, std::io::Error> {
///     let deadline = ctx.remaining();
///     let greeting = tokio::time::timeout(deadline, async {
///         format!("Hello {}!", event.name)
///     });
///     greeting.await.map_err(std::io::Error::other)
/// }
///
/// fn main() { lamina_mio::run_async(my_handler) }
/// ```
#[cfg(feature = "tokio")]
pub fn run_async<F, E, R, Err>(handler: F) -> !
where
    F: AsyncFn(&Context, E) -> Result<R, Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    R: Serialize + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run_async(handler)
}

/// Runs an async raw-bytes handler (see `lamina_std::async_raw`).
///
/// ```no_run
/// async fn echo(_: &lamina_mio::Context, event: &[u8]) -> Result<Vec<u8>, std::io::Error> {
///     Ok(event.to_vec())
/// }
///
/// fn main() { lamina_mio::run_async_raw(echo) }
/// ```
#[cfg(feature = "tokio")]
pub fn run_async_raw<F, Err>(handler: F) -> !
where
    F: AsyncFn(&Context, &[u8]) -> Result<Vec<u8>, Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run_async_with_init(async move |_| Ok::<_, Diagnostic>(async_raw(handler)))
}

/// Runs an async streaming handler (see `lamina_std::async_streaming`).
///
/// ```no_run
/// use std::io::Write;
/// use lamina_mio::{Context, ResponseStream};
///
/// async fn two(_: &Context, _event: &[u8], out: &mut ResponseStream<'_>) -> std::io::Result<()> {
///     writeln!(out, "one")?;
///     tokio::task::yield_now().await;
///     writeln!(out, "two")
/// }
///
/// fn main() { lamina_mio::run_async_streaming(two) }
/// ```
#[cfg(feature = "tokio")]
pub fn run_async_streaming<F, Err>(handler: F) -> !
where
    F: AsyncFn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env()
        .run_async_with_init(async move |_| Ok::<_, Diagnostic>(async_streaming(handler)))
}

/// The README's "Coming from lambda_runtime" section, whose snippets are compiled here as
/// doctests.
#[cfg(all(
    doctest,
    feature = "tokio",
    feature = "tracing",
    feature = "serde_json"
))]
#[doc = include_str!("../../docs/coming-from-lambda-runtime.md")]
mod coming_from_lambda_runtime {}

#[cfg(test)]
mod tests {
    /// The README holds the doctested section verbatim.
    #[test]
    fn readme_has_the_compiled_lambda_runtime_section() {
        let readme = include_str!("../../README.md");
        let section = include_str!("../../docs/coming-from-lambda-runtime.md");
        assert!(
            readme.contains(section.trim_end()),
            "README.md's \"Coming from lambda_runtime\" section differs from \
             docs/coming-from-lambda-runtime.md: copy the file into the README"
        );
    }
}
