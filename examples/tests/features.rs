//! The rest of the Runtime API (issue 8), on the std and mio transports: response streaming
//! (chunks on the wire as they are written; streams under faults, errors in trailers included,
//! are in the shared suite's `cases/streaming.rs`), JSON logs and levels, SnapStart hooks,
//! graceful shutdown, X-Ray error causes.

mod common;

use std::path::Path;

use common::{Gate, Proc, SIGTERM, WAIT, json};
use lamina_server::{Invocation, OutcomeKind, Server, ServerConfig};

struct Bins {
    stream: &'static str,
    fail: &'static str,
}

const STD: Bins = Bins {
    stream: env!("CARGO_BIN_EXE_std-stream"),
    fail: env!("CARGO_BIN_EXE_std-fail"),
};

const MIO: Bins = Bins {
    stream: env!("CARGO_BIN_EXE_stream"),
    fail: env!("CARGO_BIN_EXE_fail"),
};

fn spawn(server: &Server, path: &str) -> Proc {
    Proc::spawn(server.command(Path::new(path)))
}

/// Each write of a streaming handler is a chunk on the wire at once: the handler is held at a
/// gate after its first chunk, and that chunk is at the server (and the answer not complete)
/// while it waits there.
fn chunks_arrive_as_written(bins: &Bins) {
    let server = Server::start().unwrap();
    let proc = spawn(&server, bins.stream);
    let (tx, chunks) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    server.watch_streams(move |id, chunk| {
        let _ = tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send((id.to_string(), chunk.to_vec()));
    });
    let gate = Gate::new();
    let id = server.invoke(Invocation::new(format!(
        r#"{{"pause_ms":0,"gate":"{}"}}"#,
        gate.addr()
    )));
    let (chunk_of, first) = chunks.recv_timeout(WAIT).expect("the first chunk");
    assert_eq!(
        (chunk_of.as_str(), first.as_slice()),
        (id.as_str(), &b"chunk 0\n"[..])
    );
    let held = gate.wait_entered(|| proc.stderr());
    // The handler waits at the gate: nothing more was written, the answer is not complete.
    assert_eq!(server.chunk_progress(&id), 1);
    assert!(server.outcomes().is_empty());
    Gate::open(held);
    let o = server.wait_outcome(&id, WAIT).expect("the stream's end");
    assert_eq!(o.kind, OutcomeKind::Response);
    let want: String = (0..10).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(o.body_str(), want);
    let r = &o.request;
    assert_eq!(
        r.header("Lambda-Runtime-Function-Response-Mode"),
        Some("streaming")
    );
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(
        r.header("Trailer"),
        Some("Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    );
    assert_eq!(r.chunks, vec![8; 10], "one chunk per write, no empty chunk");
    assert!(r.trailers.is_empty());
    // The runtime goes on serving.
    let id2 = server.invoke(Invocation::new(&b"{\"pause_ms\":0}"[..]));
    let o2 = server.wait_outcome(&id2, WAIT).expect("the next stream");
    assert_eq!(o2.body_str(), want);
    assert_eq!(server.outcomes().len(), 2, "exactly one answer each");
}

fn json_logs_carry_the_request_id(bins: &Bins) {
    let server = Server::start().unwrap();
    let mut cmd = server.command(Path::new(bins.fail));
    cmd.env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO");
    let proc = Proc::spawn(cmd);
    let id = server.invoke(Invocation::new(&b"{\"a\":1}"[..]));
    server.wait_outcome(&id, WAIT).expect("an answer");
    let bad = server.invoke(Invocation::new(
        &b"{\"error\":\"quote \\\" and\\nnewline\"}"[..],
    ));
    server.wait_outcome(&bad, WAIT).expect("an answer");
    assert!(
        proc.wait_stderr("event received", WAIT),
        "{}",
        proc.stderr()
    );
    let stderr = proc.stderr();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let app = lines
        .iter()
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("event received"))
        })
        .unwrap_or_else(|| panic!("no application line in {stderr}"));
    assert_eq!(app["level"], "INFO");
    assert_eq!(app["requestId"], id.as_str());
    let ts = app["timestamp"].as_str().unwrap();
    assert!(ts.len() == 24 && ts.ends_with('Z'), "{ts}");
    // Every stderr line of the runtime is JSON in this mode (the panic hook's is std's).
    for l in stderr.lines().filter(|l| l.contains("lamina")) {
        assert!(l.starts_with('{'), "not a JSON line: {l}");
    }
}

