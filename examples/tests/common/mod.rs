//! The harness behind `suite.rs`: which binaries a transport provides, a child-process guard that
//! captures stderr and never outlives its test, and assertions on what the fake Runtime API
//! received.
//!
//! Every wait here is bounded by [`WAIT`] (or a shorter explicit timeout) and returns as soon as
//! its condition holds, so a passing test never sleeps for a fixed time.

#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lamina_server::{Invocation, Outcome, OutcomeKind, Recorded, Server, ServerConfig};
use serde_json::Value;

/// Upper bound of every wait. Only a failing test ever waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// The header that carries an error's type on `/error` and `/init/error`.
pub const ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";
/// The per-invocation nonce echoed on `/response` and `/error`.
pub const INVOCATION_ID: &str = "Lambda-Runtime-Invocation-Id";

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
}

/// Which example a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Hello,
    Echo,
    Fail,
    Context,
}

impl Transport {
    pub fn path(&self, bin: Bin) -> &'static str {
        match bin {
            Bin::Hello => self.hello,
            Bin::Echo => self.echo,
            Bin::Fail => self.fail,
            Bin::Context => self.context,
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

/// Collects a pipe into a shared buffer on a thread of its own (so the child never blocks on a
/// full pipe); `done` is set at EOF.
#[derive(Debug, Clone, Default)]
struct Capture {
    bytes: Arc<Mutex<Vec<u8>>>,
    done: Arc<AtomicBool>,
}

impl Capture {
    fn start(mut pipe: impl Read + Send + 'static) -> Capture {
        let cap = Capture::default();
        let (bytes, done) = (Arc::clone(&cap.bytes), Arc::clone(&cap.done));
        // Detached: it ends at EOF, which the child's death guarantees.
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => bytes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&buf[..n]),
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        cap
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// A running example binary. Dropping it kills it (and reaps it).
#[derive(Debug)]
pub struct Proc {
    child: Child,
    stderr: Capture,
    stdout: Capture,
    exited: Option<ExitStatus>,
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

    /// Whether the child is still running.
    pub fn running(&mut self) -> bool {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited.is_none()
    }

    /// Waits up to `timeout` for the child to exit; on expiry kills it and returns `None`.
    /// After an exit, also waits (briefly) until its stderr has been read to the end.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + timeout;
        while self.running() {
            if Instant::now() >= until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let until = Instant::now() + Duration::from_secs(2);
        while !self.stderr.done.load(Ordering::SeqCst) && Instant::now() < until {
            thread::sleep(Duration::from_millis(2));
        }
        self.exited
    }

    /// Waits up to `timeout` until stderr holds `needle` (case-insensitive).
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        let needle = needle.to_ascii_lowercase();
        let until = Instant::now() + timeout;
        loop {
            if self.stderr().to_ascii_lowercase().contains(&needle) {
                return true;
            }
            if Instant::now() >= until || self.stderr.done.load(Ordering::SeqCst) {
                return self.stderr().to_ascii_lowercase().contains(&needle);
            }
            thread::sleep(Duration::from_millis(5));
        }
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
                "  conn {} {} {} ({} bytes)\n",
                r.conn,
                r.method,
                r.path,
                r.body.len()
            ));
        }
        s.push_str("outcomes:\n");
        for o in self.server.outcomes() {
            s.push_str(&format!(
                "  {} {:?} -> {}\n",
                o.request_id, o.kind, o.status_sent
            ));
        }
        s.push_str("stderr:\n");
        s.push_str(&self.proc.stderr());
        s
    }

    /// The first `/response` or `/error` for `id`; panics (with a diagnosis) if none comes.
    pub fn outcome(&self, id: &str) -> Outcome {
        match self.server.wait_outcome(id, WAIT) {
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
        match want {
            Some(body) => assert_response(&o, &id, body),
            None => {
                assert_eq!(o.kind, OutcomeKind::Response, "{}", self.diag());
                let v = json(&o.request.body);
                assert_eq!(v["request_id"], id.as_str());
            }
        }
        id
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

/// Parses a body as JSON; panics with the body if it is not.
pub fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {:?}",
            String::from_utf8_lossy(body).into_owned()
        )
    })
}

/// Checks a `/response` for `id` with exactly `body`, accepted by the server.
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
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
