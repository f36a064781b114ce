//! DESIGN section 2: the Runtime API contract on the happy path, and what emulators bend.

use std::time::{Duration, Instant};

use lamina_server::{Answer, Invocation, OutcomeKind, ServerConfig};
use serde_json::{Value, json};

use crate::common::*;

/// `/next` → handler → `/response` on one keep-alive connection, nothing else sent; the
/// response typed `application/json`, every request signed `User-Agent: lamina/…`; no
/// invocation id when `/next` had none.
pub(crate) fn hello_roundtrip(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(Invocation::new(r#"{"name":"World"}"#));
    let o = h.outcome(&id);
    assert_response(&o, &id, br#""Hello World!""#);
    assert_eq!(o.status_sent, 202);
    assert_eq!(o.request.header("Content-Type"), Some("application/json"));
    assert!(o.request.header(INVOCATION_ID).is_none(), "{o:?}");
    let last = h.sentinel();
    let reqs = h.server.requests();
    let paths: Vec<_> = reqs
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let resp = |id: &str| format!("/2018-06-01/runtime/invocation/{id}/response");
    let next = ("GET", NEXT);
    assert_eq!(
        paths[..4],
        [next, ("POST", &resp(&id)), next, ("POST", &resp(&last))],
        "{}",
        h.diag()
    );
    for r in &reqs {
        let agent = r.header("User-Agent").unwrap_or_default();
        assert!(agent.starts_with("lamina/"), "User-Agent {agent:?}");
    }
    assert_eq!(h.server.connections(), 1, "{}", h.diag());
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&id, &last], false);
    h.expect_no_violations();
    h.expect_running();
}

/// `echo`: the event's bytes back, unchanged, whatever they are (every byte value, empty).
pub(crate) fn echo_raw_bytes(t: &Transport) {
    let h = Harness::start(t, Bin::Echo);
    let bytes: Vec<u8> = (0..=255).collect();
    let a = h.invoke(Invocation::new(bytes.clone()));
    let b = h.invoke(Invocation::new(""));
    let o = h.outcome(&a);
    assert_eq!(o.kind, OutcomeKind::Response);
    assert_eq!(o.request.body, bytes);
    assert_response(&h.outcome(&b), &b, b"");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
}

/// A 5 MiB event (under the 6 MiB default maximum) arrives over many reads, the head in an
/// earlier one than the end of the body, and is echoed whole; the next one is served too.
pub(crate) fn large_event_echoed(t: &Transport) {
    let mut h = Harness::start(t, Bin::Echo);
    let big: Vec<u8> = (0..5 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let id = h.invoke(Invocation::new(big.clone()));
    let o = h.outcome(&id);
    assert_eq!(o.kind, OutcomeKind::Response, "{}", h.diag());
    assert!(
        o.request.body == big,
        "{} bytes came back",
        o.request.body.len()
    );
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
    h.expect_running();
}

/// SnapStart (no hooks): `GET /restore/next` before the first `/next`, which goes out on a new
/// connection (sockets do not survive a restore); then invocations are served.
pub(crate) fn snap_start_restores_before_the_first_next(t: &Transport) {
    let cfg = ServerConfig {
        snap_start: true,
        ..ServerConfig::default()
    };
    let mut h = Harness::start_with(t, Bin::Hello, cfg, &[]);
    let id = h.sentinel();
    let reqs = h.server.requests();
    assert_eq!(
        reqs[0].path,
        "/2018-06-01/runtime/restore/next",
        "{}",
        h.diag()
    );
    assert_eq!(reqs[1].path, NEXT, "{}", h.diag());
    assert_ne!(reqs[0].conn, reqs[1].conn, "{}", h.diag());
    h.expect_answer_counts(&[(&id, 1)]);
    h.expect_running();
}

/// `http://host:port/.rt`: the prefix goes before `/2018-06-01` in every request. (Without it
/// the server answers 404 and no answer would be recorded.)
pub(crate) fn path_prefix_and_http_scheme(t: &Transport) {
    let cfg = ServerConfig {
        path_prefix: "/.rt".into(),
        http_scheme: true,
        ..ServerConfig::default()
    };
    let h = Harness::start_with(t, Bin::Fail, cfg, &[]);
    assert!(h.server.runtime_api().starts_with("http://127.0.0.1:"));
    assert!(h.server.runtime_api().ends_with("/.rt"));
    let ok = h.invoke(Invocation::new(r#"{"a":1}"#));
    let err = h.invoke(Invocation::new(r#"{"error":"nope"}"#));
    assert_response(&h.outcome(&ok), &ok, br#"{"a":1}"#);
    assert_eq!(h.outcome(&ok).status_sent, 202);
    assert_error(&h.outcome(&err), &err, "FailRequested");
    assert_eq!(h.outcome(&err).status_sent, 202);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&ok, 1), (&err, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&ok, &err, &last], false);
}

/// cargo-lambda as seen in the wild, all at once: scheme + prefix, deadline 600000, base64
/// client context, `/next` without Content-Type, 200-with-empty-body answers.
pub(crate) fn cargo_lambda_style(t: &Transport) {
    let cfg = ServerConfig {
        path_prefix: "/.rt".into(),
        http_scheme: true,
        ..ServerConfig::default()
    };
    let h = Harness::start_with(t, Bin::Context, cfg, &[]);
    let cc = json!({"client": {"installation_id": "inst-1"}, "custom": {"k": "v"}, "env": {}});
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            h.invoke(
                Invocation::new("{}")
                    .deadline_ms(600_000)
                    .header(
                        "Lambda-Runtime-Client-Context",
                        base64(cc.to_string().as_bytes()),
                    )
                    .omit("Content-Type")
                    .answer(Answer::Ok200Empty),
            ),
        );
    }
    for id in &ids {
        let o = h.outcome(id);
        assert_eq!(o.kind, OutcomeKind::Response);
        assert_eq!(o.status_sent, 200);
        let v = json(&o.request.body);
        assert_eq!(v["request_id"], id.as_str());
        assert_eq!(v["deadline_ms"], 600_000);
        assert_eq!(v["client_context"]["client"]["installation_id"], "inst-1");
        assert_eq!(v["client_context"]["custom"]["k"], "v");
    }
    let last = h.sentinel();
    h.expect_answer_counts(&[(&ids[0], 1), (&ids[1], 1), (&last, 1)]);
}

/// Any 2xx accepts an answer: 200 with an empty body to `/response` and to `/error`.
pub(crate) fn ok_200_empty_answers_accepted(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let err = h.invoke(Invocation::new(r#"{"error":"x"}"#).answer(Answer::Ok200Empty));
    let ok = h.invoke(Invocation::new(r#"{"b":2}"#).answer(Answer::Ok200Empty));
    let o = h.outcome(&err);
    assert_error(&o, &err, "FailRequested");
    assert_eq!(o.status_sent, 200);
    let o = h.outcome(&ok);
    assert_response(&o, &ok, br#"{"b":2}"#);
    assert_eq!(o.status_sent, 200);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&err, 1), (&ok, 1), (&last, 1)]);
    h.expect_running();
}

/// A deadline in 1970 (cargo-lambda's 600000, @vercel/fun's 5000) is passed on, not judged.
pub(crate) fn deadline_in_1970_passed_as_is(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let a = h.invoke(Invocation::new("{}").deadline_ms(600_000));
    let b = h.invoke(Invocation::new("{}").deadline_ms(5_000));
    assert_eq!(json(&h.outcome(&a).request.body)["deadline_ms"], 600_000);
    assert_eq!(json(&h.outcome(&b).request.body)["deadline_ms"], 5_000);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
}

/// Every `/next` header and function setting reaches the handler: ARN, trace id, tenant id,
/// and the `AWS_LAMBDA_*` settings.
pub(crate) fn context_fields(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let id = h.invoke(
        Invocation::new("{}")
            .trace_id("Root=1-65f00000-0123456789abcdef01234567;Sampled=0")
            .header("Lambda-Runtime-Aws-Tenant-Id", "tenant-7")
            .deadline_ms(1_900_000_000_123),
    );
    let v = json(&h.outcome(&id).request.body);
    assert_eq!(v["request_id"], id.as_str());
    assert_eq!(v["deadline_ms"], 1_900_000_000_123_u64);
    assert_eq!(
        v["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    );
    assert_eq!(
        v["xray_trace_id"],
        "Root=1-65f00000-0123456789abcdef01234567;Sampled=0"
    );
    assert_eq!(v["tenant_id"], "tenant-7");
    assert!(v["invocation_id"].is_null(), "{v}");
    assert_eq!(v["function_name"], "test-function");
    assert_eq!(v["function_version"], "$LATEST");
    assert_eq!(v["memory_mb"], 128);
    assert_eq!(v["log_group"], "/aws/lambda/test-function");
    assert!(
        v["log_stream"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
}

/// Header names are case-insensitive.
pub(crate) fn header_names_case_insensitive(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let id = "case-test-1";
    h.invoke(
        Invocation::new("{}")
            .request_id(id)
            .header("lambda-runtime-aws-request-id", id)
            .header("LAMBDA-RUNTIME-DEADLINE-MS", "1234")
            .header("Lambda-runtime-trace-id", "Root=1-x")
            .header("LAMBDA-RUNTIME-INVOCATION-ID", "inv-case")
            .header(
                "lambda-runtime-cognito-identity",
                r#"{"cognitoIdentityId":"ci"}"#,
            ),
    );
    let o = h.outcome(id);
    assert_eq!(o.request.header(INVOCATION_ID), Some("inv-case"));
    let v = json(&o.request.body);
    assert_eq!(v["request_id"], id);
    assert_eq!(v["deadline_ms"], 1234);
    assert_eq!(v["xray_trace_id"], "Root=1-x");
    assert_eq!(v["invocation_id"], "inv-case");
    assert_eq!(v["identity"]["cognitoIdentityId"], "ci");
    let last = h.sentinel();
    h.expect_answer_counts(&[(id, 1), (&last, 1)]);
}

/// Lambda and @vercel/fun freeze the process (SIGSTOP) between invocations: the runtime's
/// connection and timers survive it.
#[cfg(target_os = "linux")]
pub(crate) fn survives_a_freeze(t: &Transport) {
    const SIGCONT: i32 = 18;
    const SIGSTOP: i32 = 19;
    let mut h = Harness::start(t, Bin::Hello);
    let first = h.invoke(Invocation::new(r#"{"name":"1"}"#));
    h.outcome(&first);
    // Frozen while its /next is pending; the invocation arrives during the freeze.
    assert!(h.server.wait_for(WAIT, |r| r.len() >= 3), "{}", h.diag());
    h.proc.signal(SIGSTOP);
    let pid = h.proc.id();
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| Some(s.get(s.rfind(')')? + 2..)?.starts_with('T')))
            .unwrap_or(false)
    };
    // The kernel gives no event for "stopped" to a non-parent waiter: poll /proc, bounded.
    let until = Instant::now() + WAIT;
    while !stopped() {
        assert!(Instant::now() < until, "never stopped");
        std::thread::sleep(Duration::from_millis(1));
    }
    let during = h.invoke(Invocation::new(r#"{"name":"2"}"#));
    assert!(h.server.wait_delivered(&during, WAIT), "{}", h.diag());
    let thawed = Instant::now();
    h.proc.signal(SIGCONT);
    let o = h.outcome(&during);
    assert_response(&o, &during, br#""Hello 2!""#);
    assert!(o.request.at > thawed, "answered while frozen");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&first, 1), (&during, 1), (&last, 1)]);
    h.expect_running();
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn survives_a_freeze(_: &Transport) {}

fn full_client_context() -> Value {
    json!({
        "client": {
            "installation_id": "inst-42",
            "app_title": "My \"App\"",
            "app_version_name": "1.2.3",
            "app_version_code": "123",
            "app_package_name": "com.example.app"
        },
        "custom": {"tenant": "blue", "n": "7"},
        "env": {"platform": "Android", "locale": "fr_FR"}
    })
}

fn check_client_context(v: &Value) {
    let cc = &v["client_context"];
    assert_eq!(cc["client"]["installation_id"], "inst-42", "{v}");
    assert_eq!(cc["client"]["app_title"], "My \"App\"");
    assert_eq!(cc["client"]["app_version_name"], "1.2.3");
    assert_eq!(cc["client"]["app_version_code"], "123");
    assert_eq!(cc["client"]["app_package_name"], "com.example.app");
    assert_eq!(cc["custom"], json!({"tenant": "blue", "n": "7"}));
    assert_eq!(cc["env"], json!({"platform": "Android", "locale": "fr_FR"}));
    // Not read from the client-context header (the seed article's bug).
    assert!(v["identity"].is_null(), "{v}");
}

/// AWS's RIE sends the client context as plain JSON.
pub(crate) fn client_context_plain_json(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let id = h.invoke(Invocation::new("{}").header(
        "Lambda-Runtime-Client-Context",
        full_client_context().to_string(),
    ));
    check_client_context(&json(&h.outcome(&id).request.body));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
}

/// cargo-lambda base64-encodes it.
pub(crate) fn client_context_base64(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let id = h.invoke(Invocation::new("{}").header(
        "Lambda-Runtime-Client-Context",
        base64(full_client_context().to_string().as_bytes()),
    ));
    check_client_context(&json(&h.outcome(&id).request.body));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
}

/// A client context or identity that does not parse is dropped (with a warning), never a lost
/// invocation.
pub(crate) fn client_context_unparseable_is_dropped(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let id = h.invoke(
        Invocation::new("{}")
            .header("Lambda-Runtime-Client-Context", "{not json")
            .header("Lambda-Runtime-Cognito-Identity", "%%%"),
    );
    let o = h.outcome(&id);
    assert_eq!(o.kind, OutcomeKind::Response);
    let v = json(&o.request.body);
    assert!(v["client_context"].is_null(), "{v}");
    assert!(v["identity"].is_null(), "{v}");
    h.expect_stderr("client context");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
}

/// `Lambda-Runtime-Cognito-Identity` is decoded from its own header.
pub(crate) fn cognito_identity(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let id = h.invoke(Invocation::new("{}").header(
        "Lambda-Runtime-Cognito-Identity",
        r#"{"cognitoIdentityId":"us-east-1:1234-abcd","cognitoIdentityPoolId":"us-east-1:pool-9"}"#,
    ));
    let v = json(&h.outcome(&id).request.body);
    assert_eq!(v["identity"]["cognitoIdentityId"], "us-east-1:1234-abcd");
    assert_eq!(v["identity"]["cognitoIdentityPoolId"], "us-east-1:pool-9");
    assert!(v["client_context"].is_null(), "{v}");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
}

/// `Lambda-Runtime-Invocation-Id` is echoed byte for byte on `/response` (header name matched
/// case-insensitively, a 128-byte one included), and not sent when absent.
pub(crate) fn invocation_id_echoed_on_response(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let long = "a".repeat(127) + "Z";
    let a = h.invoke(Invocation::new(r#"{"name":"A"}"#).header(INVOCATION_ID, INV_ID));
    let b =
        h.invoke(Invocation::new(r#"{"name":"B"}"#).header("lambda-runtime-invocation-id", &long));
    let c = h.invoke(Invocation::new(r#"{"name":"C"}"#));
    let o = h.outcome(&a);
    assert_response(&o, &a, br#""Hello A!""#);
    assert_eq!(o.request.header(INVOCATION_ID), Some(INV_ID));
    let o = h.outcome(&b);
    assert_response(&o, &b, br#""Hello B!""#);
    assert_eq!(o.request.header(INVOCATION_ID), Some(long.as_str()));
    let o = h.outcome(&c);
    assert_response(&o, &c, br#""Hello C!""#);
    assert_eq!(o.request.header(INVOCATION_ID), None, "stale invocation id");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&c, 1), (&last, 1)]);
}

/// … and on `/error`, then not on the next invocation's `/error` when that one has none.
pub(crate) fn invocation_id_echoed_on_error(t: &Transport) {
    let h = Harness::start(t, Bin::Fail);
    let a = h.invoke(Invocation::new(r#"{"error":"a"}"#).header(INVOCATION_ID, INV_ID));
    let b = h.invoke(Invocation::new(r#"{"error":"b"}"#));
    let p = h.invoke(Invocation::new(r#"{"panic":"p"}"#).header(INVOCATION_ID, "panic-inv"));
    let o = h.outcome(&a);
    assert_error(&o, &a, "FailRequested");
    assert_eq!(o.request.header(INVOCATION_ID), Some(INV_ID));
    let o = h.outcome(&b);
    assert_error(&o, &b, "FailRequested");
    assert_eq!(o.request.header(INVOCATION_ID), None, "stale invocation id");
    let o = h.outcome(&p);
    assert_error(&o, &p, "Handler.Panic");
    assert_eq!(o.request.header(INVOCATION_ID), Some("panic-inv"));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&p, 1), (&last, 1)]);
}

/// An invocation id that cannot be echoed safely (bad bytes, too long) makes the invocation
/// invalid: `/error` for its (valid) request id, and the bad value is never reflected.
pub(crate) fn invocation_id_invalid(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let a = h.invoke(Invocation::new(r#"{"name":"A"}"#).header(INVOCATION_ID, "bad/../id"));
    let b = h.invoke(Invocation::new(r#"{"name":"B"}"#).header(INVOCATION_ID, "x".repeat(129)));
    for id in [&a, &b] {
        let o = h.outcome(id);
        assert_error(&o, id, "Runtime.InvalidInvocation");
        assert_eq!(o.request.header(INVOCATION_ID), None, "{o:?}");
    }
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&a, &b, &last], false);
}
