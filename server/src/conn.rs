//! The acceptor and the per-connection request loop: routing, recording, faults and answers.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use std::cell::Cell;

use crate::http::{self, Body, Framing, Head, HttpError};
use crate::util;
use crate::{
    Answer, Cv, Disconnect, Fault, OutcomeKind, OutcomeRec, PIPELINED, Queued, Recorded, Shared,
    State, Unsolicited, UnsolicitedKind, Waited, Watch,
};

/// Socket read timeout: blocked reads wake this often to notice that the server stopped.
const READ_TICK: Duration = Duration::from_millis(250);
/// A client that does not take our bytes for this long loses its connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    for stream in listener.incoming() {
        if shared.is_stopped() {
            break;
        }
        match stream {
            Ok(s) => {
                let id = {
                    let mut st = shared.lock();
                    st.connections += 1;
                    st.live_conns += 1;
                    st.connections
                };
                let sh = Arc::clone(&shared);
                // If the thread cannot be spawned the stream is dropped: the connection closes.
                let spawned = thread::Builder::new()
                    .name(format!("lamina-server-conn-{id}"))
                    .spawn(move || serve(sh, s, id));
                if spawned.is_err() {
                    let mut st = shared.lock();
                    st.live_conns -= 1;
                    shared.release_and_wake(st, &[Cv::Events]);
                }
            }
            // E.g. out of file descriptors: pace the retries.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// What a look at a connection's receive side found.
#[derive(Debug)]
pub(crate) enum Peer {
    /// Nothing to read, still open.
    Open,
    /// Closed or reset by the peer.
    Closed,
    /// Unread bytes (the first 200 of them). A close behind them is not seen here: see
    /// [`hung_up`].
    Data(Vec<u8>),
}

/// Looks, without consuming anything, at whether the peer closed (or reset) the connection or
/// sent bytes.
pub(crate) fn peek_peer(s: &TcpStream) -> Peer {
    if s.set_nonblocking(true).is_err() {
        return Peer::Open;
    }
    let mut b = [0u8; 200];
    let r = s.peek(&mut b);
    let _ = s.set_nonblocking(false);
    match r {
        Ok(0) => Peer::Closed,
        Ok(n) => Peer::Data(b[..n].to_vec()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            Peer::Open
        }
        Err(_) => Peer::Closed,
    }
}

/// Whether the peer closed (FIN or RST) behind bytes not read yet, which a peek cannot tell:
/// `poll` with `POLLRDHUP` (Linux), so that a client that wrote something while an answer was
/// owed and then went away is noticed.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn hung_up(s: &TcpStream) -> bool {
    use std::ffi::{c_int, c_short, c_ulong};
    use std::os::fd::AsRawFd;

    #[repr(C)]
    struct PollFd {
        fd: c_int,
        events: c_short,
        revents: c_short,
    }
    unsafe extern "C" {
        fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
    }
    const POLLERR: c_short = 0x008;
    const POLLHUP: c_short = 0x010;
    const POLLRDHUP: c_short = 0x2000;
    let mut fd = PollFd {
        fd: s.as_raw_fd(),
        events: POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid `struct pollfd` for a live socket owned by `s`; timeout 0 (no wait).
    let n = unsafe { poll(&raw mut fd, 1, 0) };
    n > 0 && fd.revents & (POLLRDHUP | POLLHUP | POLLERR) != 0
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn hung_up(_: &TcpStream) -> bool {
    false
}

/// Sets `SO_LINGER` to 0 so that closing the socket sends RST. `std`'s `TcpStream::set_linger` is
/// unstable, so this declares libc's `setsockopt` (std links libc anyway) on Linux and macOS.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
fn set_linger_zero(s: &TcpStream) -> bool {
    use std::ffi::{c_int, c_void};
    use std::os::fd::AsRawFd;

    #[repr(C)]
    struct Linger {
        l_onoff: c_int,
        l_linger: c_int,
    }
    unsafe extern "C" {
        fn setsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *const c_void,
            len: u32,
        ) -> c_int;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const SOL_SOCKET_SO_LINGER: (c_int, c_int) = (1, 13);
    #[cfg(target_os = "macos")]
    const SOL_SOCKET_SO_LINGER: (c_int, c_int) = (0xffff, 0x0080);

    let linger = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let (level, name) = SOL_SOCKET_SO_LINGER;
    // SAFETY: the fd is a live socket owned by `s`; `linger` is a valid `struct linger` that
    // outlives the call and its exact size is passed.
    unsafe {
        setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&raw const linger).cast(),
            std::mem::size_of::<Linger>() as u32,
        ) == 0
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
fn set_linger_zero(_: &TcpStream) -> bool {
    false
}

/// Reads from the socket, retrying read timeouts until the server stops.
#[derive(Debug)]
struct StopRead {
    stream: TcpStream,
    shared: Arc<Shared>,
}

impl Read for StopRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.shared.is_stopped() {
                        return Err(io::Error::other("server stopped"));
                    }
                }
                r => return r,
            }
        }
    }
}

