//! DESIGN sections 3 and 5: malformed `/next`, the Runtime API's refusals, lost answers,
//! initialisation and settings, and the handler's failures.

use std::time::{Duration, Instant};

use lamina_server::{Answer, Fault, Invocation, ServerConfig};
use serde_json::json;

use crate::common::*;

// ---------------------------------------------------------------------------------------------
/// A request id with `/` is malformed: never placed in a path; logged; polls again.
pub(crate) fn request_id_with_slash_never_reflected(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let bad = h.invoke(Invocation::new(r#"{"name":"X"}"#).request_id("../../init/error"));
    let bad2 = h.invoke(Invocation::new(r#"{"name":"Y"}"#).request_id("a/b"));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_only_runtime_requests(&[&last], false);
    for r in h.server.requests() {
        assert!(!r.path.contains(&bad) && !r.path.contains(&bad2), "{r:?}");
    }
    h.expect_stderr("malformed");
}

/// A request id holding a bare CR (and what would be an injected header after it) is malformed
/// and never reflected, neither in a path nor as a header.
pub(crate) fn request_id_with_cr_never_reflected(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).request_id("evil\rX-Injected: 1"));
    h.invoke(Invocation::new(r#"{"name":"X"}"#).request_id("sp ace"));
    h.invoke(Invocation::new(r#"{"name":"X"}"#).request_id("quo\"te"));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_only_runtime_requests(&[&last], false);
    for r in h.server.requests() {
        assert!(
            !r.path.contains("evil")
                && !r.path.contains("quo")
                && !r.path.contains(['\r', ' ', '"', '%']),
            "{r:?}"
        );
        assert!(r.header("X-Injected").is_none(), "{r:?}");
    }
}

/// A request id over 128 bytes is malformed; exactly 128 is fine.
pub(crate) fn request_id_too_long(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let long = h.invoke(Invocation::new(r#"{"name":"X"}"#).request_id("r".repeat(129)));
    let max = h.invoke(Invocation::new(r#"{"name":"M"}"#).request_id("m".repeat(128)));
    assert_response(&h.outcome(&max), &max, br#""Hello M!""#);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&max, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&max, &last], false);
    assert!(h.server.requests().iter().all(|r| !r.path.contains(&long)));
}

/// `_X_AMZN_TRACE_ID` is set per invocation to that invocation's trace id, and unset when one
/// comes without (never a stale value).
pub(crate) fn trace_id_env_per_invocation(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let traces: Vec<String> = (1..=3)
        .map(|i| {
            format!(
                "Root=1-65f00000-00000000000000000000000{i};Parent=000000000000000{i};Sampled=1"
            )
        })
        .collect();
    let ids: Vec<String> = traces
        .iter()
        .map(|tr| h.invoke(Invocation::new("{}").trace_id(tr)))
        .collect();
    let none = h.invoke(Invocation::new("{}").omit("Lambda-Runtime-Trace-Id"));
    let mut seen = Vec::new();
    for (id, tr) in ids.iter().zip(&traces) {
        let v = json(&h.outcome(id).request.body);
        assert_eq!(v["env_trace_id"], tr.as_str(), "{v}");
        assert_eq!(v["xray_trace_id"], tr.as_str(), "{v}");
        seen.push(v["env_trace_id"].clone());
    }
    seen.dedup();
    assert_eq!(seen.len(), 3);
    let v = json(&h.outcome(&none).request.body);
    assert!(v["xray_trace_id"].is_null(), "{v}");
    assert!(v["env_trace_id"].is_null(), "stale _X_AMZN_TRACE_ID: {v}");
    let last = h.sentinel();
    let mut counts: Vec<(&str, usize)> = ids.iter().map(|i| (i.as_str(), 1)).collect();
    counts.extend([(none.as_str(), 1), (last.as_str(), 1)]);
    h.expect_answer_counts(&counts);
}

/// A `/next` head over 16 KiB whose request id came before the padding: `/error`
/// `Runtime.InvalidInvocation` for that id, then the next invocation is served.
pub(crate) fn oversized_head_with_known_id(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::PadHeader(20 * 1024)));
    assert_error(&h.outcome(&id), &id, "Runtime.InvalidInvocation");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&id, &last], false);
    h.expect_running();
}

/// An oversized head with no request id: logged, polls again.
pub(crate) fn oversized_head_without_id(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(
        Invocation::new(r#"{"name":"X"}"#)
            .omit("Lambda-Runtime-Aws-Request-Id")
            .fault(Fault::PadHeader(20 * 1024)),
    );
    let last = h.sentinel();
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_only_runtime_requests(&[&last], false);
    h.expect_stderr("malformed");
    h.expect_running();
}

/// A non-numeric deadline with a valid id: `/error` `Runtime.InvalidInvocation`.
pub(crate) fn invalid_deadline_with_known_id(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let a =
        h.invoke(Invocation::new(r#"{"name":"X"}"#).header("Lambda-Runtime-Deadline-Ms", "soon"));
    let b = h.invoke(Invocation::new(r#"{"name":"X"}"#).header("Lambda-Runtime-Deadline-Ms", "-1"));
    assert_error(&h.outcome(&a), &a, "Runtime.InvalidInvocation");
    assert_error(&h.outcome(&b), &b, "Runtime.InvalidInvocation");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
}

/// A missing deadline with a valid id: `/error` `Runtime.InvalidInvocation`.
pub(crate) fn missing_deadline_with_known_id(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let a = h.invoke(Invocation::new(r#"{"name":"X"}"#).omit("Lambda-Runtime-Deadline-Ms"));
    assert_error(&h.outcome(&a), &a, "Runtime.InvalidInvocation");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&last, 1)]);
}

/// No request id at all: nothing can be answered; logged, polls again.
pub(crate) fn missing_request_id(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).omit("Lambda-Runtime-Aws-Request-Id"));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_only_runtime_requests(&[&last], false);
    h.expect_stderr("malformed");
    h.expect_running();
}

/// Not HTTP at all: logged, polls again (on a new connection), next invocation served.
pub(crate) fn garbage_head(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new("").fault(Fault::Raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec())));
    h.invoke(Invocation::new("").fault(Fault::Raw(
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id\r\n\r\n".to_vec(),
    )));
    h.invoke(Invocation::new("").fault(Fault::Raw(b"\0\x01\x02\xff\xfe\r\n\r\n".to_vec())));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_only_runtime_requests(&[&last], false);
    h.expect_stderr("malformed");
    h.expect_running();
}

/// A head cut short by the server closing: with no id yet, logged and polled again; with the id
/// line already read, `/error` `Runtime.InvalidInvocation` for it (never a silent re-poll).
pub(crate) fn truncated_head(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new("").fault(Fault::Raw(b"HTTP/1.1 200 OK\r\nContent-Le".to_vec())));
    h.invoke(Invocation::new("").fault(Fault::Raw(b"HTTP/1.1 2".to_vec())));
    let known = "cut-after-the-id";
    let raw =
        format!("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {known}\r\nLambda-Runtime-Dead");
    h.invoke(
        Invocation::new("")
            .request_id(known)
            .fault(Fault::Raw(raw.into_bytes())),
    );
    assert_error(&h.outcome(known), known, "Runtime.InvalidInvocation");
    let last = h.sentinel();
    h.expect_answer_counts(&[(known, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[known, &last], false);
    h.expect_stderr("malformed");
    h.expect_running();
}

/// EOF in the middle of the `/next` status line: reconnect, poll again.
pub(crate) fn connection_closed_mid_next(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::CloseAfter(10)));
    h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::CloseAfter(0)));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_only_runtime_requests(&[&last], false);
    assert!(h.server.connections() >= 3, "{}", h.diag());
    h.expect_running();
}

/// RST in the middle of `/next`: reconnect, poll again.
pub(crate) fn connection_reset_mid_next(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::ResetAfter(10)));
    h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::ResetAfter(0)));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_only_runtime_requests(&[&last], false);
    assert!(h.server.connections() >= 3, "{}", h.diag());
    h.expect_running();
}

