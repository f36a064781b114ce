//! The tokio `hello` bootstrap against lamina's fake Runtime API (`lamina-server`), like the
//! shipped transports in `examples/tests/suite.rs`. Every wait is bounded by [`WAIT`].

use std::io::Read;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lamina_server::{Answer, Fault, Invocation, Outcome, OutcomeKind, Server, ServerConfig};
use serde_json::Value;

const HELLO: &str = env!("CARGO_BIN_EXE_hello");
const WAIT: Duration = Duration::from_secs(10);
const ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";

/// `hello` running against a server; dropping it kills the child first, then stops the server.
struct Run {
    child: Child,
    stderr: Arc<Mutex<String>>,
    server: Server,
}

impl Run {
    fn start() -> Run {
        Run::start_with(ServerConfig::default(), &[])
    }

    fn start_with(cfg: ServerConfig, env: &[(&str, &str)]) -> Run {
        let server = Server::start_with(cfg).expect("start the fake Runtime API");
        let mut cmd = server.command(Path::new(HELLO));
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn hello");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut pipe, sink) = (child.stderr.take().expect("stderr"), Arc::clone(&stderr));
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Run { child, stderr, server }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
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

    /// A well-formed invocation, answered: once it is, every earlier one has had its answers.
    fn sentinel(&self) -> String {
        let id = self.server.invoke(Invocation::new(r#"{"name":"Sentinel"}"#));
        assert_response(&self.outcome(&id), &id, r#""Hello Sentinel!""#);
        id
    }

    fn answers_for(&self, id: &str) -> Vec<Outcome> {
        self.server.outcomes().into_iter().filter(|o| o.request_id == id).collect()
    }

    fn assert_running(&mut self) {
        let status = self.child.try_wait().expect("try_wait");
        assert!(status.is_none(), "hello exited: {status:?}\n{}", self.diag());
    }

    fn wait_exit(&mut self) -> Option<ExitStatus> {
        let until = Instant::now() + WAIT;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                thread::sleep(Duration::from_millis(50)); // let the stderr reader catch up
                return Some(status);
            }
            thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_response(o: &Outcome, id: &str, body: &str) {
    assert_eq!(o.kind, OutcomeKind::Response, "{o:?}");
    assert_eq!(o.request.path, format!("/2018-06-01/runtime/invocation/{id}/response"));
    assert_eq!(String::from_utf8_lossy(&o.request.body), body);
    assert_eq!(o.request.header("Content-Type"), Some("application/json"));
    assert!(o.request.header(ERROR_TYPE).is_none(), "{o:?}");
}

fn assert_error(o: &Outcome, id: &str, error_type: &str) -> Value {
    assert_eq!(o.kind, OutcomeKind::Error, "{o:?}");
    assert_eq!(o.request.path, format!("/2018-06-01/runtime/invocation/{id}/error"));
    assert_eq!(o.request.header(ERROR_TYPE), Some(error_type), "{o:?}");
    let v: Value = serde_json::from_slice(&o.request.body).expect("the error body is JSON");
    assert_eq!(v["errorType"], error_type, "{v}");
    assert!(v["errorMessage"].is_string(), "{v}");
    v
}

/// `/next` → handler → `/response` on one keep-alive connection, nothing else sent.
#[test]
fn hello_roundtrip() {
    let mut run = Run::start();
    let id = run.server.invoke(Invocation::new(r#"{"name":"World"}"#));
    let o = run.outcome(&id);
    assert_response(&o, &id, r#""Hello World!""#);
    assert_eq!(o.status_sent, 202);
    let second = run.sentinel();
    let reqs = run.server.requests();
    let paths: Vec<_> = reqs.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    let next = ("GET", "/2018-06-01/runtime/invocation/next");
    let resp = |id: &str| format!("/2018-06-01/runtime/invocation/{id}/response");
    assert_eq!(paths[..4], [next, ("POST", &resp(&id)), next, ("POST", &resp(&second))]);
    assert!(reqs.iter().all(|r| r.header("User-Agent").is_some_and(|v| v.starts_with("lamina/"))));
    assert_eq!(run.server.connections(), 1, "{}", run.diag());
    run.assert_running();
}

/// cargo-lambda's emulator: `http://` and a `/.rt` prefix, a deadline in 1970, `/response`
/// answered 200 with an empty body.
#[test]
fn cargo_lambda_style() {
    let cfg = ServerConfig { path_prefix: "/.rt".into(), http_scheme: true, ..Default::default() };
    let run = Run::start_with(cfg, &[]);
    assert!(run.server.runtime_api().starts_with("http://"));
    let a = run.server.invoke(
        Invocation::new(r#"{"name":"world"}"#).deadline_ms(600_000).answer(Answer::Ok200Empty),
    );
    assert_response(&run.outcome(&a), &a, r#""Hello world!""#);
    let last = run.sentinel();
    assert_eq!(run.answers_for(&a).len(), 1);
    assert_eq!(run.answers_for(&last).len(), 1);
}

/// The handler's `Err`: `/error` with the error type's short name and its `Display`; an event
/// that does not deserialize: `InvalidEvent`. The runtime keeps serving.
#[test]
fn handler_error_reported_with_its_type() {
    let mut run = Run::start();
    let a = run.server.invoke(Invocation::new(r#"{"name":""}"#));
    let b = run.server.invoke(Invocation::new("not json"));
    let v = assert_error(&run.outcome(&a), &a, "EmptyName");
    assert_eq!(v["errorMessage"], "the name is empty");
    let v = assert_error(&run.outcome(&b), &b, "InvalidEvent");
    assert!(v["errorMessage"].as_str().unwrap().contains("deserialize"), "{v}");
    run.sentinel();
    assert_eq!(run.answers_for(&a).len() + run.answers_for(&b).len(), 2);
    run.assert_running();
}

/// Request ids that must never reach a request line or header: logged, polled again; a valid
/// id with a bad deadline is answered `Runtime.InvalidInvocation`.
#[test]
fn invalid_request_id_never_reflected() {
    let run = Run::start();
    let bad = ["../../init/error", "evil\rX-Injected: 1", "sp ace", &"r".repeat(129)];
    for id in bad {
        run.server.invoke(Invocation::new(r#"{"name":"X"}"#).request_id(id));
    }
    let known = run
        .server
        .invoke(Invocation::new(r#"{"name":"X"}"#).header("Lambda-Runtime-Deadline-Ms", "soon"));
    assert_error(&run.outcome(&known), &known, "Runtime.InvalidInvocation");
    let last = run.sentinel();
    let outcomes = run.server.outcomes();
    assert_eq!(outcomes.len(), 2, "{}", run.diag());
    for r in run.server.requests() {
        let allowed = r.path == "/2018-06-01/runtime/invocation/next"
            || r.path.contains(&known)
            || r.path.contains(&last);
        assert!(allowed, "unexpected request {:?}\n{}", r.path, run.diag());
        assert!(r.header("X-Injected").is_none());
    }
    assert!(run.stderr().contains("malformed"), "{}", run.diag());
}

/// `/response` answered 413: the same invocation is reported on `/error` with a payload-size
/// type instead, then the runtime goes on.
#[test]
fn answer_413_becomes_an_error() {
    let mut run = Run::start();
    let id = run.server.invoke(Invocation::new(r#"{"name":"Big"}"#).answer(Answer::Status(413)));
    let last = run.sentinel();
    let answers = run.answers_for(&id);
    assert_eq!(answers.len(), 2, "{}", run.diag());
    assert_response(&answers[0], &id, r#""Hello Big!""#);
    assert_eq!(answers[0].status_sent, 413);
    assert_error(&answers[1], &id, "Function.ResponseSizeTooLarge");
    assert_eq!(run.answers_for(&last).len(), 1);
    run.assert_running();
}

/// RST in the middle of `/next` (and before its first byte): reconnect, poll again.
#[test]
fn connection_reset_mid_next_reconnects() {
    let mut run = Run::start();
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
    let run = Run::start();
    let id = run.server.invoke(Invocation::new(r#"{"name":"Again"}"#).answer(Answer::CloseFirst));
    run.sentinel();
    let answers = run.answers_for(&id);
    assert_eq!(answers.len(), 2, "{}", run.diag());
    for o in &answers {
        assert_response(o, &id, r#""Hello Again!""#);
    }
    assert_eq!(answers[1].status_sent, 202);
}

/// An unparseable (here empty) `AWS_LAMBDA_RUNTIME_API`: one line naming it, exit code 1.
#[test]
fn runtime_api_invalid() {
    let mut run = Run::start_with(ServerConfig::default(), &[("AWS_LAMBDA_RUNTIME_API", "")]);
    let status = run.wait_exit().unwrap_or_else(|| panic!("still running\n{}", run.diag()));
    assert_eq!(status.code(), Some(1));
    assert!(run.stderr().contains("AWS_LAMBDA_RUNTIME_API"), "{}", run.diag());
}
