//! Response streaming: a handler writes its response in pieces, each sent at once as one HTTP
//! chunk, so memory stays bounded by the piece size (Lambda accepts streams up to 200 MB).
//!
//! The stream owns its lane's connection from head to end (the driver's [`Stream`] encodes the
//! bytes and names the connection); it starts lazily at the first non-empty write, so a
//! handler that fails before writing anything is reported with an ordinary `/error`, and one
//! that fails after with the trailers `Lambda-Runtime-Function-Error-Type` /
//! `Lambda-Runtime-Function-Error-Body`. The writes block (the handler's thread waits for the
//! network), whichever transport runs it.

use std::borrow::Cow;
use std::io::{self, IoSlice, Write};
use std::marker::PhantomData;
use std::net::TcpStream;

use lamina_core::request::{self, CHUNK_END, HTTP_INTEGRATION_CONTENT_TYPE};
use lamina_core::{Connection, Context, Endpoint, Stream, StreamEnd, StreamError};

use crate::handler::{Diagnostic, Handler, Output, Reply, called_without_stream, error_reply};
use crate::transport::{connect, encode};

/// A response being streamed. Each [`write`](ResponseStream::write) is one chunk on the wire;
/// through [`io::Write`], each `write!` / `writeln!` (or `write_all`, or what `write` gathered
/// before a `flush`) is one chunk, however many pieces its format has.
///
/// ```no_run
/// use std::io::Write;
/// use lamina_std::{Context, ResponseStream};
///
/// fn page(_ctx: &Context, _event: &[u8], out: &mut ResponseStream<'_>) -> std::io::Result<()> {
///     // A Function URL response: status and headers first.
///     out.write_http_prelude(200, &[("content-type", "text/html")], &["session=1"])?;
///     out.write(b"<h1>Report</h1>")?; // one chunk
///     for row in 0..3 {
///         writeln!(out, "<p>row {} of {}</p>", row + 1, 3)?; // one chunk each
///     }
///     Ok(())
/// }
///
/// fn main() { lamina_std::run_streaming(page) }
/// ```
#[derive(Debug)]
pub struct ResponseStream<'a> {
    stream: Stream,
    conn: &'a mut Option<TcpStream>,
    head: &'a mut Vec<u8>,
    endpoint: &'a Endpoint,
    content_type: Cow<'static, str>,
    /// Bytes written through `io::Write` and not sent yet.
    pending: Vec<u8>,
    /// Some bytes reached the connection.
    delivered: bool,
    broken: bool,
}

fn broken() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the response stream broke earlier",
    )
}

impl<'a> ResponseStream<'a> {
    pub(crate) fn new(
        stream: Stream,
        conn: &'a mut Option<TcpStream>,
        head: &'a mut Vec<u8>,
        endpoint: &'a Endpoint,
    ) -> Self {
        ResponseStream {
            stream,
            conn,
            head,
            endpoint,
            content_type: Cow::Borrowed("application/octet-stream"),
            pending: Vec::new(),
            delivered: false,
            broken: false,
        }
    }

