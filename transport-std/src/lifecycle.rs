//! What happens around the invocation loop: `/init/error`, SnapStart's snapshot and restore
//! hooks, and graceful shutdown through an internal extension.
//!
//! - **SnapStart** (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`): before-snapshot hooks (last
//!   registered first); `GET /restore/next`, which returns once the snapshot was restored;
//!   after-restore hooks (first registered first) on fresh connections (a socket does not
//!   survive a restore: every call here opens its own, and the invocation loop connects
//!   after). A failing before-snapshot hook is an `/init/error`, a failing after-restore hook a
//!   `/restore/error`; either way the process exits non-zero. Unused hooks cost nothing.
//! - **Graceful shutdown** (opt-in): Lambda sends SIGTERM to a runtime only when an extension is
//!   registered, so the runtime registers an internal one that subscribes to no events and
//!   keeps its `GET /extension/event/next` pending on a connection of its own (init would not
//!   complete otherwise). On SIGTERM the in-flight invocation finishes, the shutdown hook runs
//!   (Lambda allows about 500 ms) and the process exits 0.

use std::fmt::Display;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use lamina_core::request::{self, ErrorTarget};
use lamina_core::response::{Limits, find_header};
use lamina_core::{Endpoint, MAX_ERROR_MESSAGE};

use crate::config::{Config, InitType};
use crate::conn::open;
use crate::exchange::{encoded, exchange};
use crate::handler::{Output, error_reply};
use crate::rt_log;
use crate::runtime::Exit;

/// A lifecycle hook: `Err` carries the error type and message to report.
pub type Hook = Box<dyn FnOnce() -> Result<(), Output> + Send>;

/// The name the internal extension registers under.
pub const EXTENSION_NAME: &str = "lamina";

/// How long the non-long-poll calls here may wait for an answer.
const ANSWER_TIMEOUT: Option<Duration> = Some(Duration::from_secs(10));

/// Hooks and options registered on a runtime's builder.
#[derive(Default)]
pub struct Lifecycle {
    before_snapshot: Vec<Hook>,
    after_restore: Vec<Hook>,
    on_shutdown: Option<Box<dyn FnOnce() + Send>>,
    graceful_shutdown: bool,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("before_snapshot", &self.before_snapshot.len())
            .field("after_restore", &self.after_restore.len())
            .field("graceful_shutdown", &self.graceful_shutdown)
            .finish()
    }
}

fn hook<E: Display + 'static>(f: impl FnOnce() -> Result<(), E> + Send + 'static) -> Hook {
    Box::new(move || {
        f().map_err(|e| {
            let mut out = Output::default();
            let _ = error_reply(&e, &mut out);
            out
        })
    })
}

/// The internal extension, registered; its pending `event/next` lives as long as this.
#[derive(Debug)]
pub struct Extension {
    /// The `Lambda-Extension-Identifier` Lambda gave it.
    pub identifier: String,
    _pending: TcpStream,
}

impl Lifecycle {
    /// Adds a hook run before a SnapStart snapshot (hooks run last registered first).
    pub fn before_snapshot<E: Display + 'static>(
        &mut self,
        f: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) {
        self.before_snapshot.push(hook(f));
    }

    /// Adds a hook run after a SnapStart restore (hooks run first registered first).
    pub fn after_restore<E: Display + 'static>(
        &mut self,
        f: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) {
        self.after_restore.push(hook(f));
    }

    /// Sets the hook run at shutdown (SIGTERM), before exiting 0.
    pub fn on_shutdown(&mut self, f: impl FnOnce() + Send + 'static) {
        self.on_shutdown = Some(Box::new(f));
    }

    /// Registers the internal extension at init, so that Lambda sends SIGTERM at shutdown.
    pub fn graceful_shutdown(&mut self) {
        self.graceful_shutdown = true;
    }

    /// Takes the shutdown hook (run once).
    pub fn take_shutdown_hook(&mut self) -> Option<Box<dyn FnOnce() + Send>> {
        self.on_shutdown.take()
    }

    /// Runs the init-time steps (extension registration, SnapStart). `Err` when the process
    /// must exit (the failure was reported).
    pub fn init(&mut self, config: &Config) -> Result<Option<Extension>, Exit> {
        let extension = if self.graceful_shutdown {
            match register(&config.endpoint) {
                Ok(ext) => Some(ext),
                Err(msg) => {
                    return Err(report_init_error(
                        config,
                        "Runtime.ExtensionRegistration",
                        &msg,
                    ));
                }
            }
        } else {
            None
        };
        if config.init_type == InitType::SnapStart {
            self.snap_start(config)?;
        }
        Ok(extension)
    }

    fn snap_start(&mut self, config: &Config) -> Result<(), Exit> {
        while let Some(h) = self.before_snapshot.pop() {
            if let Err(out) = h() {
                return Err(report_init_error(config, &out.error_type, &out.message));
            }
        }
        let ep = &config.endpoint;
        let req = encoded(|b| request::restore_next(ep, b), |e| Some(e.required))
            .map_err(|e| Exit::fail(e.to_string()))?;
        let mut buf = vec![0u8; Limits::ANSWER.buffer_size()];
        // A long poll: it returns when the snapshot is restored, however long that takes.
        match exchange(ep, &req, &mut buf, None) {
            Ok(r) if (200..300).contains(&r.status) => {}
            Ok(r) => {
                return Err(Exit::fail(format!(
                    "/restore/next answered {}; exiting",
                    r.status
                )));
            }
            Err(e) => return Err(Exit::fail(format!("/restore/next failed: {e}"))),
        }
        for h in self.after_restore.drain(..) {
            if let Err(out) = h() {
                report(ep, ErrorTarget::Restore, &out.error_type, &out.message);
                return Err(Exit::fail(format!(
                    "after-restore hook failed: {}: {}",
                    out.error_type, out.message
                )));
            }
        }
        Ok(())
    }
}

