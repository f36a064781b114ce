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
}

/// How the server answers an invocation's `/response` or `/error`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Answer {
    /// `202 Accepted` with body `{"status":"OK"}`, as Lambda does.
    #[default]
    Accept,
    /// This status (400, 403, 410, 413, 500, …) with a small JSON error body.
    Status(u16),
    /// `200 OK` with an empty body, as cargo-lambda does.
    Ok200Empty,
    /// The first `/response` or `/error` for this id is recorded, then the connection is closed
    /// without an answer; later ones get 202.
    CloseFirst,
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
    /// When the request had been read completely.
    pub at: Instant,
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
    /// The status the server answered with: 202 by default, 400 for an unknown id, 0 when the
    /// connection was closed without an answer ([`Answer::CloseFirst`]).
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
    /// `/response` + `/error` requests received for it.
    pub answers: usize,
    /// Deliveries not answered yet.
    pub outstanding: usize,
    pub delivered_at: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct OutcomeRec {
    pub request_id: String,
    pub kind: OutcomeKind,
    /// Index into `State::requests`.
    pub req: usize,
    pub status: u16,
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
    /// Threads waiting on each of `Shared::cvs` (so that nobody pays for a wake-up no one waits
    /// for: std's condvar makes a syscall on every notify).
    pub waiters: [usize; 3],
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
    pub cvs: [Condvar; 3],
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
        let mut wake = [false; 3];
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
        watch: Option<&TcpStream>,
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

    /// Waits on `cv` until `f` returns `Some`, `deadline` passes, the server stops, or (when
    /// `watch` is given) the peer of that connection closes it.
    pub(crate) fn wait_until<T>(
        &self,
        cv: Cv,
        deadline: Option<Instant>,
        watch: Option<&TcpStream>,
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
            if let Some(s) = watch
                && last_check.elapsed() >= TICK
            {
                drop(st);
                if conn::peer_closed(s) {
                    return Waited::PeerClosed;
                }
                last_check = Instant::now();
                st = self.lock();
            }
        }
    }
}

/// A running fake Runtime API server. Dropping it stops it: the listener closes, waiting requests
/// end and connections are shut down.
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
            cvs: [Condvar::new(), Condvar::new(), Condvar::new()],
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
}

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
    }
}
