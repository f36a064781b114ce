#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod event_loop;
mod pool;
mod work;

use std::borrow::Cow;
use std::fmt::Display;

pub use lamina_std::handler::{Diagnostic, Handler, Output, Reply, raw, typed};
pub use lamina_std::lifecycle::Lifecycle;
pub use lamina_std::runtime::Exit;
pub use lamina_std::stream::{ResponseStream, streaming};
pub use lamina_std::{Config, ConfigError, Context, InitType, core};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
pub fn run_raw<F, Err>(handler: F) -> !
where
    F: for<'a, 'c> Fn(&'c Context, &'a [u8]) -> Result<Cow<'a, [u8]>, Err> + Send + Sync + 'static,
    Err: Display + 'static,
{
    Runtime::from_env().run(raw(handler))
}

/// Runs a streaming handler (see `lamina_std::run_streaming`).
pub fn run_streaming<F, Err>(handler: F) -> !
where
    F: Fn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Display + 'static,
{
    Runtime::from_env().run(streaming(handler))
}

/// The runtime, configured: from the environment or explicitly.
pub struct Runtime {
    config: Result<Config, ConfigError>,
    lifecycle: Lifecycle,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish()
    }
}

impl Runtime {
    /// Settings from the environment Lambda gives a runtime (errors are reported when it runs).
    pub fn from_env() -> Runtime {
        Runtime {
            config: Config::from_env(),
            lifecycle: Lifecycle::default(),
        }
    }

    /// Explicit settings.
    pub fn with_config(config: Config) -> Runtime {
        Runtime {
            config: Ok(config),
            lifecycle: Lifecycle::default(),
        }
    }

    /// Runs `hook` after SIGTERM, once in-flight invocations are answered, before exiting 0.
    /// Keep it short: Lambda allows about 500 ms. (Lambda sends SIGTERM to a runtime only when
    /// an extension is registered: see [`graceful_shutdown`](Runtime::graceful_shutdown).)
    pub fn on_shutdown(mut self, hook: impl FnOnce() + Send + 'static) -> Runtime {
        self.lifecycle.on_shutdown(hook);
        self
    }

    /// Registers an internal extension at init so that Lambda sends SIGTERM at shutdown, and
    /// sets the hook run then (see [`on_shutdown`](Runtime::on_shutdown)).
    pub fn graceful_shutdown(mut self, hook: impl FnOnce() + Send + 'static) -> Runtime {
        self.lifecycle.graceful_shutdown();
        self.lifecycle.on_shutdown(hook);
        self
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

    /// Serves `handler` until the Runtime API says to stop, then exits the process.
    pub fn run<H: Handler>(self, handler: H) -> ! {
        lamina_std::runtime::exit_process(self.serve(handler))
    }

    /// Builds the handler with `init` (its error goes to `/init/error`), then serves it; exits
    /// the process at the end.
    pub fn run_with_init<H, E, I>(self, init: I) -> !
    where
        H: Handler,
        E: Display + 'static,
        I: FnOnce(&Config) -> Result<H, E>,
    {
        lamina_std::runtime::exit_process(self.serve_with_init(init))
    }

    /// Like [`run`](Runtime::run), but returns how it ended.
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
                lamina_std::log::configure(c.log_format, c.log_level);
                c
            }
            Err(e) => return lamina_std::runtime::report_config_error(&e),
        };
        let handler = match init(&config) {
            Ok(h) => h,
            Err(e) => return lamina_std::runtime::init_failed(&config, &e),
        };
        let mut lifecycle = self.lifecycle;
        let _extension = match lifecycle.init(&config) {
            Ok(ext) => ext,
            Err(exit) => return exit,
        };
        lamina_std::panic::install(&config.endpoint);
        let exit = match event_loop::EventLoop::new(config, handler) {
            Ok(l) => l.run(),
            Err(e) => Exit::fail(format!("cannot start the event loop: {e}")),
        };
        if exit.code == 0
            && let Some(hook) = lifecycle.take_shutdown_hook()
        {
            hook();
        }
        exit
    }
}
