//! The tokio bootstraps against lamina's fake Runtime API (`lamina-server`), black-box: real
//! processes on 127.0.0.1. Every wait is bounded by [`WAIT`] and synchronised by the server
//! (`wait_outcome`, `wait_for`) or by the child's stderr (a condition variable), never a sleep.

use std::io::Read;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use lamina_server::{Answer, Fault, Invocation, Outcome, OutcomeKind, Server, ServerConfig};
use serde_json::Value;

const HELLO: &str = env!("CARGO_BIN_EXE_hello");
const ECHO: &str = env!("CARGO_BIN_EXE_echo");
const FAIL: &str = env!("CARGO_BIN_EXE_fail");
const CONTEXT: &str = env!("CARGO_BIN_EXE_context");
const WAIT: Duration = Duration::from_secs(10);
const ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";
const INVOCATION_ID: &str = "Lambda-Runtime-Invocation-Id";
const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// A child's stderr as read so far, and whether it reached EOF (the child exited).
#[derive(Default)]
struct Stderr {
    text: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Stderr {
    /// Waits (up to [`WAIT`]) until `done` holds for the text and the EOF flag; returns the text.
    fn wait(&self, done: impl Fn(&str, bool) -> bool) -> Option<String> {
        let guard = self.text.lock().unwrap();
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, WAIT, |(text, eof)| !done(text, *eof) && !*eof)
            .unwrap();
        done(&guard.0, guard.1).then(|| guard.0.clone())
    }
}

/// A bootstrap running against a server; dropping it kills the child first, then stops the
/// server.
struct Run {
    child: Child,
    stderr: Arc<Stderr>,
    server: Server,
}

impl Run {
    fn start(bin: &str) -> Run {
        Run::start_with(bin, ServerConfig::default(), &[])
    }

