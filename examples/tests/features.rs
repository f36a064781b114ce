//! The rest of the Runtime API (issue 8), on both transports: response streaming (chunks on the
//! wire as they are written, errors in trailers).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Proc, WAIT, json};
use lamina_server::{Invocation, OutcomeKind, Server, ServerConfig};

struct Bins {
    stream: &'static str,
    stream_fail: &'static str,
    fail: &'static str,
}

const STD: Bins = Bins {
    stream: env!("CARGO_BIN_EXE_std-stream"),
    stream_fail: env!("CARGO_BIN_EXE_std-stream_fail"),
    fail: env!("CARGO_BIN_EXE_std-fail"),
};

const MIO: Bins = Bins {
    stream: env!("CARGO_BIN_EXE_stream"),
    stream_fail: env!("CARGO_BIN_EXE_stream_fail"),
    fail: env!("CARGO_BIN_EXE_fail"),
};

fn spawn(server: &Server, path: &str) -> Proc {
    Proc::spawn(server.command(Path::new(path)))
}

fn chunks_arrive_as_written(bins: &Bins) {
    let server = Server::start().unwrap();
    let _proc = spawn(&server, bins.stream);
    // 300 ms between chunks: the first must be at the server long before the handler writes
    // the second.
    let id = server.invoke(Invocation::new(&b"{\"pause_ms\":300}"[..]));
    let end = Instant::now() + WAIT;
    let mut seen_partial = false;
    while Instant::now() < end {
        let progress = server.chunk_progress(&id);
        if progress >= 1 {
            // The answer is not complete yet: 9 more chunks are still to be written.
            seen_partial = server.outcomes().iter().all(|o| o.request_id != id) && progress < 10;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        seen_partial,
        "the first chunk arrived before the stream ended"
    );
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

fn failing_stream_ends_with_trailers(bins: &Bins) {
    let server = Server::start().unwrap();
    let _proc = spawn(&server, bins.stream_fail);
    let id = server.invoke(Invocation::new(&b"{\"pause_ms\":10}"[..]));
    let o = server.wait_outcome(&id, WAIT).expect("the stream's end");
    assert_eq!(
        o.kind,
        OutcomeKind::Response,
        "an error after the first byte stays a /response"
    );
    assert_eq!(
        o.body_str(),
        "chunk 0\nchunk 1\nchunk 2\n",
        "the error is not mixed into the body"
    );
    let r = &o.request;
    assert_eq!(
        r.trailer("Lambda-Runtime-Function-Error-Type"),
        Some("StreamFailed")
    );
    let b64 = r
        .trailer("Lambda-Runtime-Function-Error-Body")
        .expect("error body trailer");
    let doc = json(&common::unbase64(b64));
    assert_eq!(doc["errorType"], "StreamFailed");
    assert_eq!(doc["errorMessage"], "failed after 3 chunks");
    assert_eq!(server.outcomes().len(), 1);
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

fn graceful_shutdown_runs_the_hook(bins: &Bins) {
    let server = Server::start().unwrap();
    let mut cmd = server.command(Path::new(bins.fail));
    cmd.env("LAMINA_EXAMPLE_GRACEFUL", "1");
    let mut proc = Proc::spawn(cmd);
    let id = server.invoke(Invocation::new(&b"{\"sleep_ms\":300}"[..]));
    // Wait (bounded) until the invocation is in the handler, then SIGTERM.
    let end = Instant::now() + WAIT;
    while server.in_flight() == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
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
    let pending = reqs
        .iter()
        .position(|r| r.path == "/2020-01-01/extension/event/next")
        .expect("its event/next stays pending");
    let next = reqs
        .iter()
        .position(|r| r.path.ends_with("/invocation/next"))
        .expect("init completed: /next");
    // Register completes before either; the pending event/next and the first /next arrive on two
    // connections, so the server may record them in either order.
    assert!(register < pending && register < next);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &proc.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
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
    #[test]
    fn failing_stream_ends_with_trailers() {
        super::failing_stream_ends_with_trailers(&super::STD)
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
    #[test]
    fn failing_stream_ends_with_trailers() {
        super::failing_stream_ends_with_trailers(&super::MIO)
    }
}
