//! A local fake of the AWS Lambda Runtime API (version 2018-06-01), for lamina's integration tests
//! and for people.
//!
//! Real HTTP/1.1 on `127.0.0.1` (an ephemeral port by default), one blocking thread per connection,
//! keep-alive, any number of connections long-polling `/next` at once. Tests queue [`Invocation`]s
//! (each optionally carrying a [`Fault`] for the `/next` response that delivers it and an [`Answer`]
//! for its `/response` or `/error`), run a runtime against [`Server::runtime_api`], then inspect
//! every [`Recorded`] request and every [`Outcome`].
//!
//! ```no_run
//! use lamina_server::{Invocation, Server};
//! use std::time::Duration;
//!
//! let server = Server::start().unwrap();
//! let id = server.invoke(Invocation::new(r#"{"name":"World"}"#));
//! let mut child = server.command("target/debug/hello".as_ref()).spawn().unwrap();
//! let outcome = server.wait_outcome(&id, Duration::from_secs(5)).unwrap();
//! assert_eq!(outcome.body_str(), r#""Hello World!""#);
//! child.kill().unwrap();
//! ```
//!
//! It can also play a hostile or broken Runtime API (DESIGN section 6): interim `1xx` responses
//! ([`Fault::Interim`], [`Answer::Interim`]), answers sent before the request body
//! ([`Answer::Early`], [`Answer::Status`] on a streamed response), answers never sent
//! ([`Answer::Never`]), streams reset midway ([`Answer::ResetAfterChunks`]), bytes nobody asked for
//! ([`ServerConfig::unsolicited_on_accept`], [`Fault::Trailing`], [`Answer::Trailing`]) and
//! unusable `/next` answers ([`Server::garbage_next`]). Tests synchronise on events, never on
//! sleeps: [`Server::wait_outcome`], [`Server::wait_for`], [`Server::wait_delivered`],
//! [`Server::wait_disconnect`], [`Server::wait_violations`], and the answer barrier
//! [`ServerConfig::hold_answers_until_in_flight`]. What a runtime must never do (pipeline requests,
//! write bytes that are not a request) is recorded in [`Server::violations`].
//!
//! Every wait is bounded: blocking reads wake up regularly to notice the server's shutdown, waits
//! for invocations end when the server is dropped or the peer goes away, and writes time out.
//! Dropping the [`Server`] stops it. The server never panics on what a client sends.

mod conn;
mod http;
mod util;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A fault injected into the `/next` response that delivers an invocation.
///
/// A faulted invocation is consumed (not delivered again); queue a normal one after it to check
/// that the runtime recovers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// No fault: a well-formed 200 response.
    #[default]
    None,
    /// Wait this long before answering `/next` (the deadline is computed after the wait).
    Delay(Duration),
    /// Write only the first `n` bytes of the full response, then close the connection (FIN).
    CloseAfter(usize),
    /// Write only the first `n` bytes, then reset the connection (RST, via `SO_LINGER` 0 set with
    /// `setsockopt` on Linux and macOS; elsewhere it degrades to a plain close).
    ResetAfter(usize),
    /// Send the body with `Transfer-Encoding: chunked`, in chunks of `n` bytes (0 counts as 1).
    Chunked(usize),
    /// Add `Connection: close` and close the connection after the response.
    ConnectionClose,
    /// Send exactly these bytes as the whole `/next` response. The invocation's request id still
    /// matches later `/response` and `/error` requests. The connection stays open only if the bytes
    /// are one complete, well-framed response (complete head, body exactly as `Content-Length` or
    /// chunked framing says, no `Connection: close`); otherwise it is closed (FIN) after writing, so
    /// a client waiting for the rest sees EOF instead of hanging.
    Raw(Vec<u8>),
    /// Answer `/next` with this status (e.g. 403 or 500) and a small JSON error body. The
    /// invocation does not count as in flight.
    Status(u16),
    /// Add a header `X-Pad: aaaa…` with a value of `n` bytes (oversized heads).
    PadHeader(usize),
    /// Precede the `/next` response with `n` interim (1xx) responses, each in a write of its own:
    /// `HTTP/1.1 100 Continue` for the 1st, 3rd, … and `HTTP/1.1 103 Early Hints` with a
    /// `Link: </x>; rel=preload` header for the 2nd, 4th, … (RFC 9110 15.2: a client skips them).
    Interim(usize),
    /// Follow the `/next` response, in the same `write` call, with these bytes (e.g. a whole second
    /// fake response). The connection stays open; the sending is recorded in
    /// [`Server::unsolicited`].
    Trailing(Vec<u8>),
}

