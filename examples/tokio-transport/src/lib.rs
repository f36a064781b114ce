//! A tokio transport for lamina, written against `lamina-core`'s public API alone: a loop
//! around the [`Driver`]'s verbs, which make every protocol decision. One invocation at a time.
//! Handler forms (typed JSON, [`Diagnostic`] errors, caught panics, `_X_AMZN_TRACE_ID`) are in
//! `handler.rs`.

mod handler;

use std::fmt::{Debug, Display};
use std::io;
use std::process::ExitCode;

use bytes::Buf;
pub use handler::{Diagnostic, Handler, json};
use lamina_core::{Action, Answer, BufferTooSmall, Connection, Driver, Input, Lane, Now};
pub use lamina_core::{Config, Context};
use lamina_core::{Options, Reading, SubmitError};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};

/// Runs `handler` as this process's Lambda runtime; see [`run_with_init`].
pub async fn run<E: Display + 'static>(handler: impl Handler<E>) -> ExitCode {
    run_with_init(async move |_: &Config| Ok::<_, Diagnostic>(handler)).await
}

/// Runs `init` (an `Err` goes to `/init/error`), then serves invocations with the handler it
/// returned; returns the exit code when the driver says stop, the reason on stderr.
pub async fn run_with_init<I, IE, H, E>(init: I) -> ExitCode
where
    I: AsyncFnOnce(&Config) -> Result<H, IE>,
    IE: Display + 'static,
    H: Handler<E>,
    E: Display + 'static,
{
    handler::set_trace(None); // never an inherited value
    let config = match Config::from_lookup(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => return fatal(e),
    };
    let mut lanes = [Lane::default()];
    let options = Options { max_lanes: 1, graceful_shutdown: false };
    let Ok(mut d) = Driver::new(config, options, &mut lanes) else { return fatal("no lane") };
    // The lane's output buffer goes unchanged to every verb that encodes for it (a resend
    // writes the same bytes again); `filled` bytes are read into the buffer `reading` names.
    let (mut out, mut body, mut conn, mut filled) = (Vec::new(), Vec::new(), None, 0);
    let (mut event, mut reply) = (vec![0; d.event_buffer_size()], vec![0; d.reply_buffer_size()]);
    let (mut init, mut handler, mut last_error) = (Some(init), None, None);
    loop {
        while let Some(action) = d.poll_action() {
            match action {
                Action::Init => {
                    let Some(init) = init.take() else { continue };
                    match init(d.config()).await.map_err(|e| Diagnostic::from_error(&e)) {
                        Ok(h) => {
                            handler = Some(h);
                            internal(d.phase_done());
                        }
                        Err(e) => {
                            let (ty, msg) = (&e.error_type, &e.message);
                            internal(encode(&mut out, |o| d.phase_failed(ty, msg, o)));
                        }
                    }
                }
                Action::BeforeSnapshot | Action::AfterRestore => internal(d.phase_done()),
                Action::Invoke { lane, event: at } => {
                    let (Some(h), Some(ctx)) = (&handler, d.context(lane)) else { continue };
                    if d.sets_trace_env() {
                        handler::set_trace(ctx.xray_trace_id.as_deref());
                    }
                    let done = handler::invoke(h, ctx, event.get(at).unwrap_or_default().to_vec())
                        .await
                        .map(|b| body = b);
                    let answer = match &done {
                        Ok(()) => Answer::Response { content_type: JSON, len: body.len() as u64 },
                        Err(e) => Answer::Error { error_type: &e.error_type, message: &e.message },
                    };
                    internal(encode(&mut out, |o| d.submit(lane, answer, o)));
                }
                Action::Log(n) if n.level() >= d.config().log_level => {
                    let id = n.request_id().map(|id| format!("{id}: ")).unwrap_or_default();
                    eprintln!("lamina-tokio: {} {id}{n}", n.level().as_str());
                }
                Action::Log(_) => {}
                Action::Exit(exit) if exit.code() == 0 => return ExitCode::SUCCESS,
                Action::Exit(exit) => {
                    let why = last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default();
                    eprintln!("lamina-tokio: {exit}{why}");
                    return ExitCode::from(exit.code() as u8);
                }
            }
        }
        let now = Now::system();
        let room = |e: BufferTooSmall| SubmitError::BufferTooSmall { required: e.required };
        if let Ok(Some(t)) = encode(&mut out, |o| d.poll_transmit(0, now, o).map_err(room)) {
            if t.connection == Connection::New {
                let ep = &d.config().endpoint;
                let new = TcpStream::connect((ep.host(), ep.port())).await;
                match new.and_then(|c| c.set_nodelay(true).map(|()| c)) {
                    Ok(c) => (conn, last_error) = (Some(c), None),
                    Err(e) => {
                        (conn, last_error) = (None, Some(e));
                        d.connect_failed(0, Now::system());
                        continue;
                    }
                }
            }
            filled = 0;
            let mut bytes = out[..t.len].chain(if t.body { &body[..] } else { &[] });
            let written = match conn.as_mut() {
                Some(c) => c.write_all_buf(&mut bytes).await.is_ok(), // one vectored write
                None => false,
            };
            if written {
                d.transmitted(0, Now::system());
            } else {
                conn = None;
                d.connection_lost(0, Now::system());
            }
            continue; // see what that caused before waiting
        }
        let deadline = d.poll_timeout().map(|t| Instant::now() + t.duration_from(Now::system()));
        tokio::select! {
            Some(_) = async { Some(conn.as_ref()?.readable().await) } => {
                let buf = if d.reading(0) == Reading::Event { &mut event } else { &mut reply };
                read(&mut d, &mut conn, buf, &mut filled);
            }
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                d.handle_timeout(Now::system());
            }
            else => return fatal("internal error: nothing to wait for"),
        }
    }
}

/// The `Content-Type` of every response.
const JSON: &str = "application/json";

/// Runs an encoding verb on `out`, growing it (its bytes kept) until the verb fits.
fn encode<T>(
    out: &mut Vec<u8>,
    mut verb: impl FnMut(&mut [u8]) -> Result<T, SubmitError>,
) -> Result<T, SubmitError> {
    loop {
        match verb(out) {
            Err(SubmitError::BufferTooSmall { required }) if required > out.len() => {
                out.resize(required, 0);
            }
            done => return done,
        }
    }
}

/// Reads what is there into `buf` after its `filled` bytes and feeds it to the driver; drops
/// the connection on EOF or reset (after feeding what was read), or when the driver says so.
fn read(d: &mut Driver<'_>, conn: &mut Option<TcpStream>, buf: &mut [u8], filled: &mut usize) {
    let n = match conn.as_ref().map(|c| c.try_read(&mut buf[*filled..])) {
        Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
        Some(Ok(n)) => n,
        _ => 0, // EOF or reset
    };
    let (buf, now) = (&mut buf[..*filled + n], Now::system());
    if n == 0 {
        d.handle_eof(0, buf, now);
        (*filled, *conn) = (0, None);
        return;
    }
    match d.handle_input(0, buf, now) {
        Input::NeedMore { keep } => *filled = keep,
        Input::Done => *filled = 0,
        Input::Close => (*filled, *conn) = (0, None),
    }
}

/// A verb refused: a bug in this loop.
fn internal<E: Debug>(r: Result<(), E>) {
    if let Err(e) = r {
        eprintln!("lamina-tokio: internal error: {e:?}");
    }
}

fn fatal(why: impl Display) -> ExitCode {
    eprintln!("lamina-tokio: {why}");
    ExitCode::FAILURE
}