/// What to do with the connection after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    KeepAlive,
    /// Close gracefully (FIN).
    Close,
    /// Close abortively (RST).
    Reset,
}

/// The endpoint a request targets.
#[derive(Debug)]
enum Route {
    Next,
    Answer(String, OutcomeKind),
    InitError,
    RestoreNext,
    RestoreError,
    ExtRegister,
    ExtNext,
    Invoke,
    NotFound,
}

/// Strips an absolute-form `http://host` and the prefix. Returns the recorded path and whether the
/// prefix was there (always true without a prefix).
fn strip<'a>(prefix: &str, target: &'a str) -> (&'a str, bool) {
    let mut t = target;
    if let Some(rest) = t.strip_prefix("http://") {
        t = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    if prefix.is_empty() {
        return (t, true);
    }
    match t.strip_prefix(prefix) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => {
            (rest, true)
        }
        _ => (t, false),
    }
}

fn route(method: &str, path: &str, prefixed: bool) -> Route {
    let path = path.split('?').next().unwrap_or_default();
    if method == "POST" && path == "/2015-03-31/functions/function/invocations" {
        return Route::Invoke;
    }
    if !prefixed {
        return Route::NotFound;
    }
    match (method, path) {
        ("GET", "/2018-06-01/runtime/invocation/next") => return Route::Next,
        ("POST", "/2018-06-01/runtime/init/error") => return Route::InitError,
        ("GET", "/2018-06-01/runtime/restore/next") => return Route::RestoreNext,
        ("POST", "/2018-06-01/runtime/restore/error") => return Route::RestoreError,
        ("POST", "/2020-01-01/extension/register") => return Route::ExtRegister,
        ("GET", "/2020-01-01/extension/event/next") => return Route::ExtNext,
        _ => {}
    }
    if method == "POST"
        && let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/")
        && let Some((id, tail)) = rest.split_once('/')
    {
        let kind = match tail {
            "response" => Some(OutcomeKind::Response),
            "error" => Some(OutcomeKind::Error),
            _ => None,
        };
        if let Some(kind) = kind {
            return Route::Answer(id.to_string(), kind);
        }
    }
    Route::NotFound
}

/// A small JSON error body in Lambda's style for `status`.
fn error_json(status: u16) -> Vec<u8> {
    let (ty, msg) = match status {
        400 => ("InvalidRequestID", "Invalid request ID"),
        403 => ("InvalidStateTransition", "State transition is not allowed"),
        404 => ("NotFound", "Not found"),
        410 => ("InvocationGone", "Invocation timed out"),
        413 => (
            "RequestEntityTooLarge",
            "Exceeded maximum allowed payload size (6291556 bytes).",
        ),
        431 => ("RequestHeaderFieldsTooLarge", "Request header too large"),
        500 => ("ServiceException", "Internal service error"),
        _ => ("Error", http::reason(status)),
    };
    format!(
        r#"{{"errorMessage":{},"errorType":{}}}"#,
        util::json_str(msg),
        util::json_str(ty)
    )
    .into_bytes()
}

const JSON: &str = "application/json";

/// Encodes a response with `Content-Length`, an optional `Content-Type`, `extra` headers and
/// `Connection: close` when `close`.
fn simple(
    status: u16,
    content_type: Option<&str>,
    extra: &[(&str, String)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let mut headers: Vec<(String, String)> = Vec::with_capacity(extra.len() + 3);
    if let Some(ct) = content_type {
        headers.push(("Content-Type".into(), ct.into()));
    }
    for (k, v) in extra {
        headers.push(((*k).into(), v.clone()));
    }
    headers.push(("Content-Length".into(), body.len().to_string()));
    if close {
        headers.push(("Connection".into(), "close".into()));
    }
    http::encode(status, &headers, body)
}

/// Decrements the live connection count (and wakes a dropping server) when a connection thread
/// ends, however it ends.
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.live_conns = st.live_conns.saturating_sub(1);
        self.0.release_and_wake(st, &[Cv::Events]);
    }
}

