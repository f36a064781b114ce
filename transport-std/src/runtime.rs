//! The blocking loop: poll, invoke, answer, on one keep-alive connection.

use std::fmt::{Display, Write as _};
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex};

use lamina_core::request::EncodeError;
use lamina_core::{Context, Event, Machine, MachineError, Recovery, error_type};

use crate::config::{Config, ConfigError};
use crate::conn::{Conn, GaveUp, Received};
use crate::handler::{Handler, Output, Reply};
use crate::lifecycle::report_init_error;
use crate::stream::{Streamed, invoke_streaming};
use crate::{panic, rt_log, trace};

/// How and why the runtime stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The process exit code.
    pub code: i32,
    /// Why, for the last log line.
    pub message: String,
}

impl Exit {
    /// A failure exit (code 1) saying `message`.
    pub fn fail(message: impl Into<String>) -> Exit {
        Exit {
            code: 1,
            message: message.into(),
        }
    }
}

/// Logs the exit line (when there is one) and ends the process with the exit's code.
pub fn exit_process(exit: Exit) -> ! {
    if !exit.message.is_empty() {
        let level = if exit.code == 0 {
            crate::log::Level::Info
        } else {
            crate::log::Level::Error
        };
        crate::log::log(level, format_args!("lamina: {}", exit.message));
    }
    std::process::exit(exit.code)
}

impl From<GaveUp> for Exit {
    fn from(e: GaveUp) -> Exit {
        Exit::fail(e.to_string())
    }
}

/// The exit message for a state the machine says cannot happen (a bug in lamina).
pub const INTERNAL: &str =
    "internal error: the runtime's state machine refused a step; please report this";

/// Encodes into `head`, growing it when the machine says it needs more room (only large error
/// reports ever do).
pub fn encode(
    head: &mut Vec<u8>,
    mut f: impl FnMut(&mut [u8]) -> Result<usize, MachineError>,
) -> Result<usize, Exit> {
    loop {
        match f(head) {
            Ok(n) => return Ok(n),
            Err(MachineError::Encode(EncodeError::BufferTooSmall { required })) => {
                head.resize(required, 0);
            }
            Err(_) => return Err(Exit::fail(INTERNAL)),
        }
    }
}

/// Calls the handler, turning a panic (in unwind builds) into a `Handler.Panic` error.
pub fn invoke<'a, H: Handler>(
    handler: &H,
    ctx: &Context,
    event: &'a [u8],
    out: &mut Output,
) -> Reply<'a> {
    panic::enter(ctx);
    let result = catch_unwind(AssertUnwindSafe(|| handler.call(ctx, event, out)));
    panic::leave();
    match result {
        Ok(reply) => reply,
        Err(payload) => out.error(error_type::PANIC, panic::message(&*payload)),
    }
}

/// Replaces a response over `max` bytes by an error report; never sends a truncated response.
pub fn bound_reply<'a>(reply: Reply<'a>, max: usize, out: &mut Output) -> Reply<'a> {
    let len = match reply {
        Reply::Body(b) => b.len(),
        Reply::Output => out.body.len(),
        Reply::Error => return reply,
    };
    if len <= max {
        return reply;
    }
    out.error_type.clear();
    out.error_type.push_str(error_type::RESPONSE_TOO_LARGE);
    out.message.clear();
    let _ = write!(
        out.message,
        "the response is {len} bytes, over the maximum of {max} bytes"
    );
    Reply::Error
}

/// What to send for an invocation: a reply resolved against the output it refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'x> {
    /// `/response` with this body.
    Body(&'x [u8]),
    /// `/error` with this type and message.
    Error {
        /// `errorType`.
        error_type: &'x str,
        /// `errorMessage`.
        message: &'x str,
    },
}

impl<'x> Answer<'x> {
    /// Resolves `reply` against `out`.
    pub fn of(reply: Reply<'x>, out: &'x Output) -> Answer<'x> {
        match reply {
            Reply::Body(b) => Answer::Body(b),
            Reply::Output => Answer::Body(&out.body),
            Reply::Error => Answer::Error {
                error_type: &out.error_type,
                message: &out.message,
            },
        }
    }
}

/// The message logged, and sent as the error, when the Runtime API answers 413.
pub const REFUSED_AS_TOO_LARGE: &str = "the Runtime API refused the response as too large (413)";

