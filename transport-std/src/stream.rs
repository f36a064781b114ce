//! Response streaming: a handler writes its response in pieces, each sent at once as one HTTP
//! chunk, so memory stays bounded by the piece size (Lambda accepts streams up to 200 MB).
//!
//! The stream goes out on a connection of its own (blocking, `TCP_NODELAY`), so it works the
//! same from the blocking transport, the mio loop and its worker threads. It starts lazily at
//! the first non-empty write: a handler that fails before writing anything is reported with an
//! ordinary `/error`; one that fails after is reported in the trailers
//! `Lambda-Runtime-Function-Error-Type` / `Lambda-Runtime-Function-Error-Body`.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::{self, IoSlice, Read, Write};
use std::marker::PhantomData;
use std::net::TcpStream;
use std::panic::{AssertUnwindSafe, catch_unwind};

use lamina_core::request::{self, CHUNK_END, HTTP_INTEGRATION_CONTENT_TYPE};
use lamina_core::{Context, Event, Input, Machine, error_type};

use crate::conn::{open, write_all_vectored};
use crate::handler::{Handler, Output, Reply, error_reply};
use crate::panic;
use crate::runtime::encode;

/// A response being streamed. Each [`write`](ResponseStream::write) is one chunk on the wire.
#[derive(Debug)]
pub struct ResponseStream<'a> {
    machine: &'a mut Machine,
    head: &'a mut Vec<u8>,
    conn: Option<TcpStream>,
    content_type: Cow<'static, str>,
    started: bool,
    broken: bool,
}

fn broken() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the response stream broke earlier",
    )
}

impl<'a> ResponseStream<'a> {
    fn new(machine: &'a mut Machine, head: &'a mut Vec<u8>) -> Self {
        ResponseStream {
            machine,
            head,
            conn: None,
            content_type: Cow::Borrowed("application/octet-stream"),
            started: false,
            broken: false,
        }
    }

    /// Sets the `Content-Type` (before the first write; `application/octet-stream` otherwise).
    pub fn set_content_type(
        &mut self,
        content_type: impl Into<Cow<'static, str>>,
    ) -> io::Result<()> {
        if self.started {
            return Err(io::Error::other("the stream has already started"));
        }
        self.content_type = content_type.into();
        Ok(())
    }

    /// Whether the first bytes went out.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Sends `data` as one chunk now. An empty write sends nothing (an empty chunk would end
    /// the stream).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.broken {
            return Err(broken());
        }
        let result = self.start().and_then(|()| {
            let mut size = [0u8; 20];
            let n = self
                .machine
                .stream_chunk(data.len(), &mut size)
                .map_err(io::Error::other)?;
            let conn = self.conn.as_mut().ok_or_else(broken)?;
            write_all_vectored(conn, &[size.get(..n).unwrap_or_default(), data, CHUNK_END])
        });
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// Starts the stream with the HTTP integration prelude Function URLs and API Gateway
    /// expect (status, headers, cookies, then 8 NUL bytes); the body follows with `write`.
    pub fn write_http_prelude(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        cookies: &[&str],
    ) -> io::Result<()> {
        self.set_content_type(HTTP_INTEGRATION_CONTENT_TYPE)?;
        let mut buf = Vec::new();
        let mut size = 512;
        let n = loop {
            buf.resize(size, 0);
            match request::http_prelude(status, headers, cookies, &mut buf) {
                Ok(n) => break n,
                Err(e) => size = e.required,
            }
        };
        self.write(buf.get(..n).unwrap_or_default())
    }

    fn start(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        let ct = &self.content_type;
        let machine = &mut *self.machine;
        let n = encode(self.head, |h| machine.stream_start(h, ct))
            .map_err(|e| io::Error::other(e.message))?;
        let mut conn = open(machine.endpoint())?;
        conn.write_all(self.head.get(..n).unwrap_or_default())?;
        self.conn = Some(conn);
        self.started = true;
        Ok(())
    }

    /// Ends the started stream (well, or with the error in trailers) and reads the Runtime
    /// API's answer.
    fn finish(mut self, error: Option<(&str, &str)>, answer_buf: &mut [u8]) -> Event {
        let machine = &mut *self.machine;
        let n = match error {
            None => encode(self.head, |h| machine.stream_end(h)),
            Some((t, m)) => encode(self.head, |h| machine.stream_fail(h, t, m)),
        };
        let sent = match (n, self.conn.as_mut()) {
            (Ok(n), Some(conn)) if !self.broken => conn
                .write_all(self.head.get(..n).unwrap_or_default())
                .is_ok(),
            _ => false,
        };
        if sent && let Some(conn) = self.conn.as_mut() {
            let mut filled = 0;
            while let Some(room) = answer_buf.get_mut(filled..).filter(|r| !r.is_empty()) {
                match conn.read(room) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        filled += k;
                        match machine.handle(answer_buf.get_mut(..filled).unwrap_or_default()) {
                            Ok(Input::NeedMore { keep }) => filled = keep,
                            Ok(Input::Complete { event, .. }) => return event,
                            Err(_) => break,
                        }
                    }
                }
            }
        }
        // A stream cannot be sent again: the answer is lost, which the caller logs.
        let _ = machine.connection_lost();
        Event::AnswerUnreadable {
            error: lamina_core::DecodeError::UnexpectedEof,
        }
    }
}