/// How the server answers an invocation's `/response` or `/error`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Answer {
    /// `202 Accepted` with body `{"status":"OK"}`, as Lambda does.
    #[default]
    Accept,
    /// This status (400, 403, 410, 413, 500, …) with a small JSON error body. For a chunked
    /// (streamed) body the status is sent as soon as the request head has been read, then the body
    /// is read to its end, as with [`Answer::Early`]; otherwise after the whole body.
    Status(u16),
    /// `200 OK` with an empty body, as cargo-lambda does.
    Ok200Empty,
    /// The first `/response` or `/error` for this id is recorded, then the connection is closed
    /// without an answer; later ones get 202.
    CloseFirst,
    /// `202 Accepted` preceded by `n` interim (1xx) responses, each in a write of its own (the same
    /// series as [`Fault::Interim`]).
    Interim(usize),
    /// `202 Accepted` sent as soon as the request head has been read, before the body; the body is
    /// then read to its end (`Content-Length` or chunked) and the connection stays usable. The
    /// outcome is recorded once the body has been read (with what arrived, marked incomplete in
    /// [`Recorded::complete`], if the client stops sending or the body is malformed; the connection
    /// is then closed).
    Early,
    /// `202 Accepted` followed, in the same `write` call, by these bytes. The connection stays open;
    /// the sending is recorded in [`Server::unsolicited`].
    Trailing(Vec<u8>),
    /// The request is read and recorded as an outcome (with `status_sent` 0), but never answered:
    /// the connection stays open, and whatever else arrives on it is read and recorded as a
    /// [`Violation`], until the client closes it (recorded in [`Server::disconnects`]) or the server
    /// stops. Applies to every `/response` and `/error` for this id.
    Never,
    /// The first `/response` or `/error` for this id is read up to its `n`-th body chunk (the whole
    /// body if it is not chunked or has fewer chunks; nothing of it for 0), recorded with what
    /// arrived (`status_sent` 0, [`Recorded::complete`] false if the body was cut), then the
    /// connection is reset (RST) without an answer; later ones get 202.
    ResetAfterChunks(usize),
}

/// An invocation to queue with [`Server::invoke`]; build it with [`Invocation::new`] and the
/// builder methods.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// The event, sent as the `/next` body.
    pub body: Vec<u8>,
    /// `Lambda-Runtime-Aws-Request-Id`; a random UUID when `None`.
    pub request_id: Option<String>,
    /// `Lambda-Runtime-Trace-Id`; a fresh X-Ray trace header when `None`.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Deadline-Ms` (epoch ms); now + the configured timeout when `None`.
    pub deadline_ms: Option<u64>,
    /// Extra `/next` headers. One whose name matches a standard header (request id, deadline, ARN,
    /// trace id, `Content-Type`) replaces it; further ones with the same name are added as well.
    pub extra_headers: Vec<(String, String)>,
    /// Names of `/next` headers not to send (case-insensitive; any header, framing included: a
    /// response without its framing header is followed by a close).
    pub omit_headers: Vec<String>,
    /// The fault applied to the `/next` response that delivers this invocation.
    pub fault: Fault,
    /// How its `/response` or `/error` is answered.
    pub answer: Answer,
}

impl Invocation {
    /// An invocation with this event body and no fault.
    pub fn new(body: impl Into<Vec<u8>>) -> Self {
        Invocation {
            body: body.into(),
            ..Invocation::default()
        }
    }

    /// Uses this request id.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Uses this `Lambda-Runtime-Trace-Id`.
    pub fn trace_id(mut self, trace: impl Into<String>) -> Self {
        self.trace_id = Some(trace.into());
        self
    }

    /// Uses this `Lambda-Runtime-Deadline-Ms` value (epoch ms).
    pub fn deadline_ms(mut self, ms: u64) -> Self {
        self.deadline_ms = Some(ms);
        self
    }

    /// Adds (or replaces, for a standard header) a `/next` header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// Leaves out the `/next` header with this name.
    pub fn omit(mut self, name: impl Into<String>) -> Self {
        self.omit_headers.push(name.into());
        self
    }

    /// Applies this fault to the `/next` response that delivers it.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// Answers its `/response` or `/error` this way.
    pub fn answer(mut self, answer: Answer) -> Self {
        self.answer = answer;
        self
    }
}

