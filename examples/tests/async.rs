//! Async handlers (issue 15, item 1) on the mio transport: the shared suite (`cases/`) run on
//! the `async-*` binaries, so every behaviour of the sync forms (init errors, panics, streaming,
//! SIGTERM, SnapStart, trace id, every fault) is checked on the async form by the same tests;
//! then what only async handlers promise: tokio inside the handler (timers, spawned tasks, a
//! local HTTP call), the request id in spawned tasks' lines, N invocations at once.
//!
//! `cargo test -p lamina-examples --features tokio --test async`.

#[path = "cases/mod.rs"]
mod cases;
#[path = "common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::thread;

use common::{Gate, Proc, SIGTERM, Transport, WAIT, json};
use lamina_server::{Invocation, OutcomeKind, Server, ServerConfig};
use serde_json::Value;

/// The async binaries, in the shape of the suite's transports.
const ASYNC: Transport = Transport {
    name: "async",
    hello: env!("CARGO_BIN_EXE_async-hello"),
    echo: env!("CARGO_BIN_EXE_async-echo"),
    fail: env!("CARGO_BIN_EXE_async-fail"),
    context: env!("CARGO_BIN_EXE_async-context"),
    stream: Some(env!("CARGO_BIN_EXE_async-stream")),
    stream_fail: Some(env!("CARGO_BIN_EXE_async-stream_fail")),
};

cases::suite!(on_async, ASYNC, full);

fn spawn(server: &Server, bin: &str, env: &[(&str, &str)]) -> Proc {
    let mut cmd = server.command(Path::new(bin));
    cmd.envs(env.iter().copied());
    Proc::spawn(cmd)
}

fn answer(server: &Server, proc: &Proc, body: &str) -> (String, Value) {
    let id = server.invoke(Invocation::new(body.as_bytes().to_vec()));
    let o = server
        .wait_outcome(&id, WAIT)
        .unwrap_or_else(|| panic!("no answer to {body}\n{}", proc.stderr()));
    assert_eq!(
        o.kind,
        OutcomeKind::Response,
        "{}\n{}",
        o.body_str(),
        proc.stderr()
    );
    (id, json(&o.request.body))
}

/// The JSON log line whose message is `message`.
fn json_line(stderr: &str, message: &str) -> Value {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == message)
        .unwrap_or_else(|| panic!("no JSON line {message:?} in\n{stderr}"))
}