/// Logs what an answer's outcome means; `Some` when the runtime must exit.
pub fn log_answer(event: &Event, ctx: &Context) -> Option<Exit> {
    let id = &ctx.request_id;
    match event {
        Event::Accepted | Event::PayloadTooLarge => None,
        Event::Rejected { status } => {
            rt_log!(Warn, "invocation {id}: answer refused with status {status}");
            None
        }
        Event::TimedOut => {
            rt_log!(
                Warn,
                "invocation {id}: invocation timed out (410 Gone); serving the next one"
            );
            None
        }
        Event::AnswerUnreadable { error } => {
            rt_log!(
                Warn,
                "invocation {id}: the answer to the report could not be read ({error})"
            );
            None
        }
        Event::Fatal { status } => Some(Exit::fail(format!(
            "the Runtime API answered {status}; exiting"
        ))),
        _ => Some(Exit::fail(INTERNAL)),
    }
}

/// Sends one invocation's answer and reads the Runtime API's reply, resending once on a new
/// connection if the first copy may not have arrived, and turning a 413 into an error report.
#[allow(clippy::too_many_arguments)]
fn answer(
    conn: &mut Conn,
    machine: &mut Machine,
    head: &mut Vec<u8>,
    answer_buf: &mut [u8],
    mut reply: Answer<'_>,
    content_type: &str,
) -> Result<(), Exit> {
    loop {
        let (n, body): (usize, &[u8]) = match reply {
            Answer::Body(b) => (
                encode(head, |h| machine.respond(h, content_type, b.len() as u64))?,
                b,
            ),
            Answer::Error {
                error_type,
                message,
            } => (encode(head, |h| machine.fail(h, error_type, message))?, &[]),
        };
        let received = if conn.send(&[&head[..n], body])? {
            conn.receive(machine, answer_buf)?
        } else {
            Received::Lost(machine.connection_lost())
        };
        let event = match received {
            Received::Complete(event) => event,
            Received::Lost(Recovery::Resend) => continue,
            Received::Lost(_) => {
                rt_log!(
                    Warn,
                    "invocation {}: connection lost twice while answering; the answer may be lost",
                    machine.context().request_id
                );
                return Ok(());
            }
        };
        if let Some(exit) = log_answer(&event, machine.context()) {
            return Err(exit);
        }
        if event == Event::PayloadTooLarge {
            reply = Answer::Error {
                error_type: error_type::RESPONSE_TOO_LARGE,
                message: REFUSED_AS_TOO_LARGE,
            };
            continue;
        }
        return Ok(());
    }
}

/// Reports a configuration error: on stderr when the Runtime API itself is unknown, otherwise
/// on `/init/error` (naming the variable).
pub fn report_config_error(err: &ConfigError) -> Exit {
    if err.is_endpoint() {
        return Exit::fail(err.to_string());
    }
    // The endpoint is fine: read it again to report the other variable's error.
    match std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .and_then(|v| lamina_core::Endpoint::parse(&v).ok())
    {
        Some(ep) => report_init_error(&Config::new(ep), "Runtime.InvalidConfig", &err.to_string()),
        None => Exit::fail(err.to_string()),
    }
}

/// Turns an init closure's error into `/init/error`.
pub fn init_failed<E: Display + 'static>(config: &Config, err: &E) -> Exit {
    let mut out = Output::default();
    let _ = crate::handler::error_reply(err, &mut out);
    report_init_error(config, &out.error_type, &out.message)
}

/// Whether an invocation is in hand, and whether SIGTERM asked to stop: the SIGTERM watcher
/// waits for the first to clear before it runs the shutdown hook and exits.
static SHUTDOWN: Mutex<(bool, bool)> = Mutex::new((false, false));
static IDLE: Condvar = Condvar::new();

fn busy(in_flight: bool) {
    let mut state = SHUTDOWN.lock().unwrap_or_else(|p| p.into_inner());
    state.0 = in_flight;
    if !in_flight {
        IDLE.notify_all();
    }
}