/// Server settings; [`ServerConfig::default`] suits most tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `AWS_LAMBDA_FUNCTION_NAME` and the name in the ARN (default `test-function`).
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION` (default `$LATEST`).
    pub function_version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (default 128).
    pub memory_mb: u32,
    /// Per-invocation timeout used for the default deadline (default 3 s).
    pub timeout: Duration,
    /// Path prefix before `/2018-06-01/...`, `""` or e.g. `"/.rt"` (default `""`).
    pub path_prefix: String,
    /// Put `http://` in front of `AWS_LAMBDA_RUNTIME_API` (default false).
    pub http_scheme: bool,
    /// SnapStart: `/restore/next` answers 200 and the init type is `snap-start` (default false).
    pub snap_start: bool,
    /// Port on 127.0.0.1; 0 picks an ephemeral one (default 0).
    pub port: u16,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`, set only when `Some` (default `None`).
    pub max_concurrency: Option<u32>,
    /// Bytes written on an accepted connection right away, before anything is read (bytes nobody
    /// asked for); each sending is recorded in [`Server::unsolicited`]. Which connections get them:
    /// see [`ServerConfig::unsolicited_on_accept_limit`] (default `None`: no bytes).
    pub unsolicited_on_accept: Option<Vec<u8>>,
    /// Only the first this many connections accepted (connection ids `1..=n`) get
    /// [`ServerConfig::unsolicited_on_accept`]; `None`: every connection (default `None`).
    pub unsolicited_on_accept_limit: Option<usize>,
    /// Withhold every answer to `/response` and `/error` (the outcome is still recorded at once)
    /// until at least this many invocations have been delivered and not yet released at the same
    /// time (an invocation whose answer is withheld still counts); then release them all, and
    /// answer every later one at once. This lets a test prove that N invocations run concurrently
    /// without handlers that sleep. Withheld answers end when the server stops or their client
    /// closes the connection. See [`Server::held_answers`] (default `None`).
    pub hold_answers_until_in_flight: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            function_name: "test-function".to_string(),
            function_version: "$LATEST".to_string(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            path_prefix: String::new(),
            http_scheme: false,
            snap_start: false,
            port: 0,
            max_concurrency: None,
            unsolicited_on_accept: None,
            unsolicited_on_accept_limit: None,
            hold_answers_until_in_flight: None,
        }
    }
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The connection it came on (1 for the first connection accepted).
    pub conn: u64,
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target with the configured path prefix stripped (query kept).
    pub path: String,
    /// All headers, names as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The full body (de-chunked).
    pub body: Vec<u8>,
    /// Trailers of a chunked body.
    pub trailers: Vec<(String, String)>,
    /// Chunk sizes of a chunked body, in order (empty otherwise).
    pub chunks: Vec<usize>,
    /// When the request had been read completely (or, when not [`Recorded::complete`], when the
    /// server stopped reading it).
    pub at: Instant,
    /// Whether the whole body was read. False only for outcomes recorded with a partial body:
    /// [`Answer::ResetAfterChunks`] cut it, or the client stopped sending after an early answer
    /// ([`Answer::Early`], [`Answer::Status`] on a streamed response).
    pub complete: bool,
}

fn find<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    http::header(list, name)
}

impl Recorded {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The first trailer with this name (case-insensitive).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        find(&self.trailers, name)
    }
}

/// Whether an outcome came from `/response` or `/error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// `POST .../invocation/{id}/response`.
    Response,
    /// `POST .../invocation/{id}/error`.
    Error,
}

/// A `/response` or `/error` request and how the server answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The request id from the path (as sent, even when unknown).
    pub request_id: String,
    /// `/response` or `/error`.
    pub kind: OutcomeKind,
    /// The request itself.
    pub request: Recorded,
    /// The status the server answered with: 202 by default, 400 for an unknown id, 0 when no
    /// answer is sent ([`Answer::CloseFirst`], [`Answer::Never`], [`Answer::ResetAfterChunks`]).
    pub status_sent: u16,
}

impl Outcome {
    /// The `Lambda-Runtime-Function-Error-Type` header, or else the trailer of that name.
    pub fn error_type(&self) -> Option<&str> {
        const NAME: &str = "Lambda-Runtime-Function-Error-Type";
        self.request
            .header(NAME)
            .or_else(|| self.request.trailer(NAME))
    }

    /// The body as UTF-8, cut at its first invalid byte.
    pub fn body_str(&self) -> &str {
        let b = &self.request.body;
        match std::str::from_utf8(b) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or_default(),
        }
    }
}

/// What made the server send [`Unsolicited`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsolicitedKind {
    /// [`ServerConfig::unsolicited_on_accept`], before anything was read.
    OnAccept,
    /// [`Fault::Trailing`] after the `/next` response that delivered this request id.
    AfterNext(String),
    /// [`Answer::Trailing`] after the answer to a `/response` or `/error` for this request id.
    AfterAnswer(String),
}