impl Write for ResponseStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        ResponseStream::write(self, buf).map(|()| buf.len())
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            ResponseStream::write(self, b)?;
            n += b.len();
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How a streaming invocation ended.
#[derive(Debug)]
pub enum Streamed<'a> {
    /// Nothing was streamed: answer with this reply on the main connection (an error before
    /// the first byte).
    NotStarted(Reply<'a>),
    /// The stream was sent and the Runtime API answered it (or the answer was lost:
    /// `AnswerUnreadable`).
    Answered(Event),
}

/// Runs a streaming handler. `ctx` is a copy of the machine's context (the stream needs the
/// machine while the handler reads the context).
#[allow(clippy::too_many_arguments)]
pub fn invoke_streaming<'e, H: Handler>(
    handler: &H,
    machine: &mut Machine,
    ctx: &Context,
    event: &'e [u8],
    out: &mut Output,
    head: &mut Vec<u8>,
    answer_buf: &mut [u8],
) -> Streamed<'e> {
    let mut stream = ResponseStream::new(machine, head);
    panic::enter(ctx);
    let result = catch_unwind(AssertUnwindSafe(|| {
        handler.call_streaming(ctx, event, &mut stream, out)
    }));
    panic::leave();
    let ok = match result {
        Ok(Reply::Error) => false,
        Ok(_) => true,
        Err(payload) => {
            let _ = out.error(error_type::PANIC, panic::message(&*payload));
            false
        }
    };
    if !stream.is_started() {
        if !ok {
            return Streamed::NotStarted(Reply::Error);
        }
        // Nothing written: an empty stream (or, if its connection cannot be opened, an empty
        // response on the main connection).
        if stream.start().is_err() {
            return Streamed::NotStarted(Reply::Body(&[]));
        }
    }
    if ok {
        return Streamed::Answered(stream.finish(None, answer_buf));
    }
    Streamed::Answered(stream.finish(Some((&out.error_type, &out.message)), answer_buf))
}

/// A streaming handler: `Fn(&Context, &[u8], &mut ResponseStream) -> Result<(), E>`.
pub struct Streaming<F, Err> {
    f: F,
    _types: PhantomData<fn() -> Err>,
}

impl<F, Err> std::fmt::Debug for Streaming<F, Err> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Streaming")
    }
}

/// Wraps a function that writes its response to a [`ResponseStream`] as a [`Handler`].
pub fn streaming<F, Err>(f: F) -> Streaming<F, Err>
where
    F: Fn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Display + 'static,
{
    Streaming {
        f,
        _types: PhantomData,
    }
}

impl<F, Err> Handler for Streaming<F, Err>
where
    F: Fn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Display + 'static,
{
    fn call<'a>(&self, _ctx: &Context, _event: &'a [u8], out: &mut Output) -> Reply<'a> {
        out.error(
            error_type::FALLBACK,
            "a streaming handler was called without a stream",
        )
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
        match (self.f)(ctx, event, stream) {
            Ok(()) => Reply::Output,
            Err(e) => error_reply(&e, out),
        }
    }
}
