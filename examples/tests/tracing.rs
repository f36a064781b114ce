//! Issue 15, item 2: the `tracing` feature's subscriber, through the `traced` example (an async
//! handler logging with `tracing`, the `log` facade, and from a task spawned in its span).

#[path = "common/mod.rs"]
mod common;

use std::path::Path;

use common::{Proc, WAIT};
use lamina_server::{Invocation, OutcomeKind, Server};
use serde_json::Value;

const TRACED: &str = env!("CARGO_BIN_EXE_traced");

/// Runs `traced` with `env`, answers one invocation (`event`, with a trace id) and returns its
/// request id and stderr up to the spawned task's line.
fn run(env: &[(&str, &str)], event: &str) -> (String, String) {
    let server = Server::start().unwrap();
    let mut cmd = server.command(Path::new(TRACED));
    cmd.envs(env.iter().copied());
    let proc = Proc::spawn(cmd);
    let id =
        server.invoke(Invocation::new(event.as_bytes().to_vec()).trace_id("Root=1-abc;Sampled=1"));
    let o = server
        .wait_outcome(&id, WAIT)
        .unwrap_or_else(|| panic!("no answer\n{}", proc.stderr()));
    assert_eq!(
        o.kind,
        OutcomeKind::Response,
        "{}\n{}",
        o.body_str(),
        proc.stderr()
    );
    assert!(
        proc.wait_stderr("in a spawned task", WAIT),
        "no line from the spawned task\n{}",
        proc.stderr()
    );
    (id, proc.stderr())
}

fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn find<'a>(lines: &'a [Value], message: &str) -> &'a Value {
    lines
        .iter()
        .find(|v| v["message"] == message)
        .unwrap_or_else(|| panic!("no line {message:?} in {lines:#?}"))
}

/// JSON: the event's fields are keys with JSON values, and every line of the invocation
/// (the spawned task's too) carries its request id and X-Ray trace id.
#[test]
fn json_lines_have_fields_and_the_invocation_span() {
    let (id, stderr) = run(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")], "{}");
    let lines = json_lines(&stderr);
    let processed = find(&lines, "processed");
    assert_eq!(processed["level"], "INFO");
    assert_eq!(processed["order_id"], 42);
    assert_eq!(processed["paid"], true);
    assert_eq!(processed["note"], "a \"quoted\" note");
    assert_eq!(processed["requestId"], id.as_str());
    assert_eq!(processed["xrayTraceId"], "Root=1-abc;Sampled=1");
    let spawned = find(&lines, "in a spawned task");
    assert_eq!(spawned["task"], 1);
    assert_eq!(spawned["requestId"], id.as_str());
    assert_eq!(spawned["xrayTraceId"], "Root=1-abc;Sampled=1");
    let facade = find(&lines, "through the log facade");
    assert_eq!(
        (facade["level"].as_str(), facade["requestId"].as_str()),
        (Some("WARN"), Some(id.as_str()))
    );
    // INFO by default: no DEBUG line.
    assert!(!stderr.contains("debug"), "{stderr}");
}

/// Text: lamina's line format, the fields after the message.
#[test]
fn text_lines_keep_the_format() {
    let (id, stderr) = run(&[], "{}");
    let line = stderr
        .lines()
        .find(|l| l.contains("processed"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let parts: Vec<&str> = line.splitn(4, '\t').collect();
    assert_eq!(parts.len(), 4, "{line}");
    assert_eq!(parts[1], id);
    assert_eq!(parts[2], "INFO");
    assert_eq!(
        parts[3],
        r#"processed order_id=42 paid=true note=a "quoted" note"#
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(&format!("\t{id}\tINFO\tin a spawned task task=1"))),
        "{stderr}"
    );
}

/// `RUST_LOG` per-target directives; `AWS_LAMBDA_LOG_LEVEL` is the default they refine.
#[test]
fn rust_log_filters_per_target() {
    let (_, stderr) = run(&[("RUST_LOG", "info,lamina_examples::noisy=debug")], "{}");
    assert!(stderr.contains("noisy debug"), "{stderr}");
    assert!(!stderr.contains("quiet debug"), "{stderr}");
    let (_, stderr) = run(
        &[
            ("RUST_LOG", "debug,lamina_examples::traced=info"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
        ],
        "{}",
    );
    // WARN is the default; the directive for the handler's module lets its INFO lines through.
    assert!(stderr.contains("processed"), "{stderr}");
    assert!(
        !stderr.contains("noisy debug") && !stderr.contains("quiet debug"),
        "{stderr}"
    );
}

/// An invalid level or directive is reported, not ignored silently.
#[test]
fn invalid_levels_are_reported() {
    let (_, stderr) = run(
        &[
            ("AWS_LAMBDA_LOG_LEVEL", "LOUD"),
            ("RUST_LOG", "info,app=chatty"),
        ],
        "{}",
    );
    assert!(
        stderr.contains("AWS_LAMBDA_LOG_LEVEL is invalid"),
        "{stderr}"
    );
    assert!(
        stderr.contains("RUST_LOG: ignoring \"app=chatty\""),
        "{stderr}"
    );
}

/// A 10 KB line is written whole; a line over 256 KiB is cut, and the cut is marked.
#[test]
fn long_lines_are_not_cut_silently() {
    let (_, stderr) = run(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")], r#"{"long":10000}"#);
    let lines = json_lines(&stderr);
    assert!(
        lines.iter().any(|v| v["message"] == "x".repeat(10_000)),
        "no whole 10 KB line"
    );
    let (_, stderr) = run(&[], r#"{"long":300000}"#);
    let line = stderr
        .lines()
        .find(|l| l.contains("xxxx"))
        .unwrap_or_else(|| panic!("no long line"));
    assert!(
        line.ends_with(" bytes cut]"),
        "{}",
        &line[line.len() - 40..]
    );
    assert!(line.len() <= 256 * 1024 + 100, "{}", line.len());
}
