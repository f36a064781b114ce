#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

#[cfg(feature = "tokio")]
mod asynchronous;
mod blocking;
mod handler;
#[doc(hidden)]
pub mod log;
mod panic;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod resolve;
mod sigterm;
mod stream;
#[cfg(feature = "tracing")]
mod subscriber;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod thread;
mod trace;
pub mod transport;

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::OnceLock;

#[cfg(feature = "tokio")]
pub use asynchronous::{
    AsyncRaw, AsyncStreaming, AsyncTyped, InInvocation, async_raw, async_streaming, async_typed,
    block_on, in_invocation, spawn, tokio_handle,
};
pub use blocking::Blocking;
pub use handler::{
    Diagnostic, Handler, Layered, Next, Output, Raw, Reply, Typed, TypedStreaming, layer, raw,
    short_type_name, typed, typed_streaming,
};
pub use lamina_core::{self as core, Config, Context};
use lamina_core::{Driver, Lane, Options, lanes_needed};
use serde::Serialize;
use serde::de::DeserializeOwned;
pub use stream::{ResponseStream, Streaming, streaming};

use crate::handler::error_output;
use crate::transport::{App, Hook, Init, Transport};

/// Runs a typed handler as this process's Lambda runtime, with settings from the environment.
/// Never returns: the process exits when the Runtime API says so.
///
/// ```no_run
/// use lamina_std::Context;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyEvent { name: String }
///
/// fn my_handler(_ctx: &Context, event: MyEvent) -> Result<String, std::io::Error> {
///     Ok(format!("Hello {}!", event.name))
/// }
///
/// fn main() { lamina_std::run(my_handler) }
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

/// Runs a raw-bytes handler: the event as bytes in, the response as bytes out. Return
/// `Cow::Borrowed` to answer without allocating.
///
/// ```no_run
/// use std::borrow::Cow;
/// use std::convert::Infallible;
/// use lamina_std::Context;
///
/// fn echo<'a>(_ctx: &Context, event: &'a [u8]) -> Result<Cow<'a, [u8]>, Infallible> {
///     Ok(Cow::Borrowed(event))
/// }
///
/// fn main() { lamina_std::run_raw(echo) }
/// ```
pub fn run_raw<F, Err>(handler: F) -> !
where
    F: for<'a, 'c> Fn(&'c Context, &'a [u8]) -> Result<Cow<'a, [u8]>, Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run(raw(handler))
}

/// Runs a streaming handler: it writes its response to a [`ResponseStream`], each write sent
/// at once as one chunk.
///
/// ```no_run
/// use lamina_std::{Context, ResponseStream};
///
/// fn count(_ctx: &Context, _event: &[u8], out: &mut ResponseStream<'_>) -> std::io::Result<()> {
///     for i in 0..3 {
///         out.write(format!("line {i}\n").as_bytes())?;
///     }
///     Ok(())
/// }
///
/// fn main() { lamina_std::run_streaming(count) }
/// ```
pub fn run_streaming<F, Err>(handler: F) -> !
where
    F: Fn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run(streaming(handler))
}

/// Runs a typed streaming handler (see [`typed_streaming`]): the event deserialized, the
/// response written to a [`ResponseStream`].
///
/// ```no_run
/// use std::io::Write;
/// use lamina_std::{Context, ResponseStream};
///
/// fn countdown(_ctx: &Context, from: u32, out: &mut ResponseStream<'_>) -> std::io::Result<()> {
///     for i in (0..=from).rev() {
///         writeln!(out, "{i}")?;
///     }
///     Ok(())
/// }
///
/// fn main() { lamina_std::run_typed_streaming(countdown) }
/// ```
pub fn run_typed_streaming<F, E, Err>(handler: F) -> !
where
    F: Fn(&Context, E, &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run(typed_streaming(handler))
}

/// Runs an async typed handler (the `tokio` feature): `async fn(&Context, E) -> Result<R,
/// Err>`, on a multi-thread tokio runtime built at init (how, and what works inside: see
/// [`async_typed`]). Never returns.
///
/// ```no_run
/// use std::time::Duration;
/// use lamina_std::Context;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyEvent { name: String }
///
/// async fn my_handler(ctx: &Context, event: MyEvent) -> Result<String, std::io::Error> {
///     tokio::time::sleep(Duration::from_millis(5)).await;
///     Ok(format!("Hello {}! ({})", event.name, ctx.request_id))
/// }
///
/// fn main() { lamina_std::run_async(my_handler) }
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