/// EOF in the middle of the event body (the id was read): `/error` `Runtime.InvalidInvocation`
/// for it, never a `/response` for a partial event; the next invocation is served. After a reset
/// the bytes already received may be lost with it: then nothing is known and nothing answered.
pub(crate) fn closed_mid_body(t: &Transport) {
    let mut h = Harness::start(t, Bin::Echo);
    let body = "x".repeat(4000);
    let cut = h.invoke(Invocation::new(body.as_str()).fault(Fault::CloseAfter(2000)));
    let chunked = "cut-in-a-chunk";
    let raw = format!(
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {chunked}\r\n\
         Lambda-Runtime-Deadline-Ms: 1\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nabcde\r\n10\r\nabc"
    );
    h.invoke(
        Invocation::new("")
            .request_id(chunked)
            .fault(Fault::Raw(raw.into_bytes())),
    );
    let reset = h.invoke(Invocation::new(body.as_str()).fault(Fault::ResetAfter(2000)));
    assert_error(&h.outcome(&cut), &cut, "Runtime.InvalidInvocation");
    assert_error(&h.outcome(chunked), chunked, "Runtime.InvalidInvocation");
    let last = h.sentinel();
    let answers = h.outcomes_for(&reset);
    assert!(answers.len() <= 1, "{}", h.diag());
    for o in &answers {
        assert_error(o, &reset, "Runtime.InvalidInvocation");
    }
    h.expect_answer_counts(&[(&cut, 1), (chunked, 1), (&reset, answers.len()), (&last, 1)]);
    h.expect_only_runtime_requests(&[&cut, chunked, &reset, &last], false);
    h.expect_running();
}

