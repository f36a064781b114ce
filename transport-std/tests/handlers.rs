//! Hand-written [`Handler`]s and settings read through a lookup (issue 12), on the blocking
//! transport and on the mio one (`RuntimeOn<Mio>`, the same builder): the runtime serves on a
//! thread of this process, against the fake Runtime API (`lamina-server`) on 127.0.0.1, and stops
//! when `/next` is answered 403. Every wait is bounded and synchronised by the server or a
//! channel, never a sleep.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use lamina_server::{Fault, Invocation, Outcome, OutcomeKind, Server};
use lamina_std::transport::Transport;
use lamina_std::{Context, Handler, Output, Reply, ResponseStream, RuntimeOn, streaming};

const WAIT: Duration = Duration::from_secs(10);
const ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";

/// A runtime keeps process-wide state (its `_X_AMZN_TRACE_ID` buffer, the log settings, the
/// SIGTERM handler): the tests of this file run one runtime at a time.
fn one_runtime() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Lambda environment pointing at `server`, with `extra` added (or replacing), as a lookup:
/// nothing is read from this process's environment.
fn lookup(server: &Server, extra: &[(&str, &str)]) -> impl FnMut(&str) -> Option<String> + 'static {
    let mut env: HashMap<String, String> = server.lambda_env().into_iter().collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    move |name| env.get(name).cloned()
}

/// A runtime serving `handler` on transport `T` on a thread; its exit code arrives on the
/// receiver.
fn serve<T: Transport + 'static, H: Handler>(
    server: &Server,
    extra: &[(&str, &str)],
    handler: H,
) -> Receiver<i32> {
    let lookup = lookup(server, extra);
    let (tx, rx) = channel();
    thread::spawn(move || {
        let code = RuntimeOn::<T>::with_lookup(lookup).serve(handler);
        let _ = tx.send(code);
    });
    rx
}

/// Stops the runtime (`/next` answered 403: it exits 1) and checks that it was still serving.
fn stop(server: &Server, exit: &Receiver<i32>) {
    assert!(exit.try_recv().is_err(), "the runtime had stopped");
    server.invoke(Invocation::new("{}").fault(Fault::Status(403)));
    assert_eq!(exit.recv_timeout(WAIT), Ok(1), "the runtime did not stop");
}

fn outcome(server: &Server, id: &str) -> Outcome {
    server
        .wait_outcome(id, WAIT)
        .unwrap_or_else(|| panic!("no answer for {id}: {:#?}", server.requests()))
}

/// `write:<text>` leaves `<text>` in `out.body`; `error:<text>` reports it as an error;
/// anything else returns `Reply::Output` without writing anything.
struct LeavesOutput;

impl Handler for LeavesOutput {
    fn call<'a>(&self, _ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        if let Some(text) = event.strip_prefix(b"write:") {
            out.body.extend_from_slice(text);
        } else if let Some(text) = event.strip_prefix(b"error:") {
            return out.error("Previous", &String::from_utf8_lossy(text));
        }
        Reply::Output
    }

    fn content_type(&self) -> &str {
        "text/plain"
    }
}

/// `Reply::Output` with nothing written sends an empty body, never what an earlier invocation
/// left in the output buffer (a body or an error message).
fn output_not_written_is_empty<T: Transport + 'static>() {
    let _one = one_runtime();
    let server = Server::start().unwrap();
    let exit = serve::<T, _>(&server, &[], LeavesOutput);
    let first = server.invoke(Invocation::new("write:the previous body"));
    let empty = server.invoke(Invocation::new("nothing"));
    let failed = server.invoke(Invocation::new("error:the previous message"));
    let empty2 = server.invoke(Invocation::new("nothing"));
    assert_eq!(outcome(&server, &first).body_str(), "the previous body");
    assert_eq!(outcome(&server, &failed).kind, OutcomeKind::Error);
    for id in [&empty, &empty2] {
        let o = outcome(&server, id);
        assert_eq!(o.kind, OutcomeKind::Response);
        assert_eq!(o.body_str(), "", "a stale body was sent");
        assert_eq!(o.request.header("Content-Length"), Some("0"));
    }
    stop(&server, &exit);
}

#[test]
fn std_output_not_written_is_empty() {
    output_not_written_is_empty::<lamina_std::Blocking>();
}

#[test]
fn mio_output_not_written_is_empty() {
    output_not_written_is_empty::<lamina_mio::Mio>();
}

/// A `Content-Type` that cannot be a header value (a CR LF and an injected header after it).
struct BadContentType;

impl Handler for BadContentType {
    fn call<'a>(&self, _ctx: &Context, event: &'a [u8], _out: &mut Output) -> Reply<'a> {
        Reply::Body(event)
    }

    fn content_type(&self) -> &str {
        "text/plain\r\nX-Injected: 1"
    }
}

