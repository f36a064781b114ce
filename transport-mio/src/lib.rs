#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod event_loop;
#[cfg(feature = "workers")]
mod pool;

use std::borrow::Cow;
use std::fmt::Display;

pub use lamina_std::{
    Config, Context, Diagnostic, Handler, Output, Reply, ResponseStream, core, raw, streaming,
    typed,
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
    Err: Display + 'static,
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
    Err: Display + 'static,
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
    Err: Display + 'static,
{
    Runtime::from_env().run(streaming(handler))
}