/// Runs an async raw-bytes handler (see [`async_raw`]).
///
/// ```no_run
/// async fn echo(_ctx: &lamina_std::Context, event: &[u8]) -> Result<Vec<u8>, std::io::Error> {
///     Ok(event.to_vec())
/// }
///
/// fn main() { lamina_std::run_async_raw(echo) }
/// ```
#[cfg(feature = "tokio")]
pub fn run_async_raw<F, Err>(handler: F) -> !
where
    F: AsyncFn(&Context, &[u8]) -> Result<Vec<u8>, Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Runtime::from_env().run_async_with_init(async move |_| Ok::<_, Diagnostic>(async_raw(handler)))
}

/// Runs an async streaming handler (see [`async_streaming`]).
///
/// ```no_run
/// use lamina_std::{Context, ResponseStream};
///
/// async fn hello(_ctx: &Context, _event: &[u8], out: &mut ResponseStream<'_>)
///     -> std::io::Result<()>
/// {
///     out.write(b"hello ")?;
///     out.write(b"world")
/// }
///
/// fn main() { lamina_std::run_async_streaming(hello) }
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

/// Copies `src` into the start of `dst`, as far as both go. Not `copy_from_slice`: its
/// length-mismatch panic records the location of each call site, which costs a PIE binary 48
/// bytes of relocated data per site, and the file's name.
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    // SAFETY: `n` bytes are in bounds of both slices, which cannot overlap (one is borrowed
    // mutably). (A safe byte loop is not turned into a `memcpy` at this opt-level.)
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr(), n) }
}

// Boxed: the static is a pointer, not 2 KB of the binary's data.
static CONFIG: OnceLock<Box<Config>> = OnceLock::new();

/// The function's settings — name, version, memory size, log group and stream, concurrency —
/// for a handler to look at (`lambda_runtime`'s `ctx.env_config`): read from the environment
/// at the first call, as the runtime reads them at start. (A runtime built
/// [`with_lookup`](RuntimeOn::with_lookup) reads its settings through the lookup; this reads
/// the environment all the same. Copying the runtime's own would cost the lean bootstrap a
/// kilobyte.) Outside Lambda, a missing `AWS_LAMBDA_RUNTIME_API` is no error here.
///
/// ```
/// use lamina_std::Context;
///
/// fn handler(_ctx: &Context, _event: serde_json::Value) -> Result<String, std::io::Error> {
///     let settings = lamina_std::config();
///     Ok(format!("{} v{} with {} MB", settings.function_name, settings.function_version,
///         settings.memory_mb))
/// }
/// # let _ = handler(&Context::default(), serde_json::Value::Null);
/// ```
pub fn config() -> &'static Config {
    CONFIG.get_or_init(|| {
        let env = env_var;
        Box::new(Config::from_lookup(env).unwrap_or_else(|_| {
            // Not under a Runtime API: the settings are what matters here.
            Config::from_lookup(|name: &str| match name {
                "AWS_LAMBDA_RUNTIME_API" => Some("127.0.0.1:9001".to_string()),
                _ => env(name),
            })
            .expect("a literal endpoint parses")
        }))
    })
}

type Lookup = Box<dyn FnMut(&str) -> Option<String>>;

/// `std::env::var(name).ok()` for the runtime's own names (short constants, the only ones a
/// lookup is asked for): the C library's `getenv` on a name copied to the stack. std's would
/// add its environment lock and a heap path for long names to read a handful of settings once
/// at start. Like std's, a value that is not UTF-8 is `None`. (The lock only orders std's own `set_var`
/// against readers; `set_var` requires that no other thread reads the environment meanwhile,
/// through std or the C library.)
fn env_var(name: &str) -> Option<String> {
    unsafe extern "C" {
        fn getenv(name: *const std::ffi::c_char) -> *const std::ffi::c_char;
    }
    // Zero-filled past the name, so NUL-terminated (the runtime's names hold no NUL).
    let mut buf = [0u8; 64];
    if name.len() >= 64 {
        return None;
    }
    copy(&mut buf, name.as_bytes());
    // SAFETY: `buf` is a NUL-terminated name; getenv returns null or a NUL-terminated value,
    // copied at once.
    let value = unsafe { getenv(buf.as_ptr().cast()).as_ref() }?;
    // SAFETY: see above.
    let value = unsafe { std::ffi::CStr::from_ptr(value) };
    value.to_str().ok().map(str::to_owned)
}

/// The runtime on the blocking transport: [`RuntimeOn`] with [`Blocking`]. (`lamina_mio::Runtime`
/// is the same builder on the mio transport: switching is one line.)
pub type Runtime = RuntimeOn<Blocking>;