fn log_level_filters(bins: &Bins) {
    let server = Server::start().unwrap();
    let mut cmd = server.command(Path::new(bins.fail));
    cmd.env("AWS_LAMBDA_LOG_FORMAT", "Text")
        .env("AWS_LAMBDA_LOG_LEVEL", "ERROR");
    let proc = Proc::spawn(cmd);
    let id = server.invoke(Invocation::new(&b"{\"a\":1}"[..]));
    server.wait_outcome(&id, WAIT).expect("an answer");
    // A second invocation: its answer proves the first one's log line had time to appear.
    let id2 = server.invoke(Invocation::new(&b"{}"[..]));
    server.wait_outcome(&id2, WAIT).expect("an answer");
    let stderr = proc.stderr();
    assert!(
        !stderr.contains("event received"),
        "INFO shown under ERROR: {stderr}"
    );
}

fn snap_start_with(bins: &Bins, fail_hook: Option<&str>) -> (Server, Proc) {
    let server = Server::start_with(ServerConfig {
        snap_start: true,
        ..ServerConfig::default()
    })
    .unwrap();
    let mut cmd = server.command(Path::new(bins.fail));
    cmd.env("LAMINA_EXAMPLE_HOOKS", "1");
    if let Some(h) = fail_hook {
        cmd.env("LAMINA_EXAMPLE_FAIL_HOOK", h);
    }
    let proc = Proc::spawn(cmd);
    (server, proc)
}

fn hook_order(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("hook: "))
        .collect()
}

fn snap_start_restore_flow(bins: &Bins) {
    let (server, proc) = snap_start_with(bins, None);
    let id = server.invoke(Invocation::new(&b"{\"a\":1}"[..]));
    let o = server
        .wait_outcome(&id, WAIT)
        .expect("served after the restore");
    assert_eq!(o.kind, OutcomeKind::Response);
    // The hooks ran before the invocation; their lines may still be on their way through the pipe.
    assert!(proc.wait_stderr("hook: after-2", WAIT), "{}", proc.stderr());
    assert_eq!(
        hook_order(&proc.stderr()),
        ["before-2", "before-1", "after-1", "after-2"],
        "before-snapshot hooks last-registered first, after-restore first-registered first"
    );
    let reqs = server.requests();
    let restore = reqs
        .iter()
        .position(|r| r.path.ends_with("/runtime/restore/next"))
        .expect("GET /restore/next");
    let next = reqs
        .iter()
        .position(|r| r.path.ends_with("/invocation/next"))
        .expect("GET /next");
    assert!(restore < next, "restore/next comes before the first /next");
    assert_ne!(
        reqs[restore].conn, reqs[next].conn,
        "the Runtime API connection is opened anew after the restore"
    );
}