/// A chunked `/next` body (chunks of 1 and 7 bytes) is joined; the connection stays usable.
pub(crate) fn chunked_next_body(t: &Transport) {
    let h = Harness::start(t, Bin::Echo);
    let body: String = (0..300)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let a = h.invoke(Invocation::new(body.as_str()).fault(Fault::Chunked(7)));
    let b = h.invoke(Invocation::new(body.as_str()).fault(Fault::Chunked(1)));
    let c = h.invoke(Invocation::new("").fault(Fault::Chunked(4)));
    assert_response(&h.outcome(&a), &a, body.as_bytes());
    assert_response(&h.outcome(&b), &b, body.as_bytes());
    assert_response(&h.outcome(&c), &c, b"");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&c, 1), (&last, 1)]);
}

/// An event over `LAMINA_MAX_EVENT_BYTES` (plain or chunked) is drained and answered with
/// `/error`; one at the limit is served; the next invocation is served.
pub(crate) fn event_over_max(t: &Transport) {
    let mut h = Harness::start_with(
        t,
        Bin::Echo,
        ServerConfig::default(),
        &[("LAMINA_MAX_EVENT_BYTES", "64")],
    );
    let at_max = "m".repeat(64);
    let big = "b".repeat(5000);
    let a = h.invoke(Invocation::new(big.as_str()));
    let b = h.invoke(Invocation::new(big.as_str()).fault(Fault::Chunked(100)));
    let c = h.invoke(Invocation::new(at_max.as_str()));
    let d = h.invoke(Invocation::new("x".repeat(65)));
    for id in [&a, &b, &d] {
        let v = assert_error(&h.outcome(id), id, "Runtime.InvalidInvocation");
        assert!(!v["errorMessage"].as_str().unwrap_or("").is_empty(), "{v}");
    }
    assert_response(&h.outcome(&c), &c, at_max.as_bytes());
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&c, 1), (&d, 1), (&last, 1)]);
    h.expect_running();
    // Drained, not dropped: the keep-alive connection carried on through all of it.
    assert_eq!(h.server.connections(), 1, "{}", h.diag());
}

/// A response over `LAMINA_MAX_RESPONSE_BYTES`: `/error` `Function.ResponseSizeTooLarge`,
/// never a (truncated) `/response`; one at the limit is sent whole.
pub(crate) fn response_over_max(t: &Transport) {
    let mut h = Harness::start_with(
        t,
        Bin::Echo,
        ServerConfig::default(),
        &[("LAMINA_MAX_RESPONSE_BYTES", "100")],
    );
    let over = h.invoke(Invocation::new("o".repeat(101)));
    let at = h.invoke(Invocation::new("a".repeat(100)));
    let o = h.outcome(&over);
    assert_error(&o, &over, "Function.ResponseSizeTooLarge");
    assert_response(&h.outcome(&at), &at, "a".repeat(100).as_bytes());
    let last = h.sentinel();
    h.expect_answer_counts(&[(&over, 1), (&at, 1), (&last, 1)]);
    h.expect_running();
}

