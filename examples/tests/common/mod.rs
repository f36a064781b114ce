//! The harness behind the shared suite (`cases/`), for every transport: which binaries a
//! transport provides, a child-process guard that captures stderr and never outlives its test,
//! a gate that holds a handler until the test says go, and assertions on what the fake Runtime
//! API received.
//!
//! Also compiled by the tokio example's tests (`examples/tokio-transport/tests/`, through
//! `#[path]`), so it uses nothing but `std`, `lamina-server` and `serde_json`.
//!
//! Every wait here is bounded by [`WAIT`] (or an explicit timeout) and returns as soon as its
//! condition holds (condition variables, the server's events), so a passing test never sleeps
//! for a fixed time.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lamina_server::{Answer, Invocation, Outcome, OutcomeKind, Recorded, Server, ServerConfig};
use serde_json::Value;

/// Upper bound of every wait. Only a failing test ever waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// The header that carries an error's type on `/error` and `/init/error`.
pub const ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";
/// The per-invocation nonce echoed on `/response` and `/error`.
pub const INVOCATION_ID: &str = "Lambda-Runtime-Invocation-Id";
/// An invocation id with every kind of byte it may hold.
pub const INV_ID: &str = "Inv-0123.abc_DEF:xyz-9";
/// The path of `GET /next` (the server strips a configured prefix).
pub const NEXT: &str = "/2018-06-01/runtime/invocation/next";
/// SIGTERM's number on Linux.
pub const SIGTERM: i32 = 15;

/// The example binaries one transport provides (paths, from `env!("CARGO_BIN_EXE_...")`).
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// For messages.
    pub name: &'static str,
    /// `{"name":"World"}` → `"Hello World!"` (typed).
    pub hello: &'static str,
    /// The event's bytes back (raw).
    pub echo: &'static str,
    /// `{"error": m}` fails, `{"panic": m}` panics, else echoes; `LAMINA_EXAMPLE_FAIL_INIT`
    /// fails init.
    pub fail: &'static str,
    /// The decoded context as JSON.
    pub context: &'static str,
    /// Streams 10 chunks (`None`: the transport does not stream).
    pub stream: Option<&'static str>,
    /// Streams 3 chunks, then fails in the trailers.
    pub stream_fail: Option<&'static str>,
}

/// Which example a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Hello,
    Echo,
    Fail,
    Context,
    Stream,
    StreamFail,
}

impl Transport {
    pub fn path(&self, bin: Bin) -> &'static str {
        let streaming = |p: Option<&'static str>| {
            p.unwrap_or_else(|| panic!("the {} transport has no streaming example", self.name))
        };
        match bin {
            Bin::Hello => self.hello,
            Bin::Echo => self.echo,
            Bin::Fail => self.fail,
            Bin::Context => self.context,
            Bin::Stream => streaming(self.stream),
            Bin::StreamFail => streaming(self.stream_fail),
        }
    }
}

/// Inherited variables that would change how a runtime behaves are removed, so the parent's
/// environment (a developer's shell, CI) cannot leak into a test.
fn scrub(cmd: &mut Command, keep: &[(String, String)]) {
    for (k, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        let runtime_var =
            k.starts_with("LAMINA_") || k.starts_with("AWS_LAMBDA_") || k == "_X_AMZN_TRACE_ID";
        if runtime_var && !keep.iter().any(|(kk, _)| *kk == k) {
            cmd.env_remove(&k);
        }
    }
}