fn snap_start_failing_after_restore_hook(bins: &Bins) {
    let (server, mut proc) = snap_start_with(bins, Some("after-1"));
    let status = proc.wait_exit(WAIT).expect("exits");
    assert!(!status.success());
    assert_eq!(
        hook_order(&proc.stderr()),
        ["before-2", "before-1", "after-1"]
    );
    let reqs = server.requests();
    let err = reqs
        .iter()
        .find(|r| r.path.ends_with("/runtime/restore/error"))
        .unwrap_or_else(|| {
            panic!(
                "no /restore/error: {:?}",
                reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        err.header("Lambda-Runtime-Function-Error-Type"),
        Some("Hook.Failed")
    );
    assert_eq!(json(&err.body)["errorMessage"], "after-1");
    assert_eq!(
        server.next_polls(),
        0,
        "no invocation is polled after a failed restore"
    );
}

fn snap_start_failing_before_snapshot_hook(bins: &Bins) {
    let (server, mut proc) = snap_start_with(bins, Some("before-2"));
    let status = proc.wait_exit(WAIT).expect("exits");
    assert!(!status.success());
    let reqs = server.requests();
    let err = reqs
        .iter()
        .find(|r| r.path.ends_with("/runtime/init/error"))
        .expect("a failure before the snapshot is an /init/error");
    assert_eq!(
        err.header("Lambda-Runtime-Function-Error-Type"),
        Some("Hook.Failed")
    );
    assert!(!reqs.iter().any(|r| r.path.ends_with("/restore/next")));
}

/// Graceful shutdown: the internal extension registers at init (its `event/next` stays
/// pending); SIGTERM while a handler runs (held at a gate) lets it finish, runs the hook, exits 0.
fn graceful_shutdown_runs_the_hook(bins: &Bins) {
    let server = Server::start().unwrap();
    let mut cmd = server.command(Path::new(bins.fail));
    cmd.env("LAMINA_EXAMPLE_GRACEFUL", "1");
    let mut proc = Proc::spawn(cmd);
    let gate = Gate::new();
    let id = server.invoke(Invocation::new(format!(r#"{{"gate":"{}"}}"#, gate.addr())));
    let held = gate.wait_entered(|| proc.stderr());
    let reqs = server.requests();
    let register = reqs
        .iter()
        .position(|r| r.path == "/2020-01-01/extension/register")
        .expect("the internal extension registers");
    assert_eq!(
        reqs[register].header("Lambda-Extension-Name"),
        Some("lamina")
    );
    assert_eq!(json(&reqs[register].body)["events"], serde_json::json!([]));
    assert!(
        server.wait_for(WAIT, |r| r
            .iter()
            .any(|r| r.path == "/2020-01-01/extension/event/next")),
        "its event/next stays pending"
    );
    let reqs = server.requests();
    let pending = reqs
        .iter()
        .position(|r| r.path == "/2020-01-01/extension/event/next")
        .expect("seen above");
    let next = reqs
        .iter()
        .position(|r| r.path.ends_with("/invocation/next"))
        .expect("init completed: /next");
    // Register completes before either; the pending event/next and the first /next arrive on two
    // connections, so the server may record them in either order.
    assert!(register < pending && register < next);
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

fn xray_error_cause(bins: &Bins) {
    let server = Server::start().unwrap();
    let _proc = spawn(&server, bins.fail);
    let long = "x".repeat(5000);
    let id = server.invoke(Invocation::new(
        format!("{{\"error\":\"bad \\\"thing\\\"\\n{long}\"}}").into_bytes(),
    ));
    let o = server.wait_outcome(&id, WAIT).expect("an answer");
    assert_eq!(o.kind, OutcomeKind::Error);
    assert_eq!(
        o.error_type(),
        Some("FailRequested"),
        "errorType is the error's type name"
    );
    let cause = o
        .request
        .header("Lambda-Runtime-Function-XRay-Error-Cause")
        .expect("the X-Ray cause header");
    assert!(cause.len() <= 1200, "bounded: {} bytes", cause.len());
    let v: serde_json::Value = serde_json::from_str(cause).expect("JSON");
    assert_eq!(v["exceptions"][0]["type"], "FailRequested");
    let msg = v["exceptions"][0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("bad \"thing\"\nxxx") && msg.ends_with("..."),
        "{msg}"
    );
    assert!(v["paths"].is_array() && v["working_directory"].is_string());
    // The body keeps the whole message.
    assert_eq!(
        json(&o.request.body)["errorMessage"],
        format!("bad \"thing\"\n{long}")
    );
}

mod on_std {
    #[test]
    fn xray_error_cause() {
        super::xray_error_cause(&super::STD)
    }
    #[test]
    fn snap_start_restore_flow() {
        super::snap_start_restore_flow(&super::STD)
    }
    #[test]
    fn snap_start_failing_after_restore_hook() {
        super::snap_start_failing_after_restore_hook(&super::STD)
    }
    #[test]
    fn snap_start_failing_before_snapshot_hook() {
        super::snap_start_failing_before_snapshot_hook(&super::STD)
    }
    #[test]
    fn graceful_shutdown_runs_the_hook() {
        super::graceful_shutdown_runs_the_hook(&super::STD)
    }
    #[test]
    fn json_logs_carry_the_request_id() {
        super::json_logs_carry_the_request_id(&super::STD)
    }
    #[test]
    fn log_level_filters() {
        super::log_level_filters(&super::STD)
    }
    #[test]
    fn chunks_arrive_as_written() {
        super::chunks_arrive_as_written(&super::STD)
    }
}

mod on_mio {
    #[test]
    fn xray_error_cause() {
        super::xray_error_cause(&super::MIO)
    }
    #[test]
    fn snap_start_restore_flow() {
        super::snap_start_restore_flow(&super::MIO)
    }
    #[test]
    fn snap_start_failing_after_restore_hook() {
        super::snap_start_failing_after_restore_hook(&super::MIO)
    }
    #[test]
    fn snap_start_failing_before_snapshot_hook() {
        super::snap_start_failing_before_snapshot_hook(&super::MIO)
    }
    #[test]
    fn graceful_shutdown_runs_the_hook() {
        super::graceful_shutdown_runs_the_hook(&super::MIO)
    }
    #[test]
    fn json_logs_carry_the_request_id() {
        super::json_logs_carry_the_request_id(&super::MIO)
    }
    #[test]
    fn log_level_filters() {
        super::log_level_filters(&super::MIO)
    }
    #[test]
    fn chunks_arrive_as_written() {
        super::chunks_arrive_as_written(&super::MIO)
    }
}
