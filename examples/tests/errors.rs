//! Issue 15, items 3 to 6, on the std, mio and async forms (the `port` binaries): errors as
//! `lambda_runtime` users expect them (a `From<MyError> for Diagnostic` names the type; every
//! failure logged with its request id; field paths in bad events), the function's settings
//! from the handler, layers that keep a stream and a content type, one chunk per `writeln!`,
//! and start-up lines printed once.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;

use common::{Proc, WAIT, assert_error, bare_command, closed_port, json};
use lamina_server::{Invocation, Outcome, OutcomeKind, Server, ServerConfig};

/// A `port` binary (see `lamina_examples::port`).
#[derive(Debug, Clone, Copy)]
struct Port {
    name: &'static str,
    path: &'static str,
}

const PORTS: [Port; 3] = [
    Port {
        name: "std",
        path: env!("CARGO_BIN_EXE_std-port"),
    },
    Port {
        name: "mio",
        path: env!("CARGO_BIN_EXE_port"),
    },
    Port {
        name: "async",
        path: env!("CARGO_BIN_EXE_async-port"),
    },
];

fn start(port: Port, mode: Option<&str>, cfg: ServerConfig) -> (Server, Proc) {
    let server = Server::start_with(cfg).unwrap();
    let mut cmd = server.command(Path::new(port.path));
    if let Some(mode) = mode {
        cmd.env("LAMINA_EXAMPLE_PORT", mode);
    }
    let proc = Proc::spawn(cmd);
    (server, proc)
}

fn outcome(server: &Server, proc: &Proc, port: Port, body: &str) -> (String, Outcome) {
    let id = server.invoke(Invocation::new(body.as_bytes().to_vec()));
    let o = server
        .wait_outcome(&id, WAIT)
        .unwrap_or_else(|| panic!("{}: no answer to {body}\n{}", port.name, proc.stderr()));
    (id, o)
}

/// The stderr line about `id` that says `needle`, waited for.
fn logged(proc: &Proc, port: Port, id: &str, needle: &str) {
    assert!(
        proc.wait_stderr_line(&[id, needle], WAIT),
        "{}: no line with {id} and {needle:?}\n{}",
        port.name,
        proc.stderr()
    );
}