    /// Sets the `Content-Type` (before the first write; `application/octet-stream`
    /// otherwise). One that cannot be sent as a header value is refused.
    pub fn set_content_type(
        &mut self,
        content_type: impl Into<Cow<'static, str>>,
    ) -> io::Result<()> {
        if self.stream.is_started() {
            return Err(io::Error::other("the stream has already started"));
        }
        let content_type = content_type.into();
        if !request::is_header_value(&content_type) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the Content-Type cannot be sent as a header value",
            ));
        }
        self.content_type = content_type;
        Ok(())
    }

    /// Whether the first bytes went out.
    pub fn is_started(&self) -> bool {
        self.stream.is_started()
    }

    /// Sends `data` as one chunk now. An empty write sends nothing (an empty chunk would end
    /// the stream).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.send(data)
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
        let n = encode(&mut buf, |b| {
            request::http_prelude(status, headers, cookies, b).map_err(|e| Some(e.required))
        })
        .unwrap_or(0);
        self.write(buf.get(..n).unwrap_or_default())
    }

    /// One chunk holding `data` (none if empty), after the head if the stream has not started.
    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if self.broken {
            return Err(broken());
        }
        let result = self.try_send(data);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn try_send(&mut self, data: &[u8]) -> io::Result<()> {
        let len = data.len();
        let mut head_len = 0;
        if !self.stream.is_started() {
            if self.stream.connection() == Connection::New || self.conn.is_none() {
                *self.conn = None;
                *self.conn = Some(connect(self.endpoint)?);
            }
            let (stream, ct) = (&mut self.stream, &*self.content_type);
            head_len =
                encode(self.head, |h| stream.start(ct, h).map_err(need)).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "invalid Content-Type")
                })?;
        }
        let mut size = [0u8; 20];
        let n = self
            .stream
            .chunk(len, &mut size)
            .map_err(io::Error::other)?;
        let conn = self.conn.as_mut().ok_or_else(broken)?;
        // The stream's writes block: the lane's socket may have been non-blocking.
        if head_len > 0 {
            conn.set_nonblocking(false)?;
        }
        let chunk_end: &[u8] = if len > 0 { CHUNK_END } else { &[] };
        let mut slices = [
            IoSlice::new(self.head.get(..head_len).unwrap_or_default()),
            IoSlice::new(size.get(..n).unwrap_or_default()),
            IoSlice::new(data),
            IoSlice::new(chunk_end),
        ];
        write_all_vectored(conn, &mut slices)?;
        self.delivered = true;
        Ok(())
    }

    /// Sends what `io::Write` buffered, as one chunk.
    fn flush_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let result = self.send(&pending);
        self.pending = pending;
        self.pending.clear();
        result
    }

    /// Ends the stream: well, or with `error` (type, message) in trailers. Says how it ended
    /// for the driver.
    pub(crate) fn end(mut self, error: Option<(&str, &str)>) -> StreamEnd {
        let flushed = self.flush_pending();
        if !self.stream.is_started() {
            if error.is_some() {
                return StreamEnd::NotStarted;
            }
            // Nothing written, no error: an empty stream.
            if self.send(&[]).is_err() {
                return StreamEnd::Broken {
                    delivered: self.delivered,
                };
            }
        }
        if self.broken || flushed.is_err() {
            return StreamEnd::Broken {
                delivered: self.delivered,
            };
        }
        let stream = &mut self.stream;
        let n = match error {
            None => encode(self.head, |h| stream.finish(h).map_err(need)),
            Some((t, m)) => encode(self.head, |h| stream.fail(t, m, h).map_err(need)),
        };
        let sent = match (n, self.conn.as_mut()) {
            (Some(n), Some(conn)) => conn.write_all(self.head.get(..n).unwrap_or_default()),
            _ => Err(broken()),
        };
        match sent {
            Ok(()) => StreamEnd::Finished,
            Err(_) => StreamEnd::Broken {
                delivered: self.delivered,
            },
        }
    }
}

fn need(e: StreamError) -> Option<usize> {
    match e {
        StreamError::BufferTooSmall { required } => Some(required),
        _ => None,
    }
}

fn write_all_vectored(conn: &mut TcpStream, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match conn.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if crate::transport::interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Write for ResponseStream<'_> {
    /// Buffers `buf`; it goes out as one chunk at the end of the `write!` (or `write_all`)
    /// that wrote it, at [`flush`](Write::flush), or when 64 KiB have gathered.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.broken {
            return Err(broken());
        }
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= 64 * 1024 {
            self.flush_pending()?;
        }
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(buf);
        self.flush_pending()
    }

    fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> io::Result<()> {
        struct Adapter<'x, 'y>(&'x mut ResponseStream<'y>);
        impl std::fmt::Write for Adapter<'_, '_> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0.pending.extend_from_slice(s.as_bytes());
                Ok(())
            }
        }
        let _ = std::fmt::Write::write_fmt(&mut Adapter(self), args);
        self.flush_pending()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()
    }
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

/// Wraps a function that writes its response to a [`ResponseStream`] as a [`Handler`]. An
/// error before the first byte is an ordinary `/error`; after it, it goes in the stream's
/// trailers.
///
/// ```no_run
/// use lamina_std::{Context, ResponseStream, Runtime, streaming};
///
/// fn upper(_ctx: &Context, event: &[u8], out: &mut ResponseStream<'_>) -> std::io::Result<()> {
///     out.set_content_type("text/plain")?;
///     for part in event.chunks(1024) {
///         out.write(&part.to_ascii_uppercase())?;
///     }
///     Ok(())
/// }
///
/// fn main() { Runtime::from_env().graceful_shutdown(|| ()).run(streaming(upper)) }
/// ```
pub fn streaming<F, Err>(f: F) -> Streaming<F, Err>
where
    F: Fn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Streaming {
        f,
        _types: PhantomData,
    }
}

impl<F, Err> Handler for Streaming<F, Err>
where
    F: Fn(&Context, &[u8], &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    fn call<'a>(&self, _ctx: &Context, _event: &'a [u8], out: &mut Output) -> Reply<'a> {
        called_without_stream(out)
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
            Err(e) => error_reply(e.into(), out),
        }
    }
}