/// Bytes the server wrote that no request asked for. Recorded just before the write, so a client
/// that has read them finds them in [`Server::unsolicited`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsolicited {
    /// The connection they went out on.
    pub conn: u64,
    /// When they were about to be written.
    pub at: Instant,
    /// Why.
    pub kind: UnsolicitedKind,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A connection that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// The connection (as in [`Recorded::conn`]).
    pub conn: u64,
    /// When the server noticed the end.
    pub at: Instant,
    /// The client ended it (EOF, a reset, a failed write, or its close noticed while a request
    /// waited), rather than the server (a fault or answer that closes, `Connection: close`, a
    /// refused request, the server stopping).
    pub by_peer: bool,
    /// A request had been received (its head at least) and not answered.
    pub outstanding: bool,
    /// Method and path of the last request whose head was read, e.g.
    /// `GET /2018-06-01/runtime/invocation/next` (path as sent, prefix included).
    pub last_request: Option<String>,
    /// Request heads read on it.
    pub requests: usize,
}

/// Something a client did that a Lambda runtime must never do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The connection it happened on.
    pub conn: u64,
    /// When the server noticed.
    pub at: Instant,
    /// What happened, e.g. `bytes arrived while an answer was owed (pipelining)` or
    /// `not an HTTP request: malformed request head`.
    pub what: String,
    /// The first 200 or so bytes concerned, escaped (`\r`, `\n`, `\x00`, …).
    pub bytes: String,
}

/// An invocation waiting in the queue.
#[derive(Debug)]
pub(crate) struct Queued {
    pub id: String,
    pub inv: Invocation,
}

/// What the server knows about a request id.
#[derive(Debug)]
pub(crate) struct Known {
    pub answer: Answer,
    /// `/response` + `/error` requests whose head was read for it.
    pub answers: usize,
    /// Deliveries not answered yet.
    pub outstanding: usize,
    pub delivered_at: Option<Instant>,
    /// [`Server::time_out`] was called: answers get 410.
    pub timed_out: bool,
}

#[derive(Debug)]
pub(crate) struct OutcomeRec {
    pub request_id: String,
    pub kind: OutcomeKind,
    /// Index into `State::requests`.
    pub req: usize,
    pub status: u16,
}

/// `f(request_id, chunk)`, see [`Server::watch_streams`].
type ChunkFn = dyn Fn(&str, &[u8]) + Send + Sync;

/// See [`Server::watch_streams`].
#[derive(Clone)]
pub(crate) struct StreamObserver(Arc<ChunkFn>);

impl fmt::Debug for StreamObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamObserver")
    }
}

impl std::ops::Deref for StreamObserver {
    type Target = ChunkFn;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub queue: VecDeque<Queued>,
    pub known: HashMap<String, Known>,
    pub requests: Vec<Recorded>,
    pub outcomes: Vec<OutcomeRec>,
    /// Request id -> index of its first outcome.
    pub first_outcome: HashMap<String, usize>,
    pub chunk_progress: HashMap<String, usize>,
    pub next_polls: usize,
    pub connections: u64,
    pub in_flight: usize,
    pub max_in_flight: usize,
    pub ext_shutdown: bool,
    /// When each `/next` request had been read.
    pub next_poll_times: Vec<Instant>,
    /// Garbage answers still to give to `/next` polls, before any invocation.
    pub garbage: VecDeque<Vec<u8>>,
    /// When each `/next` answered with garbage had been read.
    pub garbage_times: Vec<Instant>,
    pub unsolicited: Vec<Unsolicited>,
    pub disconnects: Vec<Disconnect>,
    pub violations: Vec<Violation>,
    /// Answers waiting at the `hold_answers_until_in_flight` barrier.
    pub held: usize,
    /// Those of `held` whose outcome was recorded (so that `in_flight` no longer counts them).
    pub held_answered: usize,
    /// The barrier was reached: answers flow.
    pub barrier_open: bool,
    /// Connection threads alive.
    pub live_conns: usize,
    /// Called with each chunk of a chunked `/response` body as it arrives.
    pub stream_observer: Option<StreamObserver>,
    /// Threads waiting on each of `Shared::cvs` (so that nobody pays for a wake-up no one waits
    /// for: std's condvar makes a syscall on every notify).
    pub waiters: [usize; 4],
    /// Request id -> threads waiting for its outcome (outcome waiters wake only for their id).
    pub outcome_waits: HashMap<String, usize>,
}