/// A command for `bin` with no server: only `env` (and the scrubbed inherited environment).
pub fn bare_command(path: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(path);
    scrub(&mut cmd, &[]);
    cmd.envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// What a pipe delivered so far, and whether it reached EOF.
type Captured = Mutex<(Vec<u8>, bool)>;

/// A pipe read into a shared buffer on a thread of its own (so the child never blocks on a
/// full pipe), with a condition variable signalled on every read and at EOF.
#[derive(Debug, Clone, Default)]
struct Capture {
    state: Arc<(Captured, Condvar)>,
}

impl Capture {
    fn start(mut pipe: impl Read + Send + 'static) -> Capture {
        let cap = Capture::default();
        let state = Arc::clone(&cap.state);
        // Detached: it ends at EOF, which the child's death guarantees.
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = pipe.read(&mut buf).unwrap_or(0);
                let (lock, changed) = &*state;
                let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
                s.0.extend_from_slice(&buf[..n]);
                s.1 = n == 0;
                changed.notify_all();
                if n == 0 {
                    break;
                }
            }
        });
        cap
    }

    fn text(&self) -> String {
        let s = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&s.0).into_owned()
    }

    /// Waits up to `timeout` until `done(text, eof)` holds (or EOF makes it final); returns
    /// whether it holds.
    fn wait(&self, timeout: Duration, done: impl Fn(&str, bool) -> bool) -> bool {
        let (lock, changed) = &*self.state;
        let until = Instant::now() + timeout;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let text = String::from_utf8_lossy(&s.0);
            if done(&text, s.1) {
                return true;
            }
            let now = Instant::now();
            if s.1 || now >= until {
                return false;
            }
            s = changed
                .wait_timeout(s, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

/// A running example binary. Dropping it kills it (and reaps it).
#[derive(Debug)]
pub struct Proc {
    child: Child,
    stderr: Capture,
    stdout: Capture,
    pub exited: Option<ExitStatus>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let stderr = child.stderr.take().map(Capture::start).unwrap_or_default();
        let stdout = child.stdout.take().map(Capture::start).unwrap_or_default();
        Proc {
            child,
            stderr,
            stdout,
            exited: None,
        }
    }

    /// Everything the child wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends signal `sig` to the child.
    pub fn signal(&self, sig: i32) {
        // SAFETY: a plain libc call on our own child's pid (not reaped yet: `Proc` owns it).
        let r = unsafe { kill(self.child.id() as i32, sig) };
        assert_eq!(r, 0, "kill({}, {sig}) failed", self.child.id());
    }

    /// Whether the child is still running.
    pub fn running(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited.is_none()
    }

    /// Waits up to `timeout` for the child to exit; on expiry kills it and returns `None`.
    /// The child's exit closes its stderr: that EOF is the event waited for (so stderr has been
    /// read to its end when this returns).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exited.is_some() {
            return self.exited;
        }
        if !self.stderr.wait(timeout, |_, eof| eof) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return None;
        }
        // Closed stderr, so exiting: reaped at once (bounded all the same).
        let until = Instant::now() + Duration::from_secs(2);
        while self.running() && Instant::now() < until {
            thread::sleep(Duration::from_millis(1));
        }
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.exited
    }

    /// Waits up to `timeout` until stderr holds `needle` (case-insensitive).
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_stderr_line(&[needle], timeout)
    }

    /// Waits up to `timeout` until one line of stderr holds every one of `needles`
    /// (case-insensitive).
    pub fn wait_stderr_line(&self, needles: &[&str], timeout: Duration) -> bool {
        let needles: Vec<String> = needles.iter().map(|n| n.to_ascii_lowercase()).collect();
        self.stderr.wait(timeout, |text, _| {
            text.to_ascii_lowercase()
                .lines()
                .any(|l| needles.iter().all(|n| l.contains(n.as_str())))
        })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fake Runtime API and one example binary running against it.
///
/// Field order matters: the child is killed before the server stops.
#[derive(Debug)]
pub struct Harness {
    pub proc: Proc,
    pub server: Server,
    pub bin: Bin,
    pub transport: Transport,
}

impl Harness {
    /// `bin` of `t` against a default server.
    pub fn start(t: &Transport, bin: Bin) -> Harness {
        Harness::start_with(t, bin, ServerConfig::default(), &[])
    }

    /// `bin` of `t` against a server with `cfg`, with `env` added to (or replacing) the Lambda
    /// environment.
    pub fn start_with(t: &Transport, bin: Bin, cfg: ServerConfig, env: &[(&str, &str)]) -> Harness {
        let server = Server::start_with(cfg).expect("start the fake Runtime API");
        let mut cmd = server.command(Path::new(t.path(bin)));
        let mut keep = server.lambda_env();
        keep.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        scrub(&mut cmd, &keep);
        cmd.envs(env.iter().copied());
        let proc = Proc::spawn(cmd);
        Harness {
            proc,
            server,
            bin,
            transport: *t,
        }
    }

    /// Queues an invocation; returns its request id.
    pub fn invoke(&self, inv: Invocation) -> String {
        self.server.invoke(inv)
    }

    /// A summary of what happened, for failure messages.
    pub fn diag(&self) -> String {
        let mut s = format!(
            "transport {} / {:?}\nrequests:\n",
            self.transport.name, self.bin
        );
        for r in self.server.requests() {
            s.push_str(&format!(
                "  conn {} {} {} ({} bytes{})\n",
                r.conn,
                r.method,
                r.path.escape_debug(),
                r.body.len(),
                if r.complete { "" } else { ", cut" }
            ));
        }
        s.push_str("outcomes:\n");
        for o in self.server.outcomes() {
            s.push_str(&format!(
                "  {} {:?} on conn {} -> {}\n",
                o.request_id, o.kind, o.request.conn, o.status_sent
            ));
        }
        for v in self.server.violations() {
            s.push_str(&format!(
                "violation on conn {}: {} {}\n",
                v.conn, v.what, v.bytes
            ));
        }
        for u in self.server.unsolicited() {
            s.push_str(&format!("unsolicited on conn {}: {:?}\n", u.conn, u.kind));
        }
        for d in self.server.disconnects() {
            s.push_str(&format!(
                "disconnect conn {} (by peer: {}, owed: {}, after {:?})\n",
                d.conn, d.by_peer, d.outstanding, d.last_request
            ));
        }
        s.push_str("stderr:\n");
        s.push_str(&self.proc.stderr());
        s
    }

    /// The first `/response` or `/error` for `id`; panics (with a diagnosis) if none comes.
    pub fn outcome(&self, id: &str) -> Outcome {
        self.outcome_within(id, WAIT)
    }

    /// [`Harness::outcome`] with a bound of its own (for faults that take their time).
    pub fn outcome_within(&self, id: &str, timeout: Duration) -> Outcome {
        match self.server.wait_outcome(id, timeout) {
            Some(o) => o,
            None => panic!("no answer for invocation {id:?}\n{}", self.diag()),
        }
    }

    /// Every `/response` and `/error` for `id` so far.
    pub fn outcomes_for(&self, id: &str) -> Vec<Outcome> {
        self.server
            .outcomes()
            .into_iter()
            .filter(|o| o.request_id == id)
            .collect()
    }

    /// A well-formed invocation of this binary and the response it must get.
    pub fn good_invocation(&self) -> (Invocation, Option<&'static [u8]>) {
        match self.bin {
            Bin::Hello => (
                Invocation::new(r#"{"name":"Sentinel"}"#),
                Some(br#""Hello Sentinel!""#),
            ),
            Bin::Echo => (
                Invocation::new("sentinel bytes"),
                Some(b"sentinel bytes".as_slice()),
            ),
            Bin::Fail => (
                Invocation::new(r#"{"sentinel":true}"#),
                Some(br#"{"sentinel":true}"#),
            ),
            // The body is the context, checked by `sentinel`.
            Bin::Context => (Invocation::new("{}"), None),
            Bin::Stream => (
                Invocation::new(r#"{"pause_ms":0}"#),
                Some(STREAMED.as_bytes()),
            ),
            // Three chunks, then the error in the trailers: checked by `sentinel`.
            Bin::StreamFail => (Invocation::new(r#"{"pause_ms":0}"#), None),
        }
    }

    /// Queues a well-formed invocation and checks it is answered with a `/response`.
    ///
    /// Invocations are served one at a time and in order, so once the sentinel is answered every
    /// earlier invocation has had all the answers it will ever get: call this last to make
    /// "exactly one answer" checks exact.
    pub fn sentinel(&self) -> String {
        let (inv, want) = self.good_invocation();
        let id = self.invoke(inv);
        let o = self.outcome(&id);
        match (want, self.bin) {
            (Some(body), _) => assert_response(&o, &id, body),
            (None, Bin::StreamFail) => assert_failed_stream(&o, &id),
            (None, _) => {
                assert_eq!(o.kind, OutcomeKind::Response, "{}", self.diag());
                let v = json(&o.request.body);
                assert_eq!(v["request_id"], id.as_str());
            }
        }
        id
    }

    /// Makes sure every line the runtime logged before now has been read: queues a well-formed
    /// invocation answered `410 Gone`, which every transport logs with its request id, and waits
    /// for that line (stderr is one ordered pipe). Returns its id; it is answered once.
    pub fn log_marker(&self) -> String {
        let (inv, _) = self.good_invocation();
        let id = self.invoke(inv.answer(Answer::Status(410)));
        assert!(
            self.proc.wait_stderr_line(&[&id, "timed out"], WAIT),
            "no 410 line for the log marker {id}\n{}",
            self.diag()
        );
        id
    }

    /// Checks that stderr does not hold `needle` (case-insensitive). Call it after
    /// [`Harness::log_marker`], so that every line that could hold it has been read.
    pub fn expect_no_stderr(&self, needle: &str) {
        let err = self.proc.stderr().to_ascii_lowercase();
        assert!(
            !err.contains(&needle.to_ascii_lowercase()),
            "stderr says {needle:?}\n{}",
            self.diag()
        );
    }

    /// Checks that the runtime never wrote what it must not: a request while another was owed
    /// its answer, or bytes that are not a request.
    pub fn expect_no_violations(&self) {
        assert!(
            self.server.violations().is_empty(),
            "protocol violations\n{}",
            self.diag()
        );
    }

    /// Checks that the ids answered, with multiplicity, are exactly `expected`.
    pub fn expect_answer_counts(&self, expected: &[(&str, usize)]) {
        let outcomes = self.server.outcomes();
        for (id, n) in expected {
            let got = outcomes.iter().filter(|o| o.request_id == *id).count();
            assert_eq!(got, *n, "answers for {id:?}\n{}", self.diag());
        }
        for o in &outcomes {
            assert!(
                expected.iter().any(|(id, _)| *id == o.request_id),
                "unexpected answer for {:?}\n{}",
                o.request_id,
                self.diag()
            );
        }
    }

    /// Checks that every request received is one a runtime may send: `GET /next` without a
    /// body, `/response` or `/error` for a listed id, or `/init/error` when `init_error`.
    pub fn expect_only_runtime_requests(&self, ids: &[&str], init_error: bool) {
        for r in self.server.requests() {
            assert!(
                is_runtime_request(&r, ids, init_error),
                "unexpected request {} {}\n{}",
                r.method,
                r.path.escape_debug(),
                self.diag()
            );
        }
    }

    /// The connection of the first `GET /next` recorded after the request `after` (by the order
    /// the server recorded them in), waiting for it if need be.
    pub fn next_poll_after(&self, after: &Recorded) -> Recorded {
        let found = |reqs: &[Recorded]| {
            let at = reqs.iter().position(|r| r == after)?;
            reqs[at + 1..].iter().find(|r| is_next(r)).cloned()
        };
        assert!(
            self.server.wait_for(WAIT, |reqs| found(reqs).is_some()),
            "no /next after {} {}\n{}",
            after.method,
            after.path,
            self.diag()
        );
        found(&self.server.requests()).expect("found above")
    }

    /// Waits for the child to exit and checks it exited with a non-zero code (not a signal).
    pub fn expect_failure_exit(&mut self) -> i32 {
        let status = self.proc.wait_exit(WAIT);
        check_failure_exit(status, &self.diag())
    }

    /// Waits until stderr holds `needle` (case-insensitive); panics otherwise.
    pub fn expect_stderr(&self, needle: &str) {
        assert!(
            self.proc.wait_stderr(needle, WAIT),
            "stderr never said {needle:?}\n{}",
            self.diag()
        );
    }

    /// Checks the runtime is still running (it did not exit over a recoverable fault).
    pub fn expect_running(&mut self) {
        assert!(
            self.proc.running(),
            "the runtime exited: {:?}\n{}",
            self.proc.exited,
            self.diag()
        );
    }
}

/// What `stream` sends: ten lines.
pub const STREAMED: &str =
    "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\nchunk 6\nchunk 7\nchunk 8\nchunk 9\n";

/// Checks a `stream_fail` answer: a `/response` with three chunks, its error complete in the
/// trailers (type and base64 body), nothing of it mixed into the body.
pub fn assert_failed_stream(o: &Outcome, id: &str) {
    assert_response(o, id, b"chunk 0\nchunk 1\nchunk 2\n");
    let r = &o.request;
    assert!(r.complete, "the stream ended properly: {o:?}");
    assert_eq!(r.trailer(ERROR_TYPE), Some("StreamFailed"), "{o:?}");
    let b64 = r
        .trailer("Lambda-Runtime-Function-Error-Body")
        .unwrap_or_else(|| panic!("no error body trailer: {o:?}"));
    let doc = json(&unbase64(b64));
    assert_eq!(doc["errorType"], "StreamFailed");
    assert_eq!(doc["errorMessage"], "failed after 3 chunks");
}

/// Whether `r` is a `GET /next`.
pub fn is_next(r: &Recorded) -> bool {
    r.method == "GET" && r.path == NEXT
}

/// Waits for `proc` to exit and checks it exited with a non-zero code (not a signal).
pub fn expect_failure_exit(proc: &mut Proc, diag: &str) -> i32 {
    let status = proc.wait_exit(WAIT);
    check_failure_exit(status, &format!("{diag}\nstderr:\n{}", proc.stderr()))
}

fn check_failure_exit(status: Option<ExitStatus>, diag: &str) -> i32 {
    let Some(status) = status else {
        panic!("the runtime did not exit within {WAIT:?}\n{diag}");
    };
    match status.code() {
        Some(0) => panic!("the runtime exited 0, expected a failure\n{diag}"),
        Some(code) => code,
        None => panic!("the runtime died of a signal ({status:?})\n{diag}"),
    }
}

fn is_runtime_request(r: &Recorded, ids: &[&str], init_error: bool) -> bool {
    const BASE: &str = "/2018-06-01/runtime/";
    match (r.method.as_str(), r.path.strip_prefix(BASE)) {
        ("GET", Some("invocation/next")) => r.body.is_empty(),
        ("POST", Some("init/error")) => init_error,
        ("POST", Some(rest)) => ids.iter().any(|id| {
            rest.strip_prefix("invocation/")
                .and_then(|r| r.strip_prefix(*id))
                .is_some_and(|r| r == "/response" || r == "/error")
        }),
        _ => false,
    }
}

/// Holds a handler until the test says go, without sleeping: the `fail` and `stream` examples
/// given `{"gate": "<addr>"}` connect to [`Gate::addr`] and wait for a byte (see
/// `lamina_examples::gate`).
#[derive(Debug)]
pub struct Gate {
    addr: SocketAddr,
    entered: Receiver<TcpStream>,
}

impl Gate {
    /// A gate listening on 127.0.0.1 for one handler.
    pub fn new() -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the gate");
        let addr = listener.local_addr().expect("the gate's address");
        let (tx, entered) = channel();
        // Ends with its one accept (the drop below connects if no handler did).
        thread::spawn(move || {
            if let Ok((conn, _)) = listener.accept() {
                let _ = tx.send(conn);
            }
        });
        Gate { addr, entered }
    }

    /// `127.0.0.1:PORT`, for the event's `"gate"`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Waits until a handler is at the gate (it connected); returns the connection that
    /// [`Gate::open`] answers on.
    pub fn wait_entered(&self, diag: impl Fn() -> String) -> TcpStream {
        match self.entered.recv_timeout(WAIT) {
            Ok(conn) => conn,
            Err(_) => panic!("no handler reached the gate\n{}", diag()),
        }
    }

    /// Lets the handler holding `conn` go on.
    pub fn open(mut conn: TcpStream) {
        let _ = conn.write_all(b"go");
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        // Ends the accepting thread if no handler came.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Parses a body as JSON; panics with the body if it is not.
pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {:?}",
            String::from_utf8_lossy(body).into_owned()
        )
    })
}

/// Checks a `/response` for `id` with exactly `body`.
pub fn assert_response(o: &Outcome, id: &str, body: &[u8]) {
    assert_eq!(o.kind, OutcomeKind::Response, "{o:?}");
    assert_eq!(o.request_id, id);
    assert_eq!(o.request.method, "POST");
    assert_eq!(
        o.request.path,
        format!("/2018-06-01/runtime/invocation/{id}/response")
    );
    assert_eq!(
        String::from_utf8_lossy(&o.request.body),
        String::from_utf8_lossy(body)
    );
    assert!(
        o.request.header(ERROR_TYPE).is_none(),
        "a response with an error type: {o:?}"
    );
}

/// Checks an `/error` for `id` of type `error_type` (header and body agree, the body is the
/// documented JSON); returns the body.
pub fn assert_error(o: &Outcome, id: &str, error_type: &str) -> Value {
    assert_eq!(o.kind, OutcomeKind::Error, "{o:?}");
    assert_eq!(o.request_id, id);
    assert_eq!(o.request.method, "POST");
    assert_eq!(
        o.request.path,
        format!("/2018-06-01/runtime/invocation/{id}/error")
    );
    check_error_body(&o.request, error_type)
}

/// Checks an error report (`/error` or `/init/error`): the type header and the JSON body.
pub fn check_error_body(r: &Recorded, error_type: &str) -> Value {
    assert_eq!(r.header(ERROR_TYPE), Some(error_type), "{r:?}");
    let v = json(&r.body);
    assert_eq!(v["errorType"], error_type, "{v}");
    assert!(v["errorMessage"].is_string(), "{v}");
    if let Some(st) = v.get("stackTrace") {
        assert!(st.is_array(), "{v}");
    }
    v
}

/// Standard base64 with padding (the client context's encoding under cargo-lambda).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 decoded (padding optional); panics on anything else (test input only).
pub fn unbase64(text: &str) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let vals: Vec<u32> = text
        .trim_end_matches('=')
        .bytes()
        .map(|b| A.iter().position(|&a| a == b).expect("base64") as u32)
        .collect();
    let mut out = Vec::new();
    for c in vals.chunks(4) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, v)| n | (v << (18 - 6 * i)));
        for i in 0..c.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// A port on 127.0.0.1 with (almost certainly) nothing listening: bound, then released.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A complete, well-framed `/next` response for request id `id` (greeting `name`): the fake
/// invocation that faults glue where nobody asked for it.
pub fn fake_next(id: &str, name: &str) -> Vec<u8> {
    let body = format!(r#"{{"name":"{name}"}}"#);
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
         Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: 1000\r\n\
         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