fn serve(shared: Arc<Shared>, stream: TcpStream, id: u64) {
    let _live = LiveGuard(Arc::clone(&shared));
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(READ_TICK));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    if let Ok(registered) = stream.try_clone() {
        shared.streams().insert(id, registered);
    }
    let mut conn = Conn {
        reader: BufReader::with_capacity(
            16 * 1024,
            StopRead {
                stream: read_half,
                shared: Arc::clone(&shared),
            },
        ),
        stream,
        shared: Arc::clone(&shared),
        id,
        owed: false,
        flagged: Cell::new(false),
        last_request: None,
        requests: 0,
        peer_gone: false,
    };
    let flow = if shared.is_stopped() {
        Flow::Close
    } else {
        conn.greet();
        conn.run()
    };
    // Every clone of the socket must be gone for the close to happen.
    drop(shared.streams().remove(&id));
    let gone = Disconnect {
        conn: id,
        at: Instant::now(),
        by_peer: conn.peer_gone,
        outstanding: conn.owed,
        last_request: conn.last_request.take(),
        requests: conn.requests,
    };
    if flow == Flow::Reset && set_linger_zero(&conn.stream) {
        drop(conn);
    } else {
        let _ = conn.stream.flush();
        let _ = conn.stream.shutdown(Shutdown::Write);
        drop(conn);
    }
    let mut st = shared.lock();
    st.disconnects.push(Disconnect {
        at: Instant::now(),
        ..gone
    });
    shared.release_and_wake(st, &[Cv::Events]);
}

#[derive(Debug)]
struct Conn {
    reader: BufReader<StopRead>,
    stream: TcpStream,
    shared: Arc<Shared>,
    id: u64,
    /// A request has been received (its head at least) and not answered.
    owed: bool,
    /// The request owed an answer was already reported as pipelined.
    flagged: Cell<bool>,
    /// `METHOD target` of the last request head read.
    last_request: Option<String>,
    /// Request heads read.
    requests: usize,
    /// The peer closed or reset the connection (as opposed to the server closing it).
    peer_gone: bool,
}

/// How a `/response` or `/error` is handled, decided when its head has been read.
#[derive(Debug)]
enum Plan {
    /// Answer with `status` (after `interim` 1xx responses, followed by `trailing` bytes), either
    /// right after the head (`early`) or after the body.
    Reply {
        status: u16,
        early: bool,
        interim: usize,
        trailing: Option<Vec<u8>>,
    },
    /// Record, never answer.
    Never,
    /// Record, close without an answer.
    Close,
    /// Read up to this many body chunks, record, reset.
    Reset(usize),
}

impl Plan {
    fn reply(status: u16) -> Plan {
        Plan::Reply {
            status,
            early: false,
            interim: 0,
            trailing: None,
        }
    }
}

/// What a `/next` poll got.
#[derive(Debug)]
enum Polled {
    Garbage(Vec<u8>),
    Invocation(Queued),
}

/// Registers an answer at the `hold_answers_until_in_flight` barrier when it is closed. `answered`:
/// its outcome is (being) recorded, so `in_flight` no longer counts its invocation.
fn register_hold(st: &mut State, shared: &Shared, answered: bool) -> bool {
    if shared.cfg.hold_answers_until_in_flight.is_none() || st.barrier_open {
        return false;
    }
    st.held += 1;
    if answered {
        st.held_answered += 1;
    }
    true
}

impl Conn {
    /// Writes `bytes`; a failed write means the peer is gone (unless the server stopped).
    fn send(&mut self, bytes: &[u8]) -> bool {
        let ok = self.stream.write_all(bytes).is_ok();
        if !ok {
            self.note_io();
        }
        ok
    }

    /// Notes that the connection ended or failed: the peer's doing unless the server stopped (and
    /// shut the socket down).
    fn note_io(&mut self) {
        if !self.shared.is_stopped() {
            self.peer_gone = true;
        }
    }

    /// Sends a complete answer to the request owed one; true if it went out.
    fn answered(&mut self, bytes: &[u8]) -> bool {
        let ok = self.send(bytes);
        if ok {
            self.owed = false;
        }
        ok
    }

    /// Sends the answer, then keeps the connection unless `close` or the write failed.
    fn reply(&mut self, bytes: &[u8], close: bool) -> Flow {
        if self.answered(bytes) && !close {
            Flow::KeepAlive
        } else {
            Flow::Close
        }
    }