/// The runtime, configured, on transport `T`.
///
/// ```no_run
/// use lamina_std::{Runtime, typed, Context};
///
/// fn main() {
///     Runtime::from_env()
///         .graceful_shutdown(|| eprintln!("flushing before shutdown"))
///         .run_with_init(|config| {
///             let greeting = format!("Hello from {}", config.function_name);
///             Ok::<_, std::io::Error>(typed(move |_ctx: &Context, name: String| {
///                 Ok::<_, std::io::Error>(format!("{greeting}, {name}!"))
///             }))
///         })
/// }
/// ```
pub struct RuntimeOn<T> {
    lookup: Lookup,
    before_snapshot: Vec<Hook>,
    after_restore: Vec<Hook>,
    on_shutdown: Option<Box<dyn FnOnce() + Send>>,
    graceful_shutdown: bool,
    _transport: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RuntimeOn<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("before_snapshot", &self.before_snapshot.len())
            .field("after_restore", &self.after_restore.len())
            .field("graceful_shutdown", &self.graceful_shutdown)
            .finish()
    }
}

fn hook<E: Into<Diagnostic> + 'static>(f: impl FnOnce() -> Result<(), E> + Send + 'static) -> Hook {
    Box::new(move || f().map_err(error_output))
}

impl<T: Transport> RuntimeOn<T> {
    /// Settings from the environment Lambda gives a runtime (read, and their errors reported,
    /// when it runs).
    pub fn from_env() -> Self {
        Self::with_lookup(env_var)
    }

    /// Settings read through `lookup` instead of the environment (tests, custom launchers).
    pub fn with_lookup(lookup: impl FnMut(&str) -> Option<String> + 'static) -> Self {
        RuntimeOn {
            lookup: Box::new(lookup),
            before_snapshot: Vec::new(),
            after_restore: Vec::new(),
            on_shutdown: None,
            graceful_shutdown: false,
            _transport: PhantomData,
        }
    }

    /// Reads the settings now (the same ones the runtime will use).
    pub fn config(&mut self) -> Result<Config, lamina_core::StartError> {
        Config::from_lookup(&mut self.lookup)
    }

