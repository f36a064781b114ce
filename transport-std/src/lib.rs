#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod config;
pub mod conn;
pub mod exchange;
pub mod handler;
pub mod lifecycle;
pub mod log;
pub mod panic;
pub mod runtime;
pub mod sigterm;
pub mod stream;
pub mod trace;

use std::borrow::Cow;
use std::fmt::Display;

pub use config::{Config, ConfigError, InitType};
pub use handler::{Diagnostic, Handler, Output, Reply, raw, typed};
pub use lamina_core::{self as core, Context};
pub use runtime::Exit;
use serde::Serialize;
use serde::de::DeserializeOwned;
pub use stream::{ResponseStream, streaming};

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
    Err: Display + 'static,
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
    Err: Display + 'static,
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
    Err: Display + 'static,
{
    Runtime::from_env().run(streaming(handler))
}

/// The runtime, configured: from the environment or explicitly.
#[derive(Debug)]
pub struct Runtime {
    config: Result<Config, ConfigError>,
    lifecycle: lifecycle::Lifecycle,
}

impl Runtime {
    /// Settings from the environment Lambda gives a runtime (errors are reported when it runs).
    pub fn from_env() -> Runtime {
        Runtime {
            config: Config::from_env(),
            lifecycle: lifecycle::Lifecycle::default(),
        }
    }

    /// Explicit settings (tests, custom environments).
    pub fn with_config(config: Config) -> Runtime {
        Runtime {
            config: Ok(config),
            lifecycle: lifecycle::Lifecycle::default(),
        }
    }

    /// The settings, when they could be read.
    pub fn config(&self) -> Result<&Config, &ConfigError> {
        self.config.as_ref()
    }

    /// Adds a hook run before a SnapStart snapshot (last registered runs first); its error is
    /// reported on `/init/error`.
    pub fn before_snapshot<E: Display + 'static>(
        mut self,
        hook: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) -> Runtime {
        self.lifecycle.before_snapshot(hook);
        self
    }

    /// Adds a hook run after a SnapStart restore (first registered runs first); its error is
    /// reported on `/restore/error` and the process exits.
    pub fn after_restore<E: Display + 'static>(
        mut self,
        hook: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) -> Runtime {
        self.lifecycle.after_restore(hook);
        self
    }

    /// Registers an internal extension at init so that Lambda sends SIGTERM at shutdown; then
    /// `hook` runs (keep it under ~500 ms) once the in-flight invocation is answered, and the
    /// process exits 0.
    pub fn graceful_shutdown(mut self, hook: impl FnOnce() + Send + 'static) -> Runtime {
        self.lifecycle.graceful_shutdown();
        self.lifecycle.on_shutdown(hook);
        self
    }

    /// Serves `handler` until the Runtime API says to stop, then exits the process.
    pub fn run<H: Handler>(self, handler: H) -> ! {
        runtime::exit_process(self.serve(handler))
    }

    /// Builds the handler with `init` (its error goes to `/init/error`), then serves it; exits
    /// the process at the end.
    pub fn run_with_init<H, E, I>(self, init: I) -> !
    where
        H: Handler,
        E: Display + 'static,
        I: FnOnce(&Config) -> Result<H, E>,
    {
        runtime::exit_process(self.serve_with_init(init))
    }

    /// Like [`run`](Runtime::run), but returns how it ended instead of exiting.
    pub fn serve<H: Handler>(self, handler: H) -> Exit {
        self.serve_with_init(|_| Ok::<_, std::convert::Infallible>(handler))
    }

    /// Like [`run_with_init`](Runtime::run_with_init), but returns how it ended.
    pub fn serve_with_init<H, E, I>(self, init: I) -> Exit
    where
        H: Handler,
        E: Display + 'static,
        I: FnOnce(&Config) -> Result<H, E>,
    {
        let config = match self.config {
            Ok(c) => {
                log::configure(c.log_format, c.log_level);
                c
            }
            Err(e) => return runtime::report_config_error(&e),
        };
        let handler = match init(&config) {
            Ok(h) => h,
            Err(e) => return runtime::init_failed(&config, &e),
        };
        let mut lifecycle = self.lifecycle;
        let _extension = match lifecycle.init(&config) {
            Ok(ext) => ext,
            Err(exit) => return exit,
        };
        runtime::serve(&config, &handler, lifecycle.take_shutdown_hook())
    }
}