impl State {
    pub(crate) fn outcome(&self, i: usize) -> Option<Outcome> {
        let o = self.outcomes.get(i)?;
        Some(Outcome {
            request_id: o.request_id.clone(),
            kind: o.kind,
            request: self.requests.get(o.req)?.clone(),
            status_sent: o.status,
        })
    }

    /// Marks `q` as taken from the queue by a `/next`.
    pub(crate) fn deliver(&mut self, q: &Queued) {
        let k = self
            .known
            .entry(q.id.clone())
            .or_insert_with(|| Known::new(q.inv.answer.clone()));
        k.answer = q.inv.answer.clone();
        if !matches!(q.inv.fault, Fault::Status(_)) {
            k.outstanding += 1;
            k.delivered_at = Some(Instant::now());
            self.in_flight += 1;
            self.max_in_flight = self.max_in_flight.max(self.in_flight);
        }
    }
}

impl Known {
    fn new(answer: Answer) -> Self {
        Known {
            answer,
            answers: 0,
            outstanding: 0,
            delivered_at: None,
            timed_out: false,
        }
    }
}

/// What a waiter waits for; each has its own condvar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cv {
    /// The invocation queue and the extensions' shutdown flag.
    Queue = 0,
    /// Recorded requests.
    Requests = 1,
    /// Outcomes.
    Outcomes = 2,
    /// Disconnects, violations, deliveries, the answer barrier, connection threads ending.
    Events = 3,
}

/// The result of [`Shared::wait_until`].
#[derive(Debug)]
pub(crate) enum Waited<T> {
    Got(T),
    TimedOut,
    Stopped,
    PeerClosed,
}

/// State shared by the handle, the acceptor and the connection threads.
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: ServerConfig,
    pub state: Mutex<State>,
    pub cvs: [Condvar; 4],
    pub stopped: AtomicBool,
    /// Clones of live connections, shut down when the server stops.
    pub streams: Mutex<HashMap<u64, TcpStream>>,
}

/// How often blocked waits look at the peer and at the stop flag.
pub(crate) const TICK: Duration = Duration::from_millis(50);

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn streams(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Releases the lock, then wakes the waiters of `cvs` (if any wait).
    pub(crate) fn release_and_wake(&self, st: MutexGuard<'_, State>, cvs: &[Cv]) {
        let mut wake = [false; 4];
        for &cv in cvs {
            wake[cv as usize] = st.waiters[cv as usize] > 0;
        }
        drop(st);
        for (cv, wake) in self.cvs.iter().zip(wake) {
            if wake {
                cv.notify_all();
            }
        }
    }

    /// Queues an invocation; returns its request id.
    pub(crate) fn enqueue(&self, mut inv: Invocation) -> String {
        let id = inv.request_id.clone().unwrap_or_else(util::uuid);
        inv.request_id = Some(id.clone());
        if inv.trace_id.is_none() {
            inv.trace_id = Some(util::trace_id());
        }
        let mut st = self.lock();
        st.known
            .entry(id.clone())
            .or_insert_with(|| Known::new(inv.answer.clone()));
        st.queue.push_back(Queued {
            id: id.clone(),
            inv,
        });
        self.release_and_wake(st, &[Cv::Queue]);
        id
    }

    /// Waits for the outcome of `id` (on [`Cv::Outcomes`], woken only by outcomes for `id`); see
    /// [`Shared::wait_until`].
    pub(crate) fn wait_outcome_of<T>(
        &self,
        id: &str,
        deadline: Option<Instant>,
        watch: Option<&Watch<'_>>,
        f: impl FnMut(&mut State) -> Option<T>,
    ) -> Waited<T> {
        *self.lock().outcome_waits.entry(id.to_string()).or_insert(0) += 1;
        let r = self.wait_until(Cv::Outcomes, deadline, watch, f);
        let mut st = self.lock();
        if let Some(n) = st.outcome_waits.get_mut(id) {
            *n -= 1;
            if *n == 0 {
                st.outcome_waits.remove(id);
            }
        }
        r
    }

    /// Records a protocol violation on connection `conn`.
    pub(crate) fn violation(&self, conn: u64, what: impl Into<String>, bytes: &[u8]) {
        let mut st = self.lock();
        st.violations.push(Violation {
            conn,
            at: Instant::now(),
            what: what.into(),
            bytes: util::escape(bytes, 200),
        });
        self.release_and_wake(st, &[Cv::Events]);
    }

    /// Waits on `cv` until `f` returns `Some`, `deadline` passes, the server stops, or (when
    /// `watch` is given) the peer of that connection closes it. Bytes arriving on the watched
    /// connection during the wait (a request while one is still owed an answer) are recorded as a
    /// [`Violation`], unless `watch.flagged` says one was already recorded for that request.
    pub(crate) fn wait_until<T>(
        &self,
        cv: Cv,
        deadline: Option<Instant>,
        watch: Option<&Watch<'_>>,
        mut f: impl FnMut(&mut State) -> Option<T>,
    ) -> Waited<T> {
        let mut st = self.lock();
        let mut last_check = Instant::now();
        loop {
            if let Some(t) = f(&mut st) {
                return Waited::Got(t);
            }
            if self.is_stopped() {
                return Waited::Stopped;
            }
            let now = Instant::now();
            let mut slice = if watch.is_some() { TICK } else { TICK * 10 };
            if let Some(d) = deadline {
                if now >= d {
                    return Waited::TimedOut;
                }
                slice = slice.min(d - now);
            }
            st.waiters[cv as usize] += 1;
            st = self.cvs[cv as usize]
                .wait_timeout(st, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.waiters[cv as usize] -= 1;
            if let Some(w) = watch
                && last_check.elapsed() >= TICK
            {
                drop(st);
                match conn::peek_peer(w.stream) {
                    conn::Peer::Closed => return Waited::PeerClosed,
                    conn::Peer::Data(bytes) => {
                        if !w.flagged.replace(true) {
                            self.violation(w.conn, PIPELINED, &bytes);
                        }
                        // A client that wrote while an answer was owed, then went away.
                        if conn::hung_up(w.stream) {
                            return Waited::PeerClosed;
                        }
                    }
                    conn::Peer::Open => {}
                }
                last_check = Instant::now();
                st = self.lock();
            }
        }
    }
}

/// The description of a request sent while the previous one is still owed an answer.
pub(crate) const PIPELINED: &str = "bytes arrived while an answer was owed (pipelining)";

/// A connection watched during a wait: its close ends the wait, bytes on it are a violation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch<'a> {
    pub stream: &'a TcpStream,
    pub conn: u64,
    /// A violation was recorded for the request owed an answer (one per request).
    pub flagged: &'a std::cell::Cell<bool>,
}