/// A task spawned with `lamina_mio::spawn` runs on a tokio worker, yet its log line carries the
/// invocation's request id; tokio's timers and task joins work inside the handler.
#[test]
fn spawned_tasks_log_with_the_request_id() {
    let server = Server::start().unwrap();
    let proc = spawn(&server, ASYNC.fail, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let (id, body) = answer(&server, &proc, r#"{"spawn_log":"from the task"}"#);
    assert_eq!(body["spawn_log"], "from the task");
    assert!(
        proc.wait_stderr("spawned: from the task", WAIT),
        "{}",
        proc.stderr()
    );
    let line = json_line(&proc.stderr(), "spawned: from the task");
    assert_eq!(line["requestId"], id.as_str(), "{line}");
    // The handler's own line too.
    let line = json_line(&proc.stderr(), "fail: event received (1 keys)");
    assert_eq!(line["requestId"], id.as_str(), "{line}");
    // 50 tasks sleeping 20 ms each, at once: the sum of 0..50.
    let (_, body) = answer(&server, &proc, r#"{"join":50}"#);
    assert_eq!(body["sum"], 1225);
}

/// `AWS_LAMBDA_MAX_CONCURRENCY=4`: the server withholds every answer until 4 invocations are in
/// flight at once, so a runtime running fewer async handlers at a time never answers.
#[test]
fn n_async_invocations_in_flight_at_once() {
    const N: usize = 4;
    let server = Server::start_with(ServerConfig {
        max_concurrency: Some(N as u32),
        hold_answers_until_in_flight: Some(N),
        ..ServerConfig::default()
    })
    .unwrap();
    let proc = spawn(&server, ASYNC.fail, &[]);
    let ids: Vec<String> = (0..N)
        .map(|i| server.invoke(Invocation::new(format!(r#"{{"i":{i},"sleep_ms":50}}"#))))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let o = server
            .wait_outcome(id, WAIT)
            .unwrap_or_else(|| panic!("no answer for {i}\n{}", proc.stderr()));
        assert_eq!(o.kind, OutcomeKind::Response);
        assert_eq!(json(&o.request.body)["i"], i);
    }
}

/// The `async-http` example: the handler GETs a local HTTP endpoint with tokio's sockets.
#[test]
fn http_example_calls_a_local_endpoint() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let endpoint = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        conn.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nfrom http",
        )
        .unwrap();
        String::from_utf8(request).unwrap()
    });
    let server = Server::start().unwrap();
    let proc = spawn(&server, env!("CARGO_BIN_EXE_async-http"), &[]);
    let (_, body) = answer(
        &server,
        &proc,
        &format!(r#"{{"url":"http://{addr}/items?x=1"}}"#),
    );
    assert_eq!(
        body,
        serde_json::json!({"status": 200, "body": "from http"})
    );
    let request = endpoint.join().unwrap();
    assert!(
        request.starts_with("GET /items?x=1 HTTP/1.1\r\n"),
        "{request}"
    );
    // A refused connection is the handler's error, named by its `From<FetchError>`.
    let closed = common::closed_port();
    let id = server.invoke(Invocation::new(format!(
        r#"{{"url":"http://127.0.0.1:{closed}/"}}"#
    )));
    let o = server.wait_outcome(&id, WAIT).expect("an answer");
    common::assert_error(&o, &id, "Fetch.Io");
}

/// SIGTERM while an async handler is held at a gate: it finishes, the shutdown hook runs, exit 0.
#[test]
fn sigterm_lets_the_async_invocation_finish() {
    let server = Server::start().unwrap();
    let mut proc = spawn(&server, ASYNC.fail, &[("LAMINA_EXAMPLE_GRACEFUL", "1")]);
    let gate = Gate::new();
    let id = server.invoke(Invocation::new(format!(r#"{{"gate":"{}"}}"#, gate.addr())));
    let held = gate.wait_entered(|| proc.stderr());
    proc.signal(SIGTERM);
    Gate::open(held);
    let o = server
        .wait_outcome(&id, WAIT)
        .expect("the in-flight invocation finishes");
    assert_eq!(o.kind, OutcomeKind::Response);
    let status = proc.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", proc.stderr());
    assert!(
        proc.stderr().contains("shutdown hook ran"),
        "{}",
        proc.stderr()
    );
}

/// SnapStart with the async init: hooks in order around `/restore/next`, then served.
#[test]
fn snap_start_hooks_around_the_async_init() {
    let server = Server::start_with(ServerConfig {
        snap_start: true,
        ..ServerConfig::default()
    })
    .unwrap();
    let proc = spawn(&server, ASYNC.fail, &[("LAMINA_EXAMPLE_HOOKS", "1")]);
    let (_, body) = answer(&server, &proc, r#"{"a":1}"#);
    assert_eq!(body["a"], 1);
    let stderr = proc.stderr();
    let hooks: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("hook: "))
        .collect();
    assert_eq!(hooks, ["before-2", "before-1", "after-1", "after-2"]);
}

/// The function's settings, read in the async handler (`lamina_mio::config()`).
#[test]
fn settings_reachable_from_the_async_handler() {
    let server = Server::start_with(ServerConfig {
        function_name: "orders-fn".into(),
        memory_mb: 512,
        ..ServerConfig::default()
    })
    .unwrap();
    let proc = spawn(&server, ASYNC.context, &[]);
    let (id, body) = answer(&server, &proc, "{}");
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["function_name"], "orders-fn");
    assert_eq!(body["memory_mb"], 512);
}

/// Served from inside `#[tokio::main]` (`async-main`): lamina runs on that runtime, tasks too.
#[test]
fn served_from_inside_tokio_main() {
    let server = Server::start().unwrap();
    let proc = spawn(&server, env!("CARGO_BIN_EXE_async-main"), &[]);
    for name in ["A", "B"] {
        let (_, body) = answer(&server, &proc, &format!(r#"{{"name":"{name}"}}"#));
        assert_eq!(body, format!("Hello {name}!"));
    }
}