    fn start_with(bin: &str, cfg: ServerConfig, env: &[(&str, &str)]) -> Run {
        let server = Server::start_with(cfg).expect("start the fake Runtime API");
        let mut cmd = server.command(Path::new(bin));
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn the bootstrap");
        let stderr = Arc::new(Stderr::default());
        let (mut pipe, sink) = (child.stderr.take().expect("stderr"), Arc::clone(&stderr));
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = pipe.read(&mut buf).unwrap_or(0);
                let mut text = sink.text.lock().unwrap();
                text.0.push_str(&String::from_utf8_lossy(&buf[..n]));
                text.1 = n == 0;
                sink.changed.notify_all();
                if n == 0 {
                    break;
                }
            }
        });
        Run { child, stderr, server }
    }

    fn stderr(&self) -> String {
        self.stderr.text.lock().unwrap().0.clone()
    }

    fn diag(&self) -> String {
        let mut s = String::from("requests:\n");
        for r in self.server.requests() {
            s += &format!("  conn {} {} {:?}\n", r.conn, r.method, r.path);
        }
        s + "stderr:\n" + &self.stderr()
    }

    fn outcome(&self, id: &str) -> Outcome {
        self.server
            .wait_outcome(id, WAIT)
            .unwrap_or_else(|| panic!("no answer for {id:?}\n{}", self.diag()))
    }

    /// A well-formed `hello` invocation, answered: once it is, every earlier one has had its
    /// answers (one lane serves them in order).
    fn sentinel(&self) -> String {
        let id = self.server.invoke(Invocation::new(r#"{"name":"Sentinel"}"#));
        let o = self.outcome(&id);
        assert_eq!(o.kind, OutcomeKind::Response, "{}", self.diag());
        id
    }

    fn answers_for(&self, id: &str) -> Vec<Outcome> {
        self.server.outcomes().into_iter().filter(|o| o.request_id == id).collect()
    }

    fn assert_running(&mut self) {
        let status = self.child.try_wait().expect("try_wait");
        assert!(status.is_none(), "exited: {status:?}\n{}", self.diag());
    }

    /// Waits until stderr holds `needle`.
    fn expect_stderr(&self, needle: &str) {
        let found = self.stderr.wait(|text, _| text.contains(needle));
        assert!(found.is_some(), "stderr never said {needle:?}\n{}", self.diag());
    }

    /// Waits for the child to exit (its stderr reaching EOF), then reaps it.
    fn wait_exit(&mut self) -> ExitStatus {
        if self.stderr.wait(|_, eof| eof).is_none() {
            panic!("still running after {WAIT:?}\n{}", self.diag());
        }
        self.child.wait().expect("wait")
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_response(o: &Outcome, id: &str, body: &[u8]) {
    assert_eq!(o.kind, OutcomeKind::Response, "{o:?}");
    assert_eq!(o.request.path, format!("/2018-06-01/runtime/invocation/{id}/response"));
    assert_eq!(String::from_utf8_lossy(&o.request.body), String::from_utf8_lossy(body));
    assert!(o.request.header(ERROR_TYPE).is_none(), "{o:?}");
}

fn assert_error(o: &Outcome, id: &str, error_type: &str) -> Value {
    assert_eq!(o.kind, OutcomeKind::Error, "{o:?}");
    assert_eq!(o.request.path, format!("/2018-06-01/runtime/invocation/{id}/error"));
    error_body(o.request.header(ERROR_TYPE), &o.request.body, error_type)
}

fn error_body(header: Option<&str>, body: &[u8], error_type: &str) -> Value {
    assert_eq!(header, Some(error_type));
    let v: Value = serde_json::from_slice(body).expect("the error body is JSON");
    assert_eq!(v["errorType"], error_type, "{v}");
    assert!(v["errorMessage"].is_string(), "{v}");
    v
}

/// `/next` → handler → `/response` on one keep-alive connection, nothing else sent.
#[test]
fn hello_roundtrip() {
    let mut run = Run::start(HELLO);
    let id = run.server.invoke(Invocation::new(r#"{"name":"World"}"#));
    let o = run.outcome(&id);
    assert_response(&o, &id, br#""Hello World!""#);
    assert_eq!(o.request.header("Content-Type"), Some("application/json"));
    assert_eq!(o.status_sent, 202);
    let second = run.sentinel();
    let reqs = run.server.requests();
    let paths: Vec<_> = reqs.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    let resp = |id: &str| format!("/2018-06-01/runtime/invocation/{id}/response");
    let next = ("GET", NEXT);
    assert_eq!(paths[..4], [next, ("POST", &resp(&id)), next, ("POST", &resp(&second))]);
    assert!(reqs.iter().all(|r| r.header("User-Agent").is_some_and(|v| v.starts_with("lamina/"))));
    assert_eq!(run.server.connections(), 1, "{}", run.diag());
    run.assert_running();
}

/// `echo`: the event's bytes back, unchanged, whatever they are.
#[test]
fn echo_raw_bytes() {
    let run = Run::start(ECHO);
    let bytes: Vec<u8> = (0..=255).collect();
    let a = run.server.invoke(Invocation::new(bytes.clone()));
    let b = run.server.invoke(Invocation::new(""));
    assert_eq!(run.outcome(&a).request.body, bytes);
    assert_response(&run.outcome(&b), &b, b"");
}

/// cargo-lambda's emulator: `http://` and a `/.rt` prefix, a deadline in 1970, `/response`
/// answered 200 with an empty body.
#[test]
fn cargo_lambda_style() {
    let cfg = ServerConfig { path_prefix: "/.rt".into(), http_scheme: true, ..Default::default() };
    let run = Run::start_with(HELLO, cfg, &[]);
    assert!(run.server.runtime_api().starts_with("http://"));
    let a = run.server.invoke(
        Invocation::new(r#"{"name":"world"}"#).deadline_ms(600_000).answer(Answer::Ok200Empty),
    );
    assert_response(&run.outcome(&a), &a, br#""Hello world!""#);
    let last = run.sentinel();
    assert_eq!(run.answers_for(&a).len(), 1);
    assert_eq!(run.answers_for(&last).len(), 1);
}

/// The handler's `Err`: `/error` with the error type's short name and its `Display`; a panic:
/// `Handler.Panic`; an event that does not deserialize: `InvalidEvent`. The runtime keeps
/// serving.
#[test]
fn handler_errors_reported_with_their_type() {
    let mut run = Run::start(FAIL);
    let a = run.server.invoke(Invocation::new(r#"{"error":"boom \"quoted\"\n"}"#));
    let p = run.server.invoke(Invocation::new(r#"{"panic":"kaboom"}"#));
    let b = run.server.invoke(Invocation::new("not json"));
    let ok = run.server.invoke(Invocation::new(r#"{"after":1}"#));
    let v = assert_error(&run.outcome(&a), &a, "FailRequested");
    assert_eq!(v["errorMessage"], "boom \"quoted\"\n");
    let v = assert_error(&run.outcome(&p), &p, "Handler.Panic");
    assert_eq!(v["errorMessage"], "kaboom");
    let v = assert_error(&run.outcome(&b), &b, "InvalidEvent");
    assert!(v["errorMessage"].as_str().unwrap().contains("deserialize"), "{v}");
    assert_response(&run.outcome(&ok), &ok, br#"{"after":1}"#);
    for id in [&a, &p, &b, &ok] {
        assert_eq!(run.answers_for(id).len(), 1, "{}", run.diag());
    }
    run.assert_running();
}

/// Request ids that must never reach a request line or header: logged, polled again; a valid
/// id with a bad deadline is answered `Runtime.InvalidInvocation`.
#[test]
fn invalid_request_id_never_reflected() {
    let run = Run::start(HELLO);
    let bad = ["../../init/error", "evil\rX-Injected: 1", "sp ace", &"r".repeat(129)];
    for id in bad {
        run.server.invoke(Invocation::new(r#"{"name":"X"}"#).request_id(id));
    }
    let known = run
        .server
        .invoke(Invocation::new(r#"{"name":"X"}"#).header("Lambda-Runtime-Deadline-Ms", "soon"));
    assert_error(&run.outcome(&known), &known, "Runtime.InvalidInvocation");
    let last = run.sentinel();
    assert_eq!(run.server.outcomes().len(), 2, "{}", run.diag());
    for r in run.server.requests() {
        let allowed = r.path == NEXT || r.path.contains(&known) || r.path.contains(&last);
        assert!(allowed, "unexpected request {:?}\n{}", r.path, run.diag());
        assert!(r.header("X-Injected").is_none());
    }
    run.expect_stderr("invalid Lambda-Runtime-Aws-Request-Id");
}

/// `Lambda-Runtime-Invocation-Id` is echoed on that invocation's `/response` and `/error`, and
/// not sent for one that had none.
#[test]
fn invocation_id_echoed() {
    let run = Run::start(FAIL);
    let a = run.server.invoke(Invocation::new(r#"{"a":1}"#).header(INVOCATION_ID, "Inv-0.a_B:c-9"));
    let e = run.server.invoke(Invocation::new(r#"{"error":"x"}"#).header(INVOCATION_ID, "inv-e"));
    let none = run.server.invoke(Invocation::new(r#"{"b":2}"#));
    let o = run.outcome(&a);
    assert_response(&o, &a, br#"{"a":1}"#);
    assert_eq!(o.request.header(INVOCATION_ID), Some("Inv-0.a_B:c-9"));
    let o = run.outcome(&e);
    assert_error(&o, &e, "FailRequested");
    assert_eq!(o.request.header(INVOCATION_ID), Some("inv-e"));
    assert_eq!(run.outcome(&none).request.header(INVOCATION_ID), None, "a stale invocation id");
}

/// `/response` answered 413: the same invocation is reported on `/error` with a payload-size
/// type instead, then the runtime goes on.
#[test]
fn answer_413_becomes_an_error() {
    let mut run = Run::start(HELLO);
    let id = run.server.invoke(Invocation::new(r#"{"name":"Big"}"#).answer(Answer::Status(413)));
    let last = run.sentinel();
    let answers = run.answers_for(&id);
    assert_eq!(answers.len(), 2, "{}", run.diag());
    assert_response(&answers[0], &id, br#""Hello Big!""#);
    assert_eq!(answers[0].status_sent, 413);
    assert_error(&answers[1], &id, "Function.ResponseSizeTooLarge");
    assert_eq!(run.answers_for(&last).len(), 1);
    run.assert_running();
}

/// `/response` and `/error` answered 410 Gone: logged, the next invocation is served.
#[test]
fn answer_410_logged_and_next_served() {
    let mut run = Run::start(FAIL);
    let a = run.server.invoke(Invocation::new(r#"{"a":1}"#).answer(Answer::Status(410)));
    let b = run.server.invoke(Invocation::new(r#"{"error":"late"}"#).answer(Answer::Status(410)));
    let last = run.server.invoke(Invocation::new(r#"{"c":3}"#));
    assert_response(&run.outcome(&last), &last, br#"{"c":3}"#);
    assert_eq!(run.answers_for(&a).len(), 1, "{}", run.diag());
    assert_eq!(run.answers_for(&b).len(), 1, "{}", run.diag());
    assert_error(&run.outcome(&b), &b, "FailRequested");
    run.expect_stderr(&format!("{a}: invocation timed out (410 Gone)"));
    run.expect_stderr(&format!("{b}: invocation timed out (410 Gone)"));
    run.assert_running();
}

/// RST in the middle of `/next` (and before its first byte): reconnect, poll again.
#[test]
fn connection_reset_mid_next_reconnects() {
    let mut run = Run::start(HELLO);
    for n in [10, 0] {
        run.server.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::ResetAfter(n)));
    }
    run.sentinel();
    assert_eq!(run.server.outcomes().len(), 1, "{}", run.diag());
    assert!(run.server.connections() >= 3, "{}", run.diag());
    run.assert_running();
}

/// The connection closed after `/response` was written, before its answer: the same answer is
/// sent once more on a new connection.
#[test]
fn lost_answer_resent_once() {
    let run = Run::start(HELLO);
    let id = run.server.invoke(Invocation::new(r#"{"name":"Again"}"#).answer(Answer::CloseFirst));
    run.sentinel();
    let answers = run.answers_for(&id);
    assert_eq!(answers.len(), 2, "{}", run.diag());
    for o in &answers {
        assert_response(o, &id, br#""Hello Again!""#);
    }
    assert_eq!(answers[0].request.body, answers[1].request.body);
    assert_ne!(answers[0].request.conn, answers[1].request.conn);
    assert_eq!(answers[1].status_sent, 202);
}

/// An unparseable (here empty) `AWS_LAMBDA_RUNTIME_API`: one line naming it, exit code 1.
#[test]
fn runtime_api_invalid() {
    let mut run =
        Run::start_with(HELLO, ServerConfig::default(), &[("AWS_LAMBDA_RUNTIME_API", "")]);
    assert_eq!(run.wait_exit().code(), Some(1), "{}", run.diag());
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("AWS_LAMBDA_RUNTIME_API"), "{err:?}");
    assert!(run.server.requests().is_empty());
}

/// Another setting invalid: `/init/error` of type `Runtime.InvalidConfig` naming it, no
/// `/next`, exit non-zero.
#[test]
fn invalid_memory_size_reported_on_init_error() {
    let env = [("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")];
    let mut run = Run::start_with(HELLO, ServerConfig::default(), &env);
    assert_eq!(run.wait_exit().code(), Some(1), "{}", run.diag());
    let reqs = run.server.requests();
    assert_eq!(reqs.len(), 1, "{}", run.diag());
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/2018-06-01/runtime/init/error")
    );
    let v = error_body(reqs[0].header(ERROR_TYPE), &reqs[0].body, "Runtime.InvalidConfig");
    assert!(v["errorMessage"].as_str().unwrap().contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "{v}");
    assert!(run.stderr().contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "{}", run.diag());
}

/// The user's init fails: `/init/error` with its type and message, no `/next`, exit non-zero.
#[test]
fn init_failure_reported() {
    let env = [("LAMINA_EXAMPLE_FAIL_INIT", "no \"db\"\nretry")];
    let mut run = Run::start_with(FAIL, ServerConfig::default(), &env);
    assert_eq!(run.wait_exit().code(), Some(1), "{}", run.diag());
    let reqs = run.server.requests();
    assert_eq!(reqs.len(), 1, "{}", run.diag());
    assert_eq!(reqs[0].path, "/2018-06-01/runtime/init/error");
    let v = error_body(reqs[0].header(ERROR_TYPE), &reqs[0].body, "Init.Failed");
    assert_eq!(v["errorMessage"], "no \"db\"\nretry");
    assert_eq!(run.server.next_polls(), 0);
}

/// SnapStart: `GET /restore/next` before the first `/next`, which goes out on a new connection
/// (sockets do not survive a restore).
#[test]
fn snap_start_restores_before_the_first_next() {
    let mut run =
        Run::start_with(HELLO, ServerConfig { snap_start: true, ..Default::default() }, &[]);
    let id = run.sentinel();
    let reqs = run.server.requests();
    assert_eq!(reqs[0].path, "/2018-06-01/runtime/restore/next", "{}", run.diag());
    assert_eq!(reqs[1].path, NEXT, "{}", run.diag());
    assert_ne!(reqs[0].conn, reqs[1].conn);
    assert_eq!(run.answers_for(&id).len(), 1);
    run.assert_running();
}

/// `context`: every decoded field and function setting, and `_X_AMZN_TRACE_ID` set per
/// invocation (an inherited value removed at start, never a stale one).
#[test]
fn context_and_trace_env() {
    let env = [("_X_AMZN_TRACE_ID", "Root=inherited")];
    let run = Run::start_with(CONTEXT, ServerConfig::default(), &env);
    let trace = "Root=1-65f00000-0123456789abcdef01234567;Sampled=1";
    let a = run.server.invoke(
        Invocation::new("{}")
            .trace_id(trace)
            .deadline_ms(1_900_000_000_123)
            .header("Lambda-Runtime-Aws-Tenant-Id", "tenant-7")
            .header("Lambda-Runtime-Cognito-Identity", r#"{"cognitoIdentityId":"ci"}"#)
            .header(
                "Lambda-Runtime-Client-Context",
                r#"{"client":{"app_title":"T"},"custom":{"k":"v"}}"#,
            ),
    );
    let b = run.server.invoke(Invocation::new("{}").omit("Lambda-Runtime-Trace-Id"));
    let v: Value = serde_json::from_slice(&run.outcome(&a).request.body).unwrap();
    assert_eq!(v["request_id"], a.as_str());
    assert_eq!(v["deadline_ms"], 1_900_000_000_123_u64);
    assert_eq!(
        v["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    );
    assert_eq!(
        (&v["xray_trace_id"], &v["env_trace_id"]),
        (&Value::from(trace), &Value::from(trace))
    );
    assert_eq!(v["tenant_id"], "tenant-7");
    assert_eq!(v["identity"]["cognitoIdentityId"], "ci");
    assert_eq!(v["client_context"]["client"]["app_title"], "T");
    assert_eq!(v["client_context"]["custom"]["k"], "v");
    assert!(v["invocation_id"].is_null(), "{v}");
    assert_eq!(
        (&v["function_name"], &v["function_version"]),
        (&"test-function".into(), &"$LATEST".into())
    );
    assert_eq!((&v["memory_mb"], &v["max_concurrency"]), (&128.into(), &1.into()));
    assert_eq!(v["log_group"], "/aws/lambda/test-function");
    assert!(v["log_stream"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    let v: Value = serde_json::from_slice(&run.outcome(&b).request.body).unwrap();
    assert!(v["xray_trace_id"].is_null() && v["env_trace_id"].is_null(), "stale trace id: {v}");
}

/// `AWS_LAMBDA_MAX_CONCURRENCY=2`: this transport serves one invocation at a time and says so;
/// every invocation is still answered once, `_X_AMZN_TRACE_ID` still set.
#[test]
fn concurrency_served_one_at_a_time() {
    let cfg = ServerConfig { max_concurrency: Some(2), ..Default::default() };
    let mut run = Run::start_with(CONTEXT, cfg, &[]);
    let ids: Vec<String> = (0..3)
        .map(|i| run.server.invoke(Invocation::new("{}").trace_id(format!("Root=1-{i}"))))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let v: Value = serde_json::from_slice(&run.outcome(id).request.body).unwrap();
        assert_eq!(
            (&v["max_concurrency"], &v["env_trace_id"]),
            (&2.into(), &format!("Root=1-{i}").into())
        );
    }
    assert_eq!(run.server.max_in_flight(), 1, "{}", run.diag());
    assert!(ids.iter().all(|id| run.answers_for(id).len() == 1), "{}", run.diag());
    run.expect_stderr("AWS_LAMBDA_MAX_CONCURRENCY=2: this transport serves 1 at a time");
    run.assert_running();
}