/// Watches for SIGTERM on a thread of its own: lets the in-flight invocation finish, runs the
/// shutdown hook, exits 0.
fn watch_sigterm(hook: Option<Box<dyn FnOnce() + Send>>) {
    let Ok(mut pipe) = crate::sigterm::install() else {
        rt_log!(
            Warn,
            "SIGTERM handling unavailable: the process will stop at once on SIGTERM"
        );
        return;
    };
    let _ = pipe.set_nonblocking(false);
    let spawned = std::thread::Builder::new().spawn(move || {
        let mut byte = [0u8; 1];
        while !matches!(pipe.read(&mut byte), Ok(1)) {}
        rt_log!(
            Info,
            "SIGTERM: finishing the in-flight invocation, then exiting"
        );
        let mut state = SHUTDOWN.lock().unwrap_or_else(|p| p.into_inner());
        state.1 = true;
        while state.0 {
            state = IDLE.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        // The lock stays held: no new invocation starts while the hook runs and the process exits.
        if let Some(hook) = hook {
            hook();
        }
        rt_log!(Info, "shut down after SIGTERM");
        std::process::exit(0);
    });
    if spawned.is_err() {
        rt_log!(Warn, "SIGTERM handling unavailable: no thread for it");
    }
}

/// Serves invocations until the Runtime API says to stop or cannot be reached. SIGTERM lets
/// the in-flight invocation finish, runs `shutdown` and exits 0.
pub fn serve<H: Handler>(
    config: &Config,
    handler: &H,
    shutdown: Option<Box<dyn FnOnce() + Send>>,
) -> Exit {
    watch_sigterm(shutdown);
    if config.max_concurrency > 1 {
        rt_log!(
            Warn,
            "AWS_LAMBDA_MAX_CONCURRENCY={}: lamina-std serves one invocation at a time (lamina-mio serves several)",
            config.max_concurrency
        );
    }
    panic::install(&config.endpoint);
    let core = config.core_config();
    let mut machine = Machine::new(config.endpoint.clone(), core);
    let mut conn = Conn::new(config.endpoint.clone(), config.reconnect_timeout);
    // Every buffer is allocated once, here; a warm invocation reuses them.
    let mut next_buf = vec![0u8; core.next.buffer_size()];
    let mut answer_buf = vec![0u8; core.answer.buffer_size()];
    let mut head = vec![0u8; 4096];
    let mut out = Output::default();
    let mut ctx_copy: Option<Box<Context>> = None;
    let content_type = handler.content_type();

    loop {
        let n = match encode(&mut head, |h| machine.poll_next(h)) {
            Ok(n) => n,
            Err(exit) => return exit,
        };
        let received = match conn.send(&[&head[..n]]) {
            Ok(true) => conn.receive(&mut machine, &mut next_buf),
            Ok(false) => Ok(Received::Lost(machine.connection_lost())),
            Err(e) => Err(e),
        };
        let event = match received {
            Ok(Received::Complete(event)) => event,
            Ok(Received::Lost(_)) => continue,
            Err(e) => return e.into(),
        };
        if matches!(
            event,
            Event::Invocation { .. } | Event::InvalidInvocation { .. }
        ) {
            busy(true);
        }
        let ctx = machine.context();
        let reply = match event {
            Event::Invocation { body, warnings } => {
                for w in warnings.messages() {
                    rt_log!(Warn, "invocation {}: {w}", ctx.request_id);
                }
                if !trace::set(ctx.xray_trace_id.as_deref()) {
                    rt_log!(
                        Warn,
                        "invocation {}: _X_AMZN_TRACE_ID not set",
                        ctx.request_id
                    );
                }
                let event = next_buf.get(body).unwrap_or_default();
                if handler.streams() {
                    // The stream needs the machine while the handler reads the context.
                    let copy = ctx_copy.get_or_insert_with(Box::default);
                    (**copy).clone_from(ctx);
                    match invoke_streaming(
                        handler,
                        &mut machine,
                        copy,
                        event,
                        &mut out,
                        &mut head,
                        &mut answer_buf,
                    ) {
                        Streamed::NotStarted(reply) => Answer::of(reply, &out),
                        Streamed::Answered(answer) => {
                            if let Some(exit) = log_answer(&answer, machine.context()) {
                                return exit;
                            }
                            if answer != Event::PayloadTooLarge {
                                busy(false);
                                continue;
                            }
                            Answer::Error {
                                error_type: error_type::RESPONSE_TOO_LARGE,
                                message: REFUSED_AS_TOO_LARGE,
                            }
                        }
                    }
                } else {
                    let reply = invoke(handler, ctx, event, &mut out);
                    let reply = bound_reply(reply, config.max_response, &mut out);
                    Answer::of(reply, &out)
                }
            }
            Event::InvalidInvocation { reason } => {
                rt_log!(
                    Warn,
                    "invocation {}: invalid invocation ({reason}); reporting {}",
                    ctx.request_id,
                    error_type::INVALID_INVOCATION
                );
                Answer::Error {
                    error_type: error_type::INVALID_INVOCATION,
                    message: reason.as_str(),
                }
            }
            Event::Malformed { reason } => {
                rt_log!(Warn, "malformed /next response ({reason}); polling again");
                continue;
            }
            Event::Fatal { status } => {
                return Exit::fail(format!(
                    "the Runtime API answered /next with {status}; exiting"
                ));
            }
            _ => return Exit::fail(INTERNAL),
        };
        let answered = answer(
            &mut conn,
            &mut machine,
            &mut head,
            &mut answer_buf,
            reply,
            content_type,
        );
        busy(false);
        if let Err(exit) = answered {
            return exit;
        }
    }
}
