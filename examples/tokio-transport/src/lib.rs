//! A tokio transport for lamina, written against `lamina-core`'s public API alone: the core
//! encodes every request and decodes every response; this file only moves bytes between a tokio
//! `TcpStream` and the core's [`Machine`], calls the async handler, and reconnects. Handler
//! forms (typed JSON, [`Diagnostic`] errors, caught panics) are in `handler.rs`; an example
//! is `src/bin/hello.rs`.

mod handler;

use std::convert::Infallible;
use std::fmt::Display;
use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Buf;
pub use handler::{Diagnostic, json};
pub use lamina_core::Context;
use lamina_core::request::EncodeError::BufferTooSmall as TooSmall;
use lamina_core::{Config, Endpoint, Event, Input, Machine, MachineError, Recovery, error_type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Failures in a row may last this long before the runtime gives up.
const RECONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `Content-Type` of every response.
const JSON: &str = "application/json";
/// `Err` is why the runtime must exit.
type Res<T> = Result<T, String>;

/// Runs `handler` as this process's Lambda runtime; returns only when it must exit (the reason
/// logged on stderr): `AWS_LAMBDA_RUNTIME_API` missing or invalid, a 500 from the Runtime API,
/// or no connection for 10 s. `Err(e)` is reported as `/error` with `e`'s short type name (or
/// the type a [`Diagnostic`] names); a panic as `Handler.Panic`.
pub async fn run<H, E>(handler: H) -> ExitCode
where
    H: AsyncFn(&Context, Vec<u8>) -> Result<Vec<u8>, E>,
    E: Display + 'static,
{
    let error = match std::env::var("AWS_LAMBDA_RUNTIME_API").map(|v| Endpoint::parse(&v)) {
        Ok(Ok(endpoint)) => serve(endpoint, &handler).await.err().unwrap_or_default(),
        Ok(Err(e)) => format!("AWS_LAMBDA_RUNTIME_API: {}", e.as_str()),
        Err(e) => format!("AWS_LAMBDA_RUNTIME_API: {e}"),
    };
    eprintln!("lamina-tokio: {error}");
    ExitCode::FAILURE
}

/// The loop: `/next`, the handler, `/response` or `/error`, until something says stop.
async fn serve<H, E>(endpoint: Endpoint, handler: &H) -> Res<Infallible>
where
    H: AsyncFn(&Context, Vec<u8>) -> Result<Vec<u8>, E>,
    E: Display + 'static,
{
    let config = Config::default();
    let mut m = Machine::new(endpoint.clone(), config);
    let mut conn = Conn { endpoint, stream: None, failures: 0, since: None };
    let mut next_buf = vec![0u8; config.next.buffer_size()];
    let mut answer_buf = vec![0u8; config.answer.buffer_size()];
    let mut head = vec![0u8; 4096];
    loop {
        let n = encode(&mut head, |h| m.poll_next(h))?;
        // `/next` lost with the connection: poll again on a new one.
        let Ok(event) = conn.exchange(&mut m, [&head[..n], &[]], &mut next_buf).await? else {
            continue;
        };
        let id = m.context().request_id.clone();
        let mut answer = match event {
            Event::Invocation { body, warnings } => {
                warnings.messages().for_each(|w| eprintln!("lamina-tokio: {id}: {w}"));
                let event = next_buf.get(body).unwrap_or_default().to_vec();
                handler::invoke(handler, m.context(), event).await
            }
            Event::InvalidInvocation { reason } => {
                eprintln!("lamina-tokio: {id}: invalid invocation ({reason})");
                Err(Diagnostic::new(error_type::INVALID_INVOCATION, reason.as_str()))
            }
            Event::Malformed { reason } => {
                eprintln!("lamina-tokio: malformed /next response ({reason}); polling again");
                continue;
            }
            Event::Fatal { status } => return Err(format!("/next answered {status}; exiting")),
            other => return Err(format!("internal error: {other:?} after /next")),
        };
        loop {
            let (n, body) = match &answer {
                Ok(b) => (encode(&mut head, |h| m.respond(h, JSON, b.len() as u64))?, &b[..]),
                Err(d) => (encode(&mut head, |h| m.fail(h, &d.error_type, &d.message))?, &[][..]),
            };
            let log = |what: &str| eprintln!("lamina-tokio: {id}: {what}");
            match conn.exchange(&mut m, [&head[..n], body], &mut answer_buf).await? {
                Err(Recovery::Resend) => continue, // the machine allows the same answer once
                Err(_) => log("connection lost twice while answering; the answer is lost"),
                Ok(Event::Accepted) => {}
                Ok(Event::PayloadTooLarge) => {
                    let msg = "the Runtime API refused the response as too large (413)";
                    answer = Err(Diagnostic::new(error_type::RESPONSE_TOO_LARGE, msg));
                    continue;
                }
                Ok(Event::TimedOut) => log("invocation timed out (410); serving the next"),
                Ok(Event::Fatal { status }) => return Err(format!("answered {status}")),
                Ok(other) => log(&format!("answer not accepted: {other:?}")),
            }
            break;
        }
    }
}

/// Encodes with the machine into `head`, growing it when the machine asks for more room.
fn encode<F: FnMut(&mut [u8]) -> Result<usize, MachineError>>(
    head: &mut Vec<u8>,
    mut f: F,
) -> Res<usize> {
    loop {
        match f(head) {
            Err(MachineError::Encode(TooSmall { required })) => head.resize(required, 0),
            done => return done.map_err(|e| format!("internal error: {e}")),
        }
    }
}

/// One keep-alive connection, reopened with exponential backoff (10 ms doubling to 1 s).
struct Conn {
    endpoint: Endpoint,
    stream: Option<TcpStream>,
    failures: u32,
    since: Option<Instant>,
}

/// What one request got: a whole response, or a lost connection and how to recover.
type Got = Result<Event, Recovery>;

impl Conn {
    /// Counts a failure; `Err` once failures have lasted longer than the reconnect timeout.
    fn failed(&mut self, why: io::Error) -> Res<()> {
        self.failures += 1;
        match self.since.get_or_insert_with(Instant::now).elapsed() < RECONNECT_TIMEOUT {
            true => Ok(()),
            false => Err(format!("cannot reach the Runtime API: {why} (gave up after 10 s)")),
        }
    }

    async fn connect(&mut self) -> Res<TcpStream> {
        loop {
            if self.failures > 0 {
                let delay = Duration::from_millis(10 << (self.failures - 1).min(7));
                tokio::time::sleep(delay.min(Duration::from_secs(1))).await;
            }
            match TcpStream::connect((self.endpoint.host(), self.endpoint.port())).await {
                Ok(s) => return s.set_nodelay(true).map(|()| s).map_err(|e| e.to_string()),
                Err(e) => self.failed(e)?,
            }
        }
    }

    /// Sends head and body (one vectored write where it can), then reads into `buf`, feeding
    /// the machine, until it has a whole response or the connection is lost.
    async fn exchange(&mut self, m: &mut Machine, out: [&[u8]; 2], buf: &mut [u8]) -> Res<Got> {
        let internal = |e: MachineError| format!("internal error: {e}");
        let mut stream = if let Some(s) = self.stream.take() { s } else { self.connect().await? };
        if let Err(e) = stream.write_all_buf(&mut Buf::chain(out[0], out[1])).await {
            self.failed(e)?;
            return Ok(Err(m.connection_lost()));
        }
        let mut filled = 0;
        loop {
            let read = match buf.get_mut(filled..) {
                Some(room) if !room.is_empty() => stream.read(room).await,
                _ => Err(io::Error::other("response larger than the buffer")),
            };
            let input = match read {
                Ok(n) if n > 0 => {
                    filled += n;
                    m.handle(&mut buf[..filled]).map_err(internal)?
                }
                // EOF or reset: what was read still counts (a `/next` cut after its request id
                // is answered for that id); otherwise the machine says how to recover.
                end => match m.handle_eof(&mut buf[..filled]).map_err(internal)? {
                    Ok(input) => input,
                    Err(recovery) => {
                        self.failed(end.err().unwrap_or(io::ErrorKind::UnexpectedEof.into()))?;
                        return Ok(Err(recovery));
                    }
                },
            };
            match input {
                Input::NeedMore { keep } => filled = keep,
                Input::Complete { event, consumed, close } => {
                    (self.failures, self.since) = (0, None);
                    // Bytes after the response were never asked for: replace the connection.
                    if !close && consumed == filled {
                        self.stream = Some(stream);
                    }
                    return Ok(Ok(event));
                }
            }
        }
    }
}