/// An invalid `Handler::content_type`: each invocation gets a clear `/error` (`InvalidResponse`),
/// nothing is injected, and the runtime keeps serving.
fn invalid_content_type_is_an_error<T: Transport + 'static>() {
    let _one = one_runtime();
    let server = Server::start().unwrap();
    let exit = serve::<T, _>(&server, &[], BadContentType);
    let ids: Vec<String> = (0..2)
        .map(|i| server.invoke(Invocation::new(format!("event {i}"))))
        .collect();
    for id in &ids {
        let o = outcome(&server, id);
        assert_eq!(o.kind, OutcomeKind::Error, "{o:?}");
        assert_eq!(o.request.header(ERROR_TYPE), Some("InvalidResponse"));
        let v: serde_json::Value = serde_json::from_slice(&o.request.body).unwrap();
        assert_eq!(v["errorType"], "InvalidResponse");
        assert!(
            v["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("Content-Type")),
            "{v}"
        );
    }
    for r in server.requests() {
        assert!(r.header("X-Injected").is_none(), "{r:?}");
    }
    assert_eq!(server.outcomes().len(), ids.len(), "one answer each");
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    stop(&server, &exit);
}

#[test]
fn std_invalid_content_type_is_an_error() {
    invalid_content_type_is_an_error::<lamina_std::Blocking>();
}

#[test]
fn mio_invalid_content_type_is_an_error() {
    invalid_content_type_is_an_error::<lamina_mio::Mio>();
}

/// Sets the event as the stream's `Content-Type` and says in the body whether that was refused.
fn set_event_as_content_type(
    _ctx: &Context,
    event: &[u8],
    out: &mut ResponseStream<'_>,
) -> std::io::Result<()> {
    let ct = String::from_utf8_lossy(event).into_owned();
    let said: &[u8] = match out.set_content_type(ct) {
        Ok(()) => b"accepted",
        Err(_) => b"refused",
    };
    out.write(said)
}

/// `ResponseStream::set_content_type` with a value that cannot be a header value returns an
/// error to the handler (the stream keeps its default type); a valid one is used.
fn stream_content_type_checked<T: Transport + 'static>() {
    let _one = one_runtime();
    let server = Server::start().unwrap();
    let exit = serve::<T, _>(&server, &[], streaming(set_event_as_content_type));
    let cases = [
        ("text/plain\r\nX-Injected: 1", "refused"),
        ("text/plain\nX-Injected: 1", "refused"),
        ("text/\0plain", "refused"),
        ("text/csv; charset=utf-8", "accepted"),
    ];
    for (ct, said) in cases {
        let id = server.invoke(Invocation::new(ct));
        let o = outcome(&server, &id);
        assert_eq!(
            (o.kind, o.body_str()),
            (OutcomeKind::Response, said),
            "{ct:?}"
        );
        let want = if said == "accepted" {
            ct
        } else {
            "application/octet-stream"
        };
        assert_eq!(o.request.header("Content-Type"), Some(want), "{ct:?}");
        assert!(o.request.header("X-Injected").is_none(), "{o:?}");
    }
    stop(&server, &exit);
}

#[test]
fn std_stream_content_type_checked() {
    stream_content_type_checked::<lamina_std::Blocking>();
}

#[test]
fn mio_stream_content_type_checked() {
    stream_content_type_checked::<lamina_mio::Mio>();
}

/// Settings read through `with_lookup` only (`AWS_LAMBDA_RUNTIME_API` is not in this process's
/// environment) with an invalid memory size: the `/init/error` goes to the endpoint the lookup
/// named, and the runtime exits non-zero without polling `/next`.
fn config_error_reported_through_the_lookup<T: Transport + 'static>() {
    let _one = one_runtime();
    assert!(
        std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none(),
        "run these tests without AWS_LAMBDA_RUNTIME_API in the environment"
    );
    let server = Server::start().unwrap();
    let exit = serve::<T, _>(
        &server,
        &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")],
        LeavesOutput,
    );
    let code = exit.recv_timeout(WAIT).expect("the runtime exits");
    assert_ne!(code, 0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/2018-06-01/runtime/init/error")
    );
    assert_eq!(reqs[0].header(ERROR_TYPE), Some("Runtime.InvalidConfig"));
    let v: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert!(
        v["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")),
        "{v}"
    );
    assert_eq!(server.next_polls(), 0);
}

#[test]
fn std_config_error_reported_through_the_lookup() {
    config_error_reported_through_the_lookup::<lamina_std::Blocking>();
}

#[test]
fn mio_config_error_reported_through_the_lookup() {
    config_error_reported_through_the_lookup::<lamina_mio::Mio>();
}