/// A running fake Runtime API server. Dropping it stops it: the listener closes, waiting requests
/// end, connections are shut down, and the drop waits (at most 2 s; in practice a few ms) for every
/// connection thread to end.
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("cfg", &self.shared.cfg)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Starts a server with [`ServerConfig::default`].
    pub fn start() -> io::Result<Server> {
        Server::start_with(ServerConfig::default())
    }

    /// Starts a server with these settings.
    pub fn start_with(mut cfg: ServerConfig) -> io::Result<Server> {
        let prefix = cfg.path_prefix.trim_end_matches('/');
        cfg.path_prefix = if prefix.is_empty() || prefix.starts_with('/') {
            prefix.to_string()
        } else {
            format!("/{prefix}")
        };
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], cfg.port)))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cfg,
            state: Mutex::new(State::default()),
            cvs: [
                Condvar::new(),
                Condvar::new(),
                Condvar::new(),
                Condvar::new(),
            ],
            stopped: AtomicBool::new(false),
            streams: Mutex::new(HashMap::new()),
        });
        let sh = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name("lamina-server-accept".into())
            .spawn(move || conn::accept_loop(sh, listener))?;
        Ok(Server {
            shared,
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// The listening address (127.0.0.1 and the port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `AWS_LAMBDA_RUNTIME_API` value, e.g. `127.0.0.1:PORT` or `http://127.0.0.1:PORT/.rt`.
    pub fn runtime_api(&self) -> String {
        let cfg = &self.shared.cfg;
        let scheme = if cfg.http_scheme { "http://" } else { "" };
        format!("{scheme}{}{}", self.addr, cfg.path_prefix)
    }

    /// The environment a Lambda runtime sees, pointing at this server.
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        let cfg = &self.shared.cfg;
        let (y, m, d) = util::today();
        let stream = format!(
            "{y:04}/{m:02}/{d:02}/[{}]{:016x}{:016x}",
            cfg.function_version,
            util::random_u64(),
            util::random_u64()
        );
        let init = if cfg.snap_start {
            "snap-start"
        } else {
            "on-demand"
        };
        let mut env: Vec<(String, String)> = [
            ("AWS_LAMBDA_RUNTIME_API", self.runtime_api()),
            ("AWS_LAMBDA_FUNCTION_NAME", cfg.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", cfg.function_version.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", cfg.memory_mb.to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", cfg.function_name),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
            ("AWS_REGION", "us-east-1".to_string()),
            ("_HANDLER", "bootstrap".to_string()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", init.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(n) = cfg.max_concurrency {
            env.push(("AWS_LAMBDA_MAX_CONCURRENCY".to_string(), n.to_string()));
        }
        env
    }

    /// A `Command` for `bootstrap` with [`Server::lambda_env`] set (an inherited
    /// `AWS_LAMBDA_MAX_CONCURRENCY` or `_X_AMZN_TRACE_ID` removed), stdin null, stdout and stderr
    /// piped.
    pub fn command(&self, bootstrap: &Path) -> Command {
        let mut cmd = Command::new(bootstrap);
        cmd.env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
            .env_remove("_X_AMZN_TRACE_ID")
            .envs(self.lambda_env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Queues an invocation and returns its request id (a random lowercase UUID unless given).
    pub fn invoke(&self, inv: Invocation) -> String {
        self.shared.enqueue(inv)
    }

    /// Waits up to `timeout` for the first `/response` or `/error` for `request_id`.
    pub fn wait_outcome(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        match self.shared.wait_outcome_of(
            request_id,
            Instant::now().checked_add(timeout),
            None,
            |st| {
                let i = *st.first_outcome.get(request_id)?;
                st.outcome(i)
            },
        ) {
            Waited::Got(o) => Some(o),
            _ => None,
        }
    }

    /// Every `/response` and `/error` received, in order, duplicates and unknown ids included.
    pub fn outcomes(&self) -> Vec<Outcome> {
        let st = self.shared.lock();
        (0..st.outcomes.len())
            .filter_map(|i| st.outcome(i))
            .collect()
    }

    /// Every request received (once completely read), in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Waits up to `timeout` until `pred(requests)` holds; re-evaluated whenever a request arrives.
    /// `pred` runs under the server's lock: it must not call the server.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Recorded]) -> bool) -> bool {
        matches!(
            self.shared.wait_until(
                Cv::Requests,
                Instant::now().checked_add(timeout),
                None,
                |st| { pred(&st.requests).then_some(()) }
            ),
            Waited::Got(())
        )
    }

    /// The number of `GET .../invocation/next` requests received so far.
    pub fn next_polls(&self) -> usize {
        self.shared.lock().next_polls
    }

    /// The number of TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections as usize
    }

    /// Invocations delivered by `/next` but not answered yet.
    pub fn in_flight(&self) -> usize {
        self.shared.lock().in_flight
    }

    /// The highest [`Server::in_flight`] seen.
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().max_in_flight
    }

    /// How many chunks of chunked `/response` bodies for `request_id` have arrived so far (counted
    /// live, while the body is still arriving).
    pub fn chunk_progress(&self, request_id: &str) -> usize {
        self.shared
            .lock()
            .chunk_progress
            .get(request_id)
            .copied()
            .unwrap_or(0)
    }

    /// Answers every pending (and every later) extension `event/next` with a SHUTDOWN event.
    pub fn shutdown_extensions(&self) {
        let mut st = self.shared.lock();
        st.ext_shutdown = true;
        self.shared.release_and_wake(st, &[Cv::Queue]);
    }

    /// The next `n` `GET .../invocation/next` requests (on any connection, those already waiting
    /// included) are answered at once with `bytes` instead of an invocation, whatever the queue
    /// holds: an unusable answer with no request id. Calls add up, in order (e.g. `n` copies of
    /// [`GARBAGE_NEXT`], then some non-HTTP bytes). As with [`Fault::Raw`], the connection stays
    /// open only if `bytes` are one complete, well-framed response. Each such poll is timed in
    /// [`Server::garbage_next_times`]; once they are used up, queued invocations are served.
    pub fn garbage_next(&self, n: usize, bytes: impl Into<Vec<u8>>) {
        let bytes = bytes.into();
        let mut st = self.shared.lock();
        st.garbage.extend(std::iter::repeat_n(bytes, n));
        self.shared.release_and_wake(st, &[Cv::Queue]);
    }

    /// When each `/next` request had been read (all of them, in order).
    pub fn next_poll_times(&self) -> Vec<Instant> {
        self.shared.lock().next_poll_times.clone()
    }

    /// When each `/next` request answered with [`Server::garbage_next`] bytes had been read.
    pub fn garbage_next_times(&self) -> Vec<Instant> {
        self.shared.lock().garbage_times.clone()
    }

    /// Every sending of bytes nobody asked for ([`ServerConfig::unsolicited_on_accept`],
    /// [`Fault::Trailing`], [`Answer::Trailing`]), in order.
    pub fn unsolicited(&self) -> Vec<Unsolicited> {
        self.shared.lock().unsolicited.clone()
    }

    /// Every connection that ended, in the order the ends were noticed.
    pub fn disconnects(&self) -> Vec<Disconnect> {
        self.shared.lock().disconnects.clone()
    }

    /// Waits up to `timeout` for connection `conn` to end; returns as soon as it has.
    pub fn wait_disconnect(&self, conn: u64, timeout: Duration) -> bool {
        self.wait_event(timeout, |st| st.disconnects.iter().any(|d| d.conn == conn))
    }

    /// Waits up to `timeout` until at least `n` connections have ended.
    pub fn wait_disconnects(&self, n: usize, timeout: Duration) -> bool {
        self.wait_event(timeout, |st| st.disconnects.len() >= n)
    }

    /// Every protocol violation seen (pipelined requests, bytes that are not a request), in order.
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.lock().violations.clone()
    }

    /// Waits up to `timeout` until at least `n` violations have been recorded.
    pub fn wait_violations(&self, n: usize, timeout: Duration) -> bool {
        self.wait_event(timeout, |st| st.violations.len() >= n)
    }

    /// When the invocation `request_id` was (last) delivered by a `/next`, if it was.
    pub fn delivered_at(&self, request_id: &str) -> Option<Instant> {
        self.shared.lock().known.get(request_id)?.delivered_at
    }

    /// Waits up to `timeout` until the invocation `request_id` has been delivered by a `/next`
    /// (taken from the queue; its response is being written).
    pub fn wait_delivered(&self, request_id: &str, timeout: Duration) -> bool {
        self.wait_event(timeout, |st| {
            st.known
                .get(request_id)
                .is_some_and(|k| k.delivered_at.is_some())
        })
    }

    /// Treats `request_id` as Lambda treats an invocation whose time ran out: it is withdrawn from
    /// the queue if no `/next` took it yet, it no longer counts as in flight, and every later
    /// `/response` or `/error` for it is answered `410 Gone` (and recorded as usual). Returns
    /// whether the id was known.
    pub fn time_out(&self, request_id: &str) -> bool {
        let mut st = self.shared.lock();
        let st = &mut *st;
        st.queue.retain(|q| q.id != request_id);
        let Some(k) = st.known.get_mut(request_id) else {
            return false;
        };
        k.timed_out = true;
        st.in_flight = st.in_flight.saturating_sub(k.outstanding);
        k.outstanding = 0;
        true
    }

    /// Calls `f(request_id, chunk)` with each chunk of every chunked (streamed) `/response` body, on
    /// the connection's thread, as soon as the chunk has been read and before the rest of the body
    /// is (so `f` must be quick, and must not call the server). Replaces an earlier `f`.
    pub fn watch_streams(&self, f: impl Fn(&str, &[u8]) + Send + Sync + 'static) {
        self.shared.lock().stream_observer = Some(StreamObserver(Arc::new(f)));
    }

    /// Answers currently withheld by [`ServerConfig::hold_answers_until_in_flight`]. A late
    /// answer is counted from the moment its outcome is recorded (so once
    /// [`Server::wait_outcome`] returns, it is counted).
    pub fn held_answers(&self) -> usize {
        self.shared.lock().held
    }

    fn wait_event(&self, timeout: Duration, pred: impl Fn(&State) -> bool) -> bool {
        matches!(
            self.shared.wait_until(
                Cv::Events,
                Instant::now().checked_add(timeout),
                None,
                |st| pred(st).then_some(())
            ),
            Waited::Got(())
        )
    }
}

/// An unusable `/next` answer for [`Server::garbage_next`]: a well-framed `200` whose body is `{}`,
/// without any `Lambda-Runtime-*` header (so no request id).
pub const GARBAGE_NEXT: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        drop(self.shared.lock());
        for cv in &self.shared.cvs {
            cv.notify_all();
        }
        // Wake the acceptor blocked in accept().
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        for (_, s) in self.shared.streams().drain() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        if let Some(h) = self.acceptor.take()
            && woke
        {
            let _ = h.join();
        }
        // Connection threads end promptly (their sockets are shut down, their waits see the stop
        // flag); wait for them, boundedly, so that none outlives the server.
        let until = Instant::now() + Duration::from_secs(2);
        let mut st = self.shared.lock();
        while st.live_conns > 0 {
            let now = Instant::now();
            if now >= until {
                break;
            }
            st.waiters[Cv::Events as usize] += 1;
            st = self.shared.cvs[Cv::Events as usize]
                .wait_timeout(st, (until - now).min(TICK))
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.waiters[Cv::Events as usize] -= 1;
        }
    }
}