/// `impl From<OrderError> for Diagnostic` names the `errorType`; the failure is logged with the
/// request id; a plain message is still the error's `Display`.
#[test]
fn a_from_impl_names_the_error_type() {
    for port in PORTS {
        let (server, proc) = start(port, None, ServerConfig::default());
        let (id, o) = outcome(
            &server,
            &proc,
            port,
            r#"{"Records":[{"body":"ok"},{"body":"missing"}]}"#,
        );
        let v = assert_error(&o, &id, "OrderNotFound");
        assert_eq!(
            v["errorMessage"], "message 1: no such order",
            "{}",
            port.name
        );
        logged(&proc, port, &id, "OrderNotFound: message 1: no such order");
        let (id, o) = outcome(&server, &proc, port, r#"{"Records":[{"body":"invalid"}]}"#);
        assert_error(&o, &id, "InvalidOrder");
        logged(&proc, port, &id, "InvalidOrder");
        // The layer saw the error the handler left.
        logged(&proc, port, &id, "layer: after");
    }
}

/// An event that does not fit: `InvalidEvent`, naming the field path, logged with the id.
#[test]
fn an_invalid_event_names_the_field_path() {
    for port in PORTS {
        let (server, proc) = start(port, None, ServerConfig::default());
        let (id, o) = outcome(
            &server,
            &proc,
            port,
            r#"{"Records":[{"body":"ok"},{"body":5}]}"#,
        );
        let v = assert_error(&o, &id, "InvalidEvent");
        let msg = v["errorMessage"].as_str().unwrap();
        assert!(
            msg.contains("Records[1].body: invalid type: integer `5`, expected a string"),
            "{}: {msg}",
            port.name
        );
        logged(&proc, port, &id, "Records[1].body: invalid type");
    }
}

/// `lamina_std::config()` in the handler: the function's settings.
#[test]
fn settings_reachable_from_the_handler() {
    for port in PORTS {
        let cfg = ServerConfig {
            function_name: "orders".into(),
            function_version: "7".into(),
            memory_mb: 1024,
            ..ServerConfig::default()
        };
        let (server, proc) = start(port, None, cfg);
        let (_, o) = outcome(&server, &proc, port, r#"{"Records":[{"body":"settings"}]}"#);
        assert_eq!(o.kind, OutcomeKind::Response, "{}", o.body_str());
        let v = &json(&o.request.body)[0];
        assert_eq!(v["function_name"], "orders", "{}", port.name);
        assert_eq!(v["function_version"], "7");
        assert_eq!(v["memory_mb"], 1024);
        assert!(v["log_group"].is_string() && v["log_stream"].is_string());
    }
}

/// A layer around a typed streaming handler: still streamed, with the handler's content type,
/// one chunk per `writeln!` (not per format piece).
#[test]
fn a_layer_keeps_the_stream_and_write_makes_one_chunk_per_call() {
    for port in PORTS {
        let (server, proc) = start(port, Some("stream"), ServerConfig::default());
        let (id, o) = outcome(&server, &proc, port, r#"{"lines":3}"#);
        assert_eq!(
            o.kind,
            OutcomeKind::Response,
            "{}\n{}",
            port.name,
            proc.stderr()
        );
        let r = &o.request;
        assert_eq!(
            r.header("Lambda-Runtime-Function-Response-Mode"),
            Some("streaming"),
            "{}: {r:?}",
            port.name
        );
        assert_eq!(
            r.header("Content-Type"),
            Some("text/plain"),
            "{}",
            port.name
        );
        assert_eq!(o.body_str(), "line 1 of 3\nline 2 of 3\nline 3 of 3\n");
        assert_eq!(
            r.chunks,
            [12, 12, 12],
            "{}: one chunk per writeln!",
            port.name
        );
        logged(&proc, port, &id, "layer: after");
        // A bad event is an ordinary /error, before any byte is streamed.
        let (id, o) = outcome(&server, &proc, port, r#"{"lines":"x"}"#);
        assert_error(&o, &id, "InvalidEvent");
    }
}

/// A layer around a raw handler keeps its content type.
#[test]
fn a_layer_keeps_the_content_type() {
    for port in PORTS {
        let (server, proc) = start(port, Some("raw"), ServerConfig::default());
        let (_, o) = outcome(&server, &proc, port, "raw bytes");
        assert_eq!(o.kind, OutcomeKind::Response);
        assert_eq!(o.body_str(), "raw bytes");
        assert_eq!(
            o.request.header("Content-Type"),
            Some("application/octet-stream"),
            "{}",
            port.name
        );
    }
}

/// How many lines of `text` hold `needle`.
fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// Start-up: each fact on one line (an init failure, an invalid setting), a refused
/// connection logged at once and then the give-up, and the missing-variable line naming the
/// command that runs a bootstrap locally. On the sync and async forms.
#[test]
fn start_up_lines_are_printed_once() {
    let fails = [
        env!("CARGO_BIN_EXE_std-fail"),
        env!("CARGO_BIN_EXE_fail"),
        env!("CARGO_BIN_EXE_async-fail"),
    ];
    for bin in fails {
        let server = Server::start().unwrap();
        let mut cmd = server.command(Path::new(bin));
        cmd.env("LAMINA_EXAMPLE_FAIL_INIT", "no database");
        let mut proc = Proc::spawn(cmd);
        common::expect_failure_exit(&mut proc, bin);
        let err = proc.stderr();
        assert_eq!(count(&err, "no database"), 1, "{bin}:\n{err}");
        assert_eq!(
            count(&err, "init failed: Init.Failed: no database"),
            1,
            "{err}"
        );

        let server = Server::start_with(ServerConfig::default()).unwrap();
        let mut cmd = server.command(Path::new(bin));
        cmd.env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots");
        let mut proc = Proc::spawn(cmd);
        common::expect_failure_exit(&mut proc, bin);
        let err = proc.stderr();
        assert_eq!(
            count(&err, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
            1,
            "{bin}:\n{err}"
        );

        let api = format!("127.0.0.1:{}", closed_port());
        let mut proc = Proc::spawn(bare_command(
            bin,
            &[
                ("AWS_LAMBDA_RUNTIME_API", &api),
                ("LAMINA_RECONNECT_TIMEOUT_MS", "3000"),
            ],
        ));
        // Said at the first refusal, long before the give-up.
        assert!(
            proc.wait_stderr(
                "cannot reach the Runtime API; retrying",
                std::time::Duration::from_secs(2)
            ),
            "{bin}:\n{}",
            proc.stderr()
        );
        common::expect_failure_exit(&mut proc, bin);
        let err = proc.stderr();
        assert_eq!(
            count(&err, "cannot reach the Runtime API"),
            2,
            "{bin}:\n{err}"
        );
        assert_eq!(count(&err, "gave up"), 1, "{bin}:\n{err}");

        let mut proc = Proc::spawn(bare_command(bin, &[]));
        common::expect_failure_exit(&mut proc, bin);
        let err = proc.stderr();
        assert_eq!(err.lines().count(), 1, "{bin}:\n{err}");
        assert!(
            err.contains("AWS_LAMBDA_RUNTIME_API is not set")
                && err.contains("lamina-server -- --bootstrap"),
            "{bin}:\n{err}"
        );
    }
}

/// Handler errors and panics of the sync and async `fail` are logged with their request id.
#[test]
fn handler_errors_and_panics_are_logged_with_the_request_id() {
    let fails = [
        env!("CARGO_BIN_EXE_std-fail"),
        env!("CARGO_BIN_EXE_fail"),
        env!("CARGO_BIN_EXE_async-fail"),
    ];
    for bin in fails {
        let server = Server::start().unwrap();
        let proc = Proc::spawn(server.command(Path::new(bin)));
        let id = server.invoke(Invocation::new(r#"{"error":"out of stock"}"#));
        let o = server.wait_outcome(&id, WAIT).expect("an answer");
        assert_error(&o, &id, "FailRequested");
        assert!(
            proc.wait_stderr_line(&[&id, "FailRequested: out of stock"], WAIT),
            "{bin}:\n{}",
            proc.stderr()
        );
        let id = server.invoke(Invocation::new(r#"{"panic":"oh no"}"#));
        let o = server.wait_outcome(&id, WAIT).expect("an answer");
        assert_error(&o, &id, "Handler.Panic");
        assert!(
            proc.wait_stderr_line(&[&id, "Handler.Panic: oh no"], WAIT),
            "{bin}:\n{}",
            proc.stderr()
        );
    }
}