    fn watch(&self) -> Watch<'_> {
        Watch {
            stream: &self.stream,
            conn: self.id,
            flagged: &self.flagged,
        }
    }

    /// The last request's method and target, for reports.
    fn request_line(&self) -> Vec<u8> {
        let mut b = self.last_request.clone().unwrap_or_default().into_bytes();
        b.extend_from_slice(b"\r\n");
        b
    }

    /// Records a violation unless one was recorded for the request owed an answer.
    fn pipelined(&self, bytes: &[u8]) {
        if !self.flagged.replace(true) {
            self.shared.violation(self.id, PIPELINED, bytes);
        }
    }

    /// Records a request the server refuses as a violation (`part`: "head" or "body").
    fn refused(&self, e: &HttpError, part: &str, bytes: &[u8]) {
        let what = match e {
            HttpError::Io => return,
            HttpError::Bad(why) if part == "head" => format!("not an HTTP request: {why}"),
            HttpError::Bad(why) => format!("malformed request {part}: {why}"),
            HttpError::HeadTooLarge if part == "head" => "request head over the limit".into(),
            HttpError::HeadTooLarge => "trailers over the limit".into(),
            HttpError::BodyTooLarge => "request body over the limit".into(),
        };
        let mut b = bytes[..bytes.len().min(200)].to_vec();
        let buffered = self.reader.buffer();
        b.extend_from_slice(&buffered[..buffered.len().min(200 - b.len())]);
        self.shared.violation(self.id, what, &b);
    }

    fn reject(&mut self, e: HttpError) {
        let (status, body) = match e {
            HttpError::Io => {
                self.note_io();
                return;
            }
            HttpError::Bad(why) => (
                400,
                format!(
                    r#"{{"errorMessage":{},"errorType":"BadRequest"}}"#,
                    util::json_str(why)
                )
                .into_bytes(),
            ),
            HttpError::HeadTooLarge => (431, error_json(431)),
            HttpError::BodyTooLarge => (413, error_json(413)),
        };
        let bytes = simple(status, Some(JSON), &[], &body, true);
        self.answered(&bytes);
    }

    /// Sends [`crate::ServerConfig::unsolicited_on_accept`] when this connection gets them.
    fn greet(&mut self) {
        let cfg = &self.shared.cfg;
        let Some(bytes) = cfg.unsolicited_on_accept.clone() else {
            return;
        };
        if cfg
            .unsolicited_on_accept_limit
            .is_some_and(|n| self.id > n as u64)
        {
            return;
        }
        // Recorded first: a client that has read the bytes finds them recorded.
        self.unsolicited(UnsolicitedKind::OnAccept, bytes.clone());
        self.send(&bytes);
    }

    fn unsolicited(&self, kind: UnsolicitedKind, bytes: Vec<u8>) {
        let mut st = self.shared.lock();
        st.unsolicited.push(Unsolicited {
            conn: self.id,
            at: Instant::now(),
            kind,
            bytes,
        });
        self.shared.release_and_wake(st, &[Cv::Events]);
    }

    fn run(&mut self) -> Flow {
        loop {
            let mut raw = Vec::new();
            let head = match http::read_head(&mut self.reader, &mut raw) {
                Ok(Some(h)) => h,
                Ok(None) => {
                    self.note_io();
                    return Flow::Close;
                }
                Err(e) => {
                    self.refused(&e, "head", &raw);
                    self.reject(e);
                    return Flow::Close;
                }
            };
            self.requests += 1;
            self.owed = true;
            self.flagged.set(false);
            self.last_request = Some(format!("{} {}", head.method, head.target));
            match self.request(head) {
                Flow::KeepAlive => {}
                other => return other,
            }
        }
    }

    /// How to handle a `/response` or `/error` for `id` whose body is framed as `framing`.
    fn plan(&self, id: &str, framing: Framing) -> Plan {
        let mut st = self.shared.lock();
        let Some(k) = st.known.get_mut(id) else {
            return Plan::reply(400);
        };
        k.answers += 1;
        let first = k.answers == 1;
        if k.timed_out {
            return Plan::reply(410);
        }
        match &k.answer {
            Answer::Accept => Plan::reply(202),
            Answer::Status(s) => Plan::Reply {
                status: *s,
                early: framing == Framing::Chunked,
                interim: 0,
                trailing: None,
            },
            Answer::Ok200Empty => Plan::reply(200),
            Answer::CloseFirst if first => Plan::Close,
            Answer::Interim(n) => Plan::Reply {
                status: 202,
                early: false,
                interim: *n,
                trailing: None,
            },
            Answer::Early => Plan::Reply {
                status: 202,
                early: true,
                interim: 0,
                trailing: None,
            },
            Answer::Trailing(b) => Plan::Reply {
                status: 202,
                early: false,
                interim: 0,
                trailing: Some(b.clone()),
            },
            Answer::Never => Plan::Never,
            Answer::ResetAfterChunks(n) if first => Plan::Reset(*n),
            Answer::CloseFirst | Answer::ResetAfterChunks(_) => Plan::reply(202),
        }
    }

    /// Reads the body of the request whose head is `head`, records it and answers it.
    fn request(&mut self, head: Head) -> Flow {
        let client_close = match http::header(&head.headers, "connection") {
            Some(v) if v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")) => true,
            Some(v)
                if v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("keep-alive")) =>
            {
                false
            }
            _ => head.minor_version == 0,
        };
        let (path, prefixed) = strip(&self.shared.cfg.path_prefix, &head.target);
        let path = path.to_string();
        let route = route(&head.method, &path, prefixed);
        let framing = match http::framing(&head.headers) {
            Ok(f) => f,
            Err(e) => {
                self.refused(&e, "head", &self.request_line());
                self.reject(e);
                return Flow::Close;
            }
        };
        let plan = match &route {
            Route::Answer(id, _) => Some(self.plan(id, framing)),
            _ => None,
        };
        let early = match &plan {
            Some(Plan::Reply {
                status,
                early: true,
                interim,
                trailing,
            }) => Some((*status, *interim, trailing.clone())),
            _ => None,
        };
        let expects_continue = http::header(&head.headers, "expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if expects_continue
            && early.is_none()
            && framing != Framing::None
            && framing != Framing::Length(0)
            && !self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        {
            return Flow::Close;
        }
        let answer_id = match &route {
            Route::Answer(id, _) => Some(id.clone()),
            _ => None,
        };
        if let (Some((status, interim, trailing)), Some(id)) = (&early, &answer_id) {
            let registered = {
                let mut st = self.shared.lock();
                register_hold(&mut st, &self.shared, false)
            };
            if registered && !self.barrier(false) {
                return Flow::Close;
            }
            self.write_answer(id, *status, *interim, trailing.clone(), client_close);
            if self.owed {
                // The write failed: the client is gone.
                return Flow::Close;
            }
        }
        let reset_after = match plan {
            Some(Plan::Reset(n)) => Some(n),
            _ => None,
        };
        let progress_id = match &route {
            Route::Answer(id, OutcomeKind::Response) => Some(id.clone()),
            _ => None,
        };
        let shared = Arc::clone(&self.shared);
        let mut seen = 0;
        let mut on_chunk = |data: &[u8]| {
            if let Some(id) = &progress_id {
                let observer = {
                    let mut st = shared.lock();
                    *st.chunk_progress.entry(id.clone()).or_insert(0) += 1;
                    st.stream_observer.clone()
                };
                if let Some(f) = observer {
                    f(id, data);
                }
            }
            seen += 1;
            reset_after.is_none_or(|n| seen < n)
        };
        let mut body = Body::default();
        let read = if reset_after == Some(0) {
            body.complete = framing == Framing::None || framing == Framing::Length(0);
            Ok(())
        } else {
            http::read_body(&mut self.reader, framing, &mut body, &mut on_chunk)
        };
        if let Err(e) = read {
            self.refused(&e, "body", &self.request_line());
            if early.is_none() && reset_after.is_none() {
                self.reject(e);
                return Flow::Close;
            }
            // Already answered (or to be reset): record what arrived.
            if matches!(e, HttpError::Io) {
                self.note_io();
            }
        }
        if early.is_none() && body.complete && !self.reader.buffer().is_empty() {
            let buffered = self.reader.buffer();
            let b = buffered[..buffered.len().min(200)].to_vec();
            self.pipelined(&b);
        }
        let complete = body.complete;
        let rec = Recorded {
            conn: self.id,
            method: head.method,
            path,
            headers: head.headers,
            body: body.data,
            trailers: body.trailers,
            chunks: body.chunks,
            at: Instant::now(),
            complete,
        };
        match (route, plan) {
            (Route::Answer(id, kind), Some(plan)) => {
                let flow = self.answer(id, kind, rec, plan, client_close);
                if early.is_some() && !complete {
                    Flow::Close
                } else {
                    flow
                }
            }
            (route, _) => self.dispatch(route, rec, client_close),
        }
    }

    fn record(&self, rec: Recorded) {
        let mut st = self.shared.lock();
        st.requests.push(rec);
        self.shared.release_and_wake(st, &[Cv::Requests]);
    }

    fn dispatch(&mut self, route: Route, rec: Recorded, close: bool) -> Flow {
        let accepted = || simple(202, Some(JSON), &[], br#"{"status":"OK"}"#, close);
        match route {
            Route::Next => {
                let polled_at = rec.at;
                let mut st = self.shared.lock();
                st.requests.push(rec);
                st.next_polls += 1;
                st.next_poll_times.push(polled_at);
                self.shared.release_and_wake(st, &[Cv::Requests]);
                self.next(close, polled_at)
            }
            // Only reached without a plan, which cannot happen; answer as an unknown id would be.
            Route::Answer(id, kind) => self.answer(id, kind, rec, Plan::reply(400), close),
            Route::InitError | Route::RestoreError => {
                self.record(rec);
                self.reply(&accepted(), close)
            }
            Route::RestoreNext => {
                self.record(rec);
                let bytes = if self.shared.cfg.snap_start {
                    simple(200, None, &[], b"", close)
                } else {
                    simple(404, Some(JSON), &[], &error_json(404), close)
                };
                self.reply(&bytes, close)
            }
            Route::ExtRegister => {
                self.record(rec);
                let cfg = &self.shared.cfg;
                let body = format!(
                    r#"{{"functionName":{},"functionVersion":{},"handler":"bootstrap"}}"#,
                    util::json_str(&cfg.function_name),
                    util::json_str(&cfg.function_version)
                );
                let bytes = simple(
                    200,
                    Some(JSON),
                    &[("Lambda-Extension-Identifier", util::uuid())],
                    body.as_bytes(),
                    close,
                );
                self.reply(&bytes, close)
            }
            Route::ExtNext => {
                self.record(rec);
                let shared = Arc::clone(&self.shared);
                match shared.wait_until(Cv::Queue, None, Some(&self.watch()), |st| {
                    st.ext_shutdown.then_some(())
                }) {
                    Waited::Got(()) => {
                        let body = format!(
                            r#"{{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":{}}}"#,
                            util::epoch_ms() + 2000
                        );
                        let bytes = simple(
                            200,
                            Some(JSON),
                            &[("Lambda-Extension-Event-Identifier", util::uuid())],
                            body.as_bytes(),
                            close,
                        );
                        self.reply(&bytes, close)
                    }
                    w => self.wait_failed(w),
                }
            }
            Route::Invoke => {
                let body = rec.body.clone();
                self.record(rec);
                self.invoke(body, close)
            }
            Route::NotFound => {
                self.record(rec);
                let bytes = simple(404, Some(JSON), &[], &error_json(404), close);
                self.reply(&bytes, close)
            }
        }
    }

    /// The connection ends after a wait that got nothing.
    fn wait_failed<T>(&mut self, w: Waited<T>) -> Flow {
        if let Waited::PeerClosed = w {
            self.peer_gone = true;
        }
        Flow::Close
    }

    /// `GET /next`: waits for an invocation (or garbage to give) and delivers it, fault applied.
    fn next(&mut self, client_close: bool, polled_at: Instant) -> Flow {
        let shared = Arc::clone(&self.shared);
        let waited = shared.wait_until(Cv::Queue, None, Some(&self.watch()), |st| {
            if let Some(g) = st.garbage.pop_front() {
                st.garbage_times.push(polled_at);
                return Some(Polled::Garbage(g));
            }
            let q = st.queue.pop_front()?;
            st.deliver(&q);
            Some(Polled::Invocation(q))
        });
        let q = match waited {
            Waited::Got(Polled::Invocation(q)) => q,
            Waited::Got(Polled::Garbage(bytes)) => {
                let close = client_close || !http::is_one_complete_response(&bytes);
                return self.reply(&bytes, close);
            }
            w => return self.wait_failed(w),
        };
        // A delivery: in flight went up (the answer barrier may be reached), and
        // `Server::wait_delivered` may be waiting for it. No-op when nobody waits.
        shared.release_and_wake(shared.lock(), &[Cv::Events]);
        match &q.inv.fault {
            Fault::Delay(d) => {
                let until = Instant::now().checked_add(*d);
                if let Waited::Stopped = shared.wait_until(Cv::Queue, until, None, |_| None::<()>) {
                    return Flow::Close;
                }
            }
            Fault::Status(code) => {
                let bytes = simple(*code, Some(JSON), &[], &error_json(*code), client_close);
                return self.reply(&bytes, client_close);
            }
            Fault::Raw(bytes) => {
                let close = client_close || !http::is_one_complete_response(bytes);
                return self.reply(bytes, close);
            }
            Fault::Interim(n) => {
                for i in 0..*n {
                    if !self.send(http::interim(i)) {
                        return Flow::Close;
                    }
                }
            }
            _ => {}
        }
        let (mut bytes, close) = self.next_response(&q, client_close);
        match q.inv.fault {
            Fault::CloseAfter(n) => {
                self.send(bytes.get(..n).unwrap_or(&bytes));
                Flow::Close
            }
            Fault::ResetAfter(n) => {
                self.send(bytes.get(..n).unwrap_or(&bytes));
                Flow::Reset
            }
            Fault::Trailing(extra) => {
                bytes.extend_from_slice(&extra);
                self.unsolicited(UnsolicitedKind::AfterNext(q.id), extra);
                self.reply(&bytes, close)
            }
            _ => self.reply(&bytes, close),
        }
    }

    /// The full `/next` response for `q` and whether to close after it.
    fn next_response(&self, q: &Queued, client_close: bool) -> (Vec<u8>, bool) {
        let cfg = &self.shared.cfg;
        let inv = &q.inv;
        let deadline = inv.deadline_ms.unwrap_or_else(|| {
            util::epoch_ms().saturating_add(cfg.timeout.as_millis().min(u64::MAX as u128) as u64)
        });
        let arn = format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            cfg.function_name
        );
        let mut headers: Vec<(String, String)> = vec![
            ("Content-Type".into(), JSON.into()),
            ("Lambda-Runtime-Aws-Request-Id".into(), q.id.clone()),
            ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
            ("Lambda-Runtime-Invoked-Function-Arn".into(), arn),
            (
                "Lambda-Runtime-Trace-Id".into(),
                inv.trace_id.clone().unwrap_or_else(util::trace_id),
            ),
        ];
        let mut replaced = vec![false; headers.len()];
        for (k, v) in &inv.extra_headers {
            let slot =
                (0..replaced.len()).find(|&i| !replaced[i] && headers[i].0.eq_ignore_ascii_case(k));
            match slot {
                Some(i) => {
                    headers[i] = (k.clone(), v.clone());
                    replaced[i] = true;
                }
                None => headers.push((k.clone(), v.clone())),
            }
        }
        if let Fault::PadHeader(n) = inv.fault {
            headers.push(("X-Pad".into(), "a".repeat(n)));
        }
        let mut close = client_close || inv.fault == Fault::ConnectionClose;
        if close {
            headers.push(("Connection".into(), "close".into()));
        }
        let (framing_name, body) = match inv.fault {
            Fault::Chunked(n) => {
                headers.push(("Transfer-Encoding".into(), "chunked".into()));
                ("Transfer-Encoding", http::chunk_body(&inv.body, n))
            }
            _ => {
                headers.push(("Content-Length".into(), inv.body.len().to_string()));
                ("Content-Length", inv.body.clone())
            }
        };
        let omitted = |k: &str| inv.omit_headers.iter().any(|o| o.eq_ignore_ascii_case(k));
        if omitted(framing_name) {
            close = true;
        }
        headers.retain(|(k, _)| !omitted(k));
        (http::encode(200, &headers, &body), close)
    }

    /// Records the outcome of a `/response` or `/error`. When `hold` (an answer still to send), the
    /// status becomes 410 if the invocation timed out meanwhile, and the answer is registered at the
    /// answer barrier in the same step (if it is closed). Returns whether it was registered, and
    /// the status.
    fn record_outcome(
        &self,
        id: String,
        kind: OutcomeKind,
        rec: Recorded,
        mut status: u16,
        hold: bool,
    ) -> (bool, u16) {
        let mut guard = self.shared.lock();
        let watched = guard.outcome_waits.contains_key(&id);
        let st = &mut *guard;
        let req = st.requests.len();
        st.requests.push(rec);
        let mut answered = false;
        if let Some(k) = st.known.get_mut(&id) {
            if hold && k.timed_out {
                status = 410;
            }
            if k.outstanding > 0 {
                k.outstanding -= 1;
                st.in_flight = st.in_flight.saturating_sub(1);
                answered = true;
            }
        }
        let n = st.outcomes.len();
        st.first_outcome.entry(id.clone()).or_insert(n);
        st.outcomes.push(OutcomeRec {
            request_id: id,
            kind,
            req,
            status,
        });
        let registered = hold && register_hold(st, &self.shared, answered);
        let barrier = self.shared.cfg.hold_answers_until_in_flight.is_some();
        let wake: &[Cv] = match (watched, barrier) {
            (true, true) => &[Cv::Requests, Cv::Outcomes, Cv::Events],
            (true, false) => &[Cv::Requests, Cv::Outcomes],
            (false, true) => &[Cv::Requests, Cv::Events],
            (false, false) => &[Cv::Requests],
        };
        self.shared.release_and_wake(guard, wake);
        (registered, status)
    }

    /// Waits at the answer barrier, on which this answer is registered (`answered`: with its
    /// outcome recorded). False if the connection or the server ended first.
    fn barrier(&mut self, answered: bool) -> bool {
        let n = self.shared.cfg.hold_answers_until_in_flight.unwrap_or(0);
        let shared = Arc::clone(&self.shared);
        let waited = shared.wait_until(Cv::Events, None, Some(&self.watch()), |st| {
            if st.barrier_open || st.in_flight + st.held_answered >= n {
                st.barrier_open = true;
                Some(())
            } else {
                None
            }
        });
        let mut st = shared.lock();
        st.held = st.held.saturating_sub(1);
        if answered {
            st.held_answered = st.held_answered.saturating_sub(1);
        }
        shared.release_and_wake(st, &[Cv::Events]);
        match waited {
            Waited::Got(()) => true,
            w => {
                self.wait_failed(w);
                false
            }
        }
    }

    /// Writes the answer `status` for `id`: `interim` 1xx responses first, `trailing` bytes after.
    fn write_answer(
        &mut self,
        id: &str,
        status: u16,
        interim: usize,
        trailing: Option<Vec<u8>>,
        close: bool,
    ) -> Flow {
        for i in 0..interim {
            if !self.send(http::interim(i)) {
                return Flow::Close;
            }
        }
        let mut bytes = match status {
            200 => simple(200, None, &[], b"", close),
            202 => simple(202, Some(JSON), &[], br#"{"status":"OK"}"#, close),
            s => simple(s, Some(JSON), &[], &error_json(s), close),
        };
        if let Some(t) = trailing {
            bytes.extend_from_slice(&t);
            self.unsolicited(UnsolicitedKind::AfterAnswer(id.to_string()), t);
        }
        self.reply(&bytes, close)
    }

    /// `POST /invocation/{id}/response` or `/error`, read as far as `plan` says.
    fn answer(
        &mut self,
        id: String,
        kind: OutcomeKind,
        rec: Recorded,
        plan: Plan,
        close: bool,
    ) -> Flow {
        match plan {
            Plan::Reply {
                status,
                early: true,
                ..
            } => {
                // Answered already, right after the head.
                self.record_outcome(id, kind, rec, status, false);
                if close { Flow::Close } else { Flow::KeepAlive }
            }
            Plan::Reply {
                status,
                early: false,
                interim,
                trailing,
            } => {
                let answer_id = id.clone();
                let (registered, status) = self.record_outcome(id, kind, rec, status, true);
                if registered && !self.barrier(true) {
                    return Flow::Close;
                }
                self.write_answer(&answer_id, status, interim, trailing, close)
            }
            Plan::Never => {
                self.record_outcome(id, kind, rec, 0, false);
                self.never()
            }
            Plan::Close => {
                self.record_outcome(id, kind, rec, 0, false);
                Flow::Close
            }
            Plan::Reset(_) => {
                self.record_outcome(id, kind, rec, 0, false);
                Flow::Reset
            }
        }
    }

    /// Never answers: reads (and reports) whatever arrives until the client closes the connection
    /// or the server stops.
    fn never(&mut self) -> Flow {
        let mut buf = [0u8; 4096];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => {
                    self.note_io();
                    return Flow::Close;
                }
                Ok(n) => self.pipelined(&buf[..n.min(200)]),
                Err(_) => {
                    self.note_io();
                    return Flow::Close;
                }
            }
        }
    }

    /// The RIE-style invoke endpoint: queues the event and answers with its outcome.
    fn invoke(&mut self, event: Vec<u8>, close: bool) -> Flow {
        let shared = Arc::clone(&self.shared);
        let id = shared.enqueue(crate::Invocation::new(event));
        let limit = shared.cfg.timeout.saturating_add(Duration::from_secs(5));
        let waited = shared.wait_outcome_of(&id, None, Some(&self.watch()), |st| {
            if let Some(&i) = st.first_outcome.get(&id) {
                let o = st.outcome(i)?;
                let err = if o.kind == OutcomeKind::Error {
                    Some(o.error_type().unwrap_or("Unhandled").to_string())
                } else {
                    o.error_type().map(str::to_string)
                };
                return Some(Ok((o.request.body, err)));
            }
            let delivered = st.known.get(&id).and_then(|k| k.delivered_at);
            match delivered {
                Some(t) if t.elapsed() > limit => Some(Err(())),
                _ => None,
            }
        });
        let bytes = match waited {
            Waited::Got(Ok((body, None))) => simple(200, Some(JSON), &[], &body, close),
            Waited::Got(Ok((body, Some(ty)))) => simple(
                200,
                Some(JSON),
                &[("X-Amz-Function-Error", ty)],
                &body,
                close,
            ),
            Waited::Got(Err(())) => {
                let msg = format!(
                    "Task timed out after {:.2} seconds",
                    shared.cfg.timeout.as_secs_f64()
                );
                let body = format!(
                    r#"{{"errorMessage":{},"errorType":"Sandbox.Timedout"}}"#,
                    util::json_str(&msg)
                );
                simple(504, Some(JSON), &[], body.as_bytes(), close)
            }
            w => {
                // The caller went away (or we stop): withdraw the event if nobody took it yet.
                shared.lock().queue.retain(|q| q.id != id);
                return self.wait_failed(w);
            }
        };
        self.reply(&bytes, close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_stripping_and_routes() {
        assert_eq!(strip("/.rt", "/.rt/2018-06-01/x"), ("/2018-06-01/x", true));
        assert_eq!(strip("/.rt", "/.rtx/2018"), ("/.rtx/2018", false));
        assert_eq!(strip("", "http://h:1/a?b"), ("/a?b", true));
        assert!(matches!(
            route("GET", "/2018-06-01/runtime/invocation/next?x=1", true),
            Route::Next
        ));
        assert!(matches!(
            route("GET", "/2018-06-01/runtime/invocation/next", false),
            Route::NotFound
        ));
        assert!(matches!(
            route("POST", "/2015-03-31/functions/function/invocations", false),
            Route::Invoke
        ));
        match route("POST", "/2018-06-01/runtime/invocation/abc/error", true) {
            Route::Answer(id, OutcomeKind::Error) => assert_eq!(id, "abc"),
            r => panic!("{r:?}"),
        }
        assert!(matches!(
            route("POST", "/2018-06-01/runtime/invocation/abc/other", true),
            Route::NotFound
        ));
        assert!(matches!(
            route("DELETE", "/2018-06-01/runtime/invocation/next", true),
            Route::NotFound
        ));
    }
}