/// Sends an error report (`/init/error` or `/restore/error`) on a connection of its own; logs
/// when it cannot.
fn report(ep: &Endpoint, target: ErrorTarget<'_>, error_type: &str, message: &str) {
    let req = encoded(
        |b| request::error(ep, target, error_type, message, b),
        |e| match e {
            request::EncodeError::BufferTooSmall { required } => Some(*required),
            _ => None,
        },
    )
    .or_else(|_| {
        // An error type that cannot be a header value: report it under a safe one.
        encoded(
            |b| request::error(ep, target, lamina_core::error_type::FALLBACK, message, b),
            |e| match e {
                request::EncodeError::BufferTooSmall { required } => Some(*required),
                _ => None,
            },
        )
    });
    let mut buf = vec![0u8; Limits::ANSWER.buffer_size()];
    match req
        .map_err(std::io::Error::other)
        .and_then(|req| exchange(ep, &req, &mut buf, ANSWER_TIMEOUT))
    {
        Ok(r) if (200..300).contains(&r.status) => {}
        Ok(r) => rt_log!(Warn, "the error report was answered {}", r.status),
        Err(e) => rt_log!(Warn, "the error report could not be sent: {e}"),
    }
}

/// Reports an initialisation failure on `/init/error`; the returned `Exit` ends the process.
pub fn report_init_error(config: &Config, error_type: &str, message: &str) -> Exit {
    let message = match message.char_indices().nth(MAX_ERROR_MESSAGE) {
        Some((i, _)) => &message[..i],
        None => message,
    };
    rt_log!(Error, "init failed: {error_type}: {message}");
    report(&config.endpoint, ErrorTarget::Init, error_type, message);
    Exit::fail(format!("init failed: {error_type}: {message}"))
}

/// Registers the internal extension and leaves its `event/next` pending.
fn register(ep: &Endpoint) -> Result<Extension, String> {
    let req = encoded(
        |b| request::extension_register(ep, EXTENSION_NAME, b),
        |e| match e {
            request::EncodeError::BufferTooSmall { required } => Some(*required),
            _ => None,
        },
    )
    .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; Limits::ANSWER.buffer_size()];
    let answer = exchange(ep, &req, &mut buf, ANSWER_TIMEOUT)
        .map_err(|e| format!("extension registration failed: {e}"))?;
    if !(200..300).contains(&answer.status) {
        return Err(format!("extension registration answered {}", answer.status));
    }
    let identifier = find_header(
        buf.get(..answer.head_len).unwrap_or_default(),
        "Lambda-Extension-Identifier",
    )
    .and_then(|v| std::str::from_utf8(v).ok())
    .filter(|v| request::is_header_value(v))
    .ok_or("extension registration returned no valid Lambda-Extension-Identifier")?
    .to_string();
    let next = encoded(
        |b| request::extension_next(ep, &identifier, b),
        |e| match e {
            request::EncodeError::BufferTooSmall { required } => Some(*required),
            _ => None,
        },
    )
    .map_err(|e| e.to_string())?;
    let mut pending = open(ep).map_err(|e| format!("extension event/next: {e}"))?;
    pending
        .write_all(&next)
        .map_err(|e| format!("extension event/next: {e}"))?;
    Ok(Extension {
        identifier,
        _pending: pending,
    })
}