/// `/response` answered 413: report `/error` with a payload-size type instead (its own 413 is
/// only logged), then go on.
pub(crate) fn answer_413(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(Invocation::new(r#"{"name":"Big"}"#).answer(Answer::Status(413)));
    let last = h.sentinel();
    let answers = h.outcomes_for(&id);
    assert_eq!(answers.len(), 2, "{}", h.diag());
    assert_response(&answers[0], &id, br#""Hello Big!""#);
    assert_eq!(answers[0].status_sent, 413);
    assert_error(&answers[1], &id, "Function.ResponseSizeTooLarge");
    h.expect_answer_counts(&[(&id, 2), (&last, 1)]);
    h.expect_running();
}

/// `/response` and `/error` answered 410 Gone: log "invocation timed out", serve the next one.
pub(crate) fn answer_410(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let a = h.invoke(Invocation::new(r#"{"a":1}"#).answer(Answer::Status(410)));
    let b = h.invoke(Invocation::new(r#"{"error":"late"}"#).answer(Answer::Status(410)));
    let last = h.sentinel();
    assert_response(&h.outcome(&a), &a, br#"{"a":1}"#);
    assert_error(&h.outcome(&b), &b, "FailRequested");
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
    h.expect_stderr("timed out");
    h.expect_running();
}

/// 400 and 403 to `/response` or `/error`: logged, go on (no resend, no exit).
pub(crate) fn answer_400_403(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let a = h.invoke(Invocation::new(r#"{"a":1}"#).answer(Answer::Status(400)));
    let b = h.invoke(Invocation::new(r#"{"b":1}"#).answer(Answer::Status(403)));
    let c = h.invoke(Invocation::new(r#"{"error":"c"}"#).answer(Answer::Status(400)));
    let d = h.invoke(Invocation::new(r#"{"error":"d"}"#).answer(Answer::Status(403)));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&c, 1), (&d, 1), (&last, 1)]);
    assert_eq!(h.outcome(&a).status_sent, 400);
    assert_eq!(h.outcome(&d).status_sent, 403);
    h.expect_stderr("403");
    h.expect_running();
}

fn expect_fatal_exit(h: &mut Harness, status: &str, answered: &[(&str, usize)]) {
    h.expect_failure_exit();
    h.expect_answer_counts(answered);
    h.expect_stderr(status);
}

/// 500 to `/response`: exit promptly, non-zero, without polling again.
pub(crate) fn answer_500_to_response(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(Invocation::new(r#"{"name":"X"}"#).answer(Answer::Status(500)));
    let never = h.invoke(Invocation::new(r#"{"name":"Y"}"#));
    expect_fatal_exit(&mut h, "500", &[(&id, 1)]);
    assert_eq!(h.server.next_polls(), 1, "{}", h.diag());
    assert!(h.outcomes_for(&never).is_empty());
}

/// 500 to `/error`: exit promptly, non-zero.
pub(crate) fn answer_500_to_error(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let id = h.invoke(Invocation::new(r#"{"error":"x"}"#).answer(Answer::Status(500)));
    h.invoke(Invocation::new(r#"{"a":1}"#));
    expect_fatal_exit(&mut h, "500", &[(&id, 1)]);
    assert_error(&h.outcome(&id), &id, "FailRequested");
    assert_eq!(h.server.next_polls(), 1, "{}", h.diag());
}

/// `/next` answered 403: exit non-zero.
pub(crate) fn next_403(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::Status(403)));
    h.invoke(Invocation::new(r#"{"name":"Y"}"#));
    expect_fatal_exit(&mut h, "403", &[]);
    assert_eq!(h.server.next_polls(), 1, "{}", h.diag());
}

/// `/next` answered 500: exit non-zero.
pub(crate) fn next_500(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::Status(500)));
    h.invoke(Invocation::new(r#"{"name":"Y"}"#));
    expect_fatal_exit(&mut h, "500", &[]);
    assert_eq!(h.server.next_polls(), 1, "{}", h.diag());
}

/// Section 5: the connection is lost after `/response` was written, before its answer: the same
/// answer is sent once more on a new connection, then the runtime goes on.
pub(crate) fn resend_once_after_lost_response(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(Invocation::new(r#"{"name":"R"}"#).answer(Answer::CloseFirst));
    let last = h.sentinel();
    let answers = h.outcomes_for(&id);
    assert_eq!(answers.len(), 2, "{}", h.diag());
    for o in &answers {
        assert_response(o, &id, br#""Hello R!""#);
    }
    assert_eq!(answers[0].status_sent, 0);
    assert_eq!(answers[1].status_sent, 202);
    assert_ne!(answers[0].request.conn, answers[1].request.conn);
    h.expect_answer_counts(&[(&id, 2), (&last, 1)]);
    h.expect_running();
}

/// The same for `/error` (the invocation id is echoed on both copies).
pub(crate) fn resend_once_after_lost_error(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let id = h.invoke(
        Invocation::new(r#"{"error":"again"}"#)
            .header(INVOCATION_ID, INV_ID)
            .answer(Answer::CloseFirst),
    );
    let last = h.sentinel();
    let answers = h.outcomes_for(&id);
    assert_eq!(answers.len(), 2, "{}", h.diag());
    for o in &answers {
        let v = assert_error(o, &id, "FailRequested");
        assert_eq!(v["errorMessage"], "again");
        assert_eq!(o.request.header(INVOCATION_ID), Some(INV_ID));
    }
    assert_eq!(answers[0].request.body, answers[1].request.body);
    h.expect_answer_counts(&[(&id, 2), (&last, 1)]);
    h.expect_running();
}

// ---------------------------------------------------------------------------------------------
// Section 3: initialisation and settings.

/// The user's init fails: `/init/error` with its type and message, no `/next`, exit non-zero.
pub(crate) fn init_failure(t: &Transport) {
    let msg = "database \"orders\" unreachable\nretry later";
    let mut h = Harness::start_with(
        t,
        Bin::Fail,
        ServerConfig::default(),
        &[("LAMINA_EXAMPLE_FAIL_INIT", msg)],
    );
    h.expect_failure_exit();
    let reqs = h.server.requests();
    assert_eq!(reqs.len(), 1, "{}", h.diag());
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/2018-06-01/runtime/init/error");
    let v = check_error_body(&reqs[0], "Init.Failed");
    assert_eq!(v["errorMessage"], msg);
    assert_eq!(h.server.next_polls(), 0);
}

/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` not a number: `/init/error` `Runtime.InvalidConfig` naming
/// it (and a stderr line naming it), no `/next`, exit non-zero.
pub(crate) fn invalid_memory_size(t: &Transport) {
    let mut h = Harness::start_with(
        t,
        Bin::Hello,
        ServerConfig::default(),
        &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")],
    );
    h.expect_failure_exit();
    let reqs = h.server.requests();
    assert_eq!(reqs.len(), 1, "{}", h.diag());
    assert_eq!(reqs[0].path, "/2018-06-01/runtime/init/error");
    let v = check_error_body(&reqs[0], "Runtime.InvalidConfig");
    let m = v["errorMessage"].as_str().unwrap_or_default();
    assert!(m.contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "{v}");
    assert!(
        h.proc.stderr().contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "{}",
        h.diag()
    );
    assert_eq!(h.server.next_polls(), 0);
}

/// Checks a runtime that cannot know its Runtime API: exactly one stderr line, naming the
/// variable; exit non-zero.
fn expect_runtime_api_error(t: &Transport, env: &[(&str, &str)]) {
    let mut p = Proc::spawn(bare_command(t.hello, env));
    let diag = format!("env {env:?}");
    expect_failure_exit(&mut p, &diag);
    let err = p.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{diag}: stderr {err:?}");
    assert!(
        lines[0].contains("AWS_LAMBDA_RUNTIME_API"),
        "{diag}: {err:?}"
    );
}

/// `AWS_LAMBDA_RUNTIME_API` missing.
pub(crate) fn runtime_api_missing(t: &Transport) {
    expect_runtime_api_error(t, &[]);
}

/// `AWS_LAMBDA_RUNTIME_API` unparseable, in several ways.
pub(crate) fn runtime_api_unparseable(t: &Transport) {
    for bad in [
        "",
        "nope",
        "127.0.0.1",
        "127.0.0.1:notaport",
        "127.0.0.1:99999",
        "https://127.0.0.1:9001",
        "127.0.0.1:9001/a b",
    ] {
        expect_runtime_api_error(t, &[("AWS_LAMBDA_RUNTIME_API", bad)]);
    }
}

/// Nothing listens: bounded backoff, then a clear stderr line and a non-zero exit, in bounded
/// time.
pub(crate) fn connection_refused(t: &Transport) {
    let api = format!("127.0.0.1:{}", closed_port());
    let start = Instant::now();
    let mut p = Proc::spawn(bare_command(
        t.hello,
        &[
            ("AWS_LAMBDA_RUNTIME_API", &api),
            ("LAMINA_RECONNECT_TIMEOUT_MS", "300"),
        ],
    ));
    expect_failure_exit(&mut p, "connection refused");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let err = p.stderr().to_ascii_lowercase();
    assert!(err.contains("runtime api"), "{err:?}");
    assert!(err.contains("refused"), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Section 3: the handler's failures.

/// `Err(e)`: `/error`, errorType is the error type's short name, errorMessage its `Display`.
pub(crate) fn handler_error(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let id = h.invoke(Invocation::new(r#"{"error":"boom"}"#));
    let o = h.outcome(&id);
    let v = assert_error(&o, &id, "FailRequested");
    assert_eq!(v["errorMessage"], "boom");
    assert_eq!(o.status_sent, 202);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&id, &last], false);
    h.expect_running();
}

/// Quotes, backslashes, newlines, control characters and non-ASCII in the message are
/// JSON-escaped correctly and survive the round trip.
pub(crate) fn handler_error_json_escaping(t: &Transport) {
    let h = Harness::start(t, Bin::Fail);
    let msg = "say \"hi\"\nline 2\r\n\ttab \\ back\u{1}\u{1f} é ✓ </script> {\"json\":1}";
    let id = h.invoke(Invocation::new(json!({ "error": msg }).to_string()));
    let o = h.outcome(&id);
    let v = assert_error(&o, &id, "FailRequested");
    assert_eq!(v["errorMessage"], msg);
    let pm = "panic \"quoted\"\nnext line";
    let p = h.invoke(Invocation::new(json!({ "panic": pm }).to_string()));
    let v = assert_error(&h.outcome(&p), &p, "Handler.Panic");
    assert_eq!(v["errorMessage"], pm);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&p, 1), (&last, 1)]);
}

/// A panic is caught (unwind build): `/error` `Handler.Panic`, and the same process keeps
/// serving.
pub(crate) fn handler_panic_keeps_serving(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let p1 = h.invoke(Invocation::new(r#"{"panic":"kaboom"}"#));
    let ok = h.invoke(Invocation::new(r#"{"after":1}"#));
    let p2 = h.invoke(Invocation::new(r#"{"panic":"again"}"#));
    let v = assert_error(&h.outcome(&p1), &p1, "Handler.Panic");
    assert_eq!(v["errorMessage"], "kaboom");
    assert_response(&h.outcome(&ok), &ok, br#"{"after":1}"#);
    let v = assert_error(&h.outcome(&p2), &p2, "Handler.Panic");
    assert_eq!(v["errorMessage"], "again");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&p1, 1), (&ok, 1), (&p2, 1), (&last, 1)]);
    h.expect_running();
}

/// An event that does not deserialize into the handler's type: `/error` `InvalidEvent`.
pub(crate) fn invalid_event(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let a = h.invoke(Invocation::new("not json"));
    let b = h.invoke(Invocation::new(r#"{"nom":"X"}"#));
    assert_error(&h.outcome(&a), &a, "InvalidEvent");
    assert_error(&h.outcome(&b), &b, "InvalidEvent");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
}