    /// Adds a hook run before a SnapStart snapshot (last registered runs first); its error is
    /// reported on `/init/error`.
    pub fn before_snapshot<E: Into<Diagnostic> + 'static>(
        mut self,
        f: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) -> Self {
        self.before_snapshot.push(hook(f));
        self
    }

    /// Adds a hook run after a SnapStart restore (first registered runs first); its error is
    /// reported on `/restore/error` and the process exits.
    pub fn after_restore<E: Into<Diagnostic> + 'static>(
        mut self,
        f: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) -> Self {
        // Kept first registered last: they run by popping (see `App::new`).
        self.after_restore.insert(0, hook(f));
        self
    }

    /// Runs `hook` after SIGTERM, once in-flight invocations are answered, before exiting 0.
    /// Keep it short: Lambda allows about 500 ms. Lambda sends SIGTERM to a runtime only when
    /// an extension is registered: see [`graceful_shutdown`](RuntimeOn::graceful_shutdown).
    pub fn on_shutdown(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.on_shutdown = Some(Box::new(hook));
        self
    }

    /// Registers an internal extension at init so that Lambda sends SIGTERM at shutdown, and
    /// sets the hook run then (see [`on_shutdown`](RuntimeOn::on_shutdown)).
    pub fn graceful_shutdown(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.graceful_shutdown = true;
        self.on_shutdown(hook)
    }

    /// Serves `handler` until the Runtime API says to stop, then exits the process.
    pub fn run<H: Handler>(self, handler: H) -> ! {
        std::process::exit(self.serve(handler))
    }

    /// Builds the handler with `init` (its error goes to `/init/error`), then serves it; exits
    /// the process at the end.
    pub fn run_with_init<H, E, I>(self, init: I) -> !
    where
        H: Handler,
        E: Into<Diagnostic> + 'static,
        I: FnOnce(&Config) -> Result<H, E> + 'static,
    {
        std::process::exit(self.serve_with_init(init))
    }

    /// Serves the async typed `handler` (the `tokio` feature; see [`crate::run_async`]
    /// and [`async_typed`]): the tokio runtime is started at init (a failure goes to
    /// `/init/error`).
    ///
    /// ```no_run
    /// use lamina_std::{Context, Runtime};
    ///
    /// async fn handler(_ctx: &Context, n: u64) -> Result<u64, std::io::Error> { Ok(n + 1) }
    ///
    /// fn main() {
    ///     Runtime::from_env()
    ///         .graceful_shutdown(|| eprintln!("bye"))
    ///         .run_async(handler)
    /// }
    /// ```
    #[cfg(feature = "tokio")]
    pub fn run_async<F, E, R, Err>(self, handler: F) -> !
    where
        F: AsyncFn(&Context, E) -> Result<R, Err> + Send + Sync + 'static,
        E: DeserializeOwned + 'static,
        R: Serialize + 'static,
        Err: Into<Diagnostic> + 'static,
    {
        self.run_async_with_init(async move |_| Ok::<_, Diagnostic>(async_typed(handler)))
    }

    /// Builds the handler with the async `init` (its error goes to `/init/error`), on the tokio
    /// runtime the handler will run on, then serves it; exits the process at the end. `init`
    /// returns any [`Handler`]: [`async_typed`], [`async_streaming`], or a sync one.
    ///
    /// ```no_run
    /// use lamina_std::{Config, Context, Runtime, async_typed};
    ///
    /// struct Client { greeting: String }
    ///
    /// async fn connect(config: &Config) -> Result<Client, std::io::Error> {
    ///     Ok(Client { greeting: format!("Hello from {}", config.function_name) })
    /// }
    ///
    /// fn main() {
    ///     Runtime::from_env().run_async_with_init(async |config: &Config| {
    ///         let client = connect(config).await?;
    ///         Ok::<_, std::io::Error>(async_typed(async move |_ctx: &Context, name: String| {
    ///             Ok::<_, std::io::Error>(format!("{}, {name}!", client.greeting))
    ///         }))
    ///     })
    /// }
    /// ```
    #[cfg(feature = "tokio")]
    pub fn run_async_with_init<H, E, I>(self, init: I) -> !
    where
        H: Handler,
        E: Into<Diagnostic> + 'static,
        I: AsyncFnOnce(&Config) -> Result<H, E> + 'static,
    {
        self.run_with_init(move |config| {
            asynchronous::started()?;
            block_on(init(config)).map_err(Into::into)
        })
    }

    /// Like [`run`](RuntimeOn::run), but returns the exit code instead of exiting.
    pub fn serve<H: Handler>(self, handler: H) -> i32 {
        self.serve_with_init(move |_| Ok::<_, std::convert::Infallible>(handler))
    }

    /// Like [`run_with_init`](RuntimeOn::run_with_init), but returns the exit code.
    pub fn serve_with_init<H, E, I>(mut self, init: I) -> i32
    where
        H: Handler,
        E: Into<Diagnostic> + 'static,
        I: FnOnce(&Config) -> Result<H, E> + 'static,
    {
        let config = match Config::from_lookup(&mut self.lookup) {
            Ok(c) => c,
            Err(e) => {
                rt_log!(Error, "{e}");
                return 1;
            }
        };
        log::configure(config.log_format, config.log_level);
        #[cfg(feature = "tracing")]
        {
            let aws_level = (self.lookup)("AWS_LAMBDA_LOG_LEVEL");
            let aws_level_set = aws_level.is_some_and(|l| core::LogLevel::parse(&l).is_some());
            log::configure_filters((self.lookup)("RUST_LOG").as_deref(), aws_level_set);
        }
        #[cfg(feature = "tracing")]
        subscriber::install();
        // An inherited trace id is never any invocation's.
        trace::clear();
        panic::install(&config.endpoint);
        let signals = match sigterm::install() {
            Ok(s) => Some(s),
            Err(e) => {
                rt_log!(
                    Warn,
                    "SIGTERM handling unavailable ({e}): the process stops at once on SIGTERM"
                );
                None
            }
        };
        let options = Options {
            max_lanes: T::max_lanes(&config),
            graceful_shutdown: self.graceful_shutdown,
        };
        // Built, not cloned (`vec![lane; n]` would link `Lane::clone`, 1.4 KB of field copies),
        // and without an iterator chain (`collect` costs another 800 bytes).
        let mut lanes = Vec::new();
        lanes.resize_with(lanes_needed(&config, &options), Lane::default);
        let mut driver = match Driver::new(config, options, &mut lanes) {
            Ok(d) => d,
            Err(e) => {
                rt_log!(Error, "internal error: {e}");
                return 1;
            }
        };
        let init: Init<H> = Box::new(move |config| init(config).map_err(error_output));
        let mut app = App::new(
            init,
            self.before_snapshot,
            self.after_restore,
            self.on_shutdown,
            signals,
        );
        T::drive(&mut driver, &mut app)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_var_reads_what_std_does() {
        for name in [
            "PATH",
            "HOME",
            "LAMINA_NO_SUCH_VARIABLE",
            "AWS_LAMBDA_RUNTIME_API",
        ] {
            assert_eq!(super::env_var(name), std::env::var(name).ok(), "{name}");
        }
    }
}
