//! The transport-independent integration suite: the example binaries against the fake Runtime
//! API (`lamina-server`), one test per promise of DESIGN sections 2, 3 and 5 that applies to a
//! runtime serving one invocation at a time.
//!
//! Every case is a function of a [`Transport`] (the paths of its `hello`, `echo`, `fail` and
//! `context` binaries); [`suite!`] instantiates all of them for one transport as a module of
//! `#[test]`s, e.g. `on_std::handler_error`. Run one transport with `cargo test -p
//! lamina-examples --test suite on_std::`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lamina_server::{Answer, Fault, Invocation, OutcomeKind, ServerConfig};
use serde_json::{Value, json};

/// The blocking std transport's binaries.
const STD: Transport = Transport {
    name: "std",
    hello: env!("CARGO_BIN_EXE_std-hello"),
    echo: env!("CARGO_BIN_EXE_std-echo"),
    fail: env!("CARGO_BIN_EXE_std-fail"),
    context: env!("CARGO_BIN_EXE_std-context"),
};

/// The mio transport's binaries (the production bootstrap).
const MIO: Transport = Transport {
    name: "mio",
    hello: env!("CARGO_BIN_EXE_hello"),
    echo: env!("CARGO_BIN_EXE_echo"),
    fail: env!("CARGO_BIN_EXE_fail"),
    context: env!("CARGO_BIN_EXE_context"),
};

/// `suite!(module, TRANSPORT)`: one `#[test]` per case in `cases`, in `mod module`.
macro_rules! suite {
    ($module:ident, $transport:expr) => {
        suite!(@cases $module, $transport, [
            hello_roundtrip,
            path_prefix_and_http_scheme,
            cargo_lambda_style,
            ok_200_empty_answers_accepted,
            deadline_in_1970_passed_as_is,
            client_context_plain_json,
            client_context_base64,
            client_context_unparseable_is_dropped,
            cognito_identity,
            context_fields,
            header_names_case_insensitive,
            survives_a_freeze,
            invocation_id_echoed_on_response,
            invocation_id_echoed_on_error,
            invocation_id_invalid,
            request_id_with_slash_never_reflected,
            request_id_with_cr_never_reflected,
            request_id_too_long,
            trace_id_env_per_invocation,
            oversized_head_with_known_id,
            oversized_head_without_id,
            invalid_deadline_with_known_id,
            missing_deadline_with_known_id,
            missing_request_id,
            garbage_head,
            truncated_head,
            connection_closed_mid_next,
            connection_reset_mid_next,
            closed_mid_body,
            chunked_next_body,
            connection_close_header,
            event_over_max,
            response_over_max,
            answer_413,
            answer_410,
            answer_400_403,
            answer_500_to_response,
            answer_500_to_error,
            next_403,
            next_500,
            resend_once_after_lost_response,
            resend_once_after_lost_error,
            init_failure,
            invalid_memory_size,
            runtime_api_missing,
            runtime_api_unparseable,
            connection_refused,
            handler_error,
            handler_error_json_escaping,
            handler_panic_keeps_serving,
            invalid_event,
        ]);
    };
    (@cases $module:ident, $transport:expr, [$($case:ident),* $(,)?]) => {
        mod $module {
            use super::*;
            $(
                #[test]
                fn $case() {
                    super::$case(&$transport)
                }
            )*
        }
    };
}

suite!(on_std, STD);
suite!(on_mio, MIO);

// ---------------------------------------------------------------------------------------------
// Section 2: the contract on the happy path.

/// `/next` → handler → `/response`, nothing else sent; no invocation id when `/next` had none.
fn hello_roundtrip(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(Invocation::new(r#"{"name":"World"}"#));
    let o = h.outcome(&id);
    assert_response(&o, &id, br#""Hello World!""#);
    assert_eq!(o.status_sent, 202);
    assert!(o.request.header(INVOCATION_ID).is_none(), "{o:?}");
    let reqs = h.server.requests();
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/2018-06-01/runtime/invocation/next");
    assert_eq!(reqs[1].path, o.request.path);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&id, &last], false);
    h.expect_running();
}

/// `http://host:port/.rt`: the prefix goes before `/2018-06-01` in every request. (Without it
/// the server answers 404 and no answer would be recorded.)
fn path_prefix_and_http_scheme(t: &Transport) {
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
fn cargo_lambda_style(t: &Transport) {
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
fn ok_200_empty_answers_accepted(t: &Transport) {
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
fn deadline_in_1970_passed_as_is(t: &Transport) {
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
fn context_fields(t: &Transport) {
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
fn header_names_case_insensitive(t: &Transport) {
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
fn survives_a_freeze(t: &Transport) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    const SIGCONT: i32 = 18;
    const SIGSTOP: i32 = 19;
    let mut h = Harness::start(t, Bin::Hello);
    let first = h.invoke(Invocation::new(r#"{"name":"1"}"#));
    h.outcome(&first);
    // Frozen while its /next is pending; the invocation arrives during the freeze.
    assert!(h.server.wait_for(WAIT, |r| r.len() >= 3), "{}", h.diag());
    let pid = h.proc.id() as i32;
    // SAFETY: plain libc calls on our own child's pid.
    assert_eq!(unsafe { kill(pid, SIGSTOP) }, 0);
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| Some(s.get(s.rfind(')')? + 2..)?.starts_with('T')))
            .unwrap_or(false)
    };
    let until = Instant::now() + WAIT;
    while !stopped() {
        assert!(Instant::now() < until, "never stopped");
        std::thread::sleep(Duration::from_millis(2));
    }
    let during = h.invoke(Invocation::new(r#"{"name":"2"}"#));
    std::thread::sleep(Duration::from_millis(300));
    assert!(h.outcomes_for(&during).is_empty(), "answered while frozen");
    assert_eq!(unsafe { kill(pid, SIGCONT) }, 0);
    assert_response(&h.outcome(&during), &during, br#""Hello 2!""#);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&first, 1), (&during, 1), (&last, 1)]);
    h.expect_running();
}

#[cfg(not(target_os = "linux"))]
fn survives_a_freeze(_: &Transport) {}

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
fn client_context_plain_json(t: &Transport) {
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
fn client_context_base64(t: &Transport) {
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
fn client_context_unparseable_is_dropped(t: &Transport) {
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
fn cognito_identity(t: &Transport) {
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

const INV_ID: &str = "Inv-0123.abc_DEF:xyz-9";

/// `Lambda-Runtime-Invocation-Id` is echoed byte for byte on `/response` (header name matched
/// case-insensitively, a 128-byte one included), and not sent when absent.
fn invocation_id_echoed_on_response(t: &Transport) {
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
fn invocation_id_echoed_on_error(t: &Transport) {
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
fn invocation_id_invalid(t: &Transport) {
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

// ---------------------------------------------------------------------------------------------
// Section 3: request ids, malformed `/next`.

/// A request id with `/` is malformed: never placed in a path; logged; polls again.
fn request_id_with_slash_never_reflected(t: &Transport) {
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
fn request_id_with_cr_never_reflected(t: &Transport) {
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
fn request_id_too_long(t: &Transport) {
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
fn trace_id_env_per_invocation(t: &Transport) {
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
fn oversized_head_with_known_id(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::PadHeader(20 * 1024)));
    assert_error(&h.outcome(&id), &id, "Runtime.InvalidInvocation");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&id, &last], false);
    h.expect_running();
}

/// An oversized head with no request id: logged, polls again.
fn oversized_head_without_id(t: &Transport) {
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
fn invalid_deadline_with_known_id(t: &Transport) {
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
fn missing_deadline_with_known_id(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let a = h.invoke(Invocation::new(r#"{"name":"X"}"#).omit("Lambda-Runtime-Deadline-Ms"));
    assert_error(&h.outcome(&a), &a, "Runtime.InvalidInvocation");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&last, 1)]);
}

/// No request id at all: nothing can be answered; logged, polls again.
fn missing_request_id(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).omit("Lambda-Runtime-Aws-Request-Id"));
    let last = h.sentinel();
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_only_runtime_requests(&[&last], false);
    h.expect_stderr("malformed");
    h.expect_running();
}

/// Not HTTP at all: logged, polls again (on a new connection), next invocation served.
fn garbage_head(t: &Transport) {
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
fn truncated_head(t: &Transport) {
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
fn connection_closed_mid_next(t: &Transport) {
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
fn connection_reset_mid_next(t: &Transport) {
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
fn closed_mid_body(t: &Transport) {
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
fn chunked_next_body(t: &Transport) {
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

/// `Connection: close` on `/next`: the answer goes out on a new connection.
fn connection_close_header(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let a = h.invoke(Invocation::new(r#"{"name":"A"}"#).fault(Fault::ConnectionClose));
    let b = h.invoke(Invocation::new(r#"{"name":"B"}"#).fault(Fault::ConnectionClose));
    let oa = h.outcome(&a);
    assert_response(&oa, &a, br#""Hello A!""#);
    assert_response(&h.outcome(&b), &b, br#""Hello B!""#);
    let first_next = &h.server.requests()[0];
    assert_ne!(oa.request.conn, first_next.conn, "{}", h.diag());
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
    assert!(h.server.connections() >= 3, "{}", h.diag());
}

/// An event over `LAMINA_MAX_EVENT_BYTES` (plain or chunked) is drained and answered with
/// `/error`; one at the limit is served; the next invocation is served.
fn event_over_max(t: &Transport) {
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
fn response_over_max(t: &Transport) {
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
fn answer_413(t: &Transport) {
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
fn answer_410(t: &Transport) {
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
fn answer_400_403(t: &Transport) {
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
fn answer_500_to_response(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(Invocation::new(r#"{"name":"X"}"#).answer(Answer::Status(500)));
    let never = h.invoke(Invocation::new(r#"{"name":"Y"}"#));
    expect_fatal_exit(&mut h, "500", &[(&id, 1)]);
    assert_eq!(h.server.next_polls(), 1, "{}", h.diag());
    assert!(h.outcomes_for(&never).is_empty());
}

/// 500 to `/error`: exit promptly, non-zero.
fn answer_500_to_error(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let id = h.invoke(Invocation::new(r#"{"error":"x"}"#).answer(Answer::Status(500)));
    h.invoke(Invocation::new(r#"{"a":1}"#));
    expect_fatal_exit(&mut h, "500", &[(&id, 1)]);
    assert_error(&h.outcome(&id), &id, "FailRequested");
    assert_eq!(h.server.next_polls(), 1, "{}", h.diag());
}

/// `/next` answered 403: exit non-zero.
fn next_403(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::Status(403)));
    h.invoke(Invocation::new(r#"{"name":"Y"}"#));
    expect_fatal_exit(&mut h, "403", &[]);
    assert_eq!(h.server.next_polls(), 1, "{}", h.diag());
}

/// `/next` answered 500: exit non-zero.
fn next_500(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    h.invoke(Invocation::new(r#"{"name":"X"}"#).fault(Fault::Status(500)));
    h.invoke(Invocation::new(r#"{"name":"Y"}"#));
    expect_fatal_exit(&mut h, "500", &[]);
    assert_eq!(h.server.next_polls(), 1, "{}", h.diag());
}

/// Section 5: the connection is lost after `/response` was written, before its answer: the same
/// answer is sent once more on a new connection, then the runtime goes on.
fn resend_once_after_lost_response(t: &Transport) {
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
fn resend_once_after_lost_error(t: &Transport) {
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
fn init_failure(t: &Transport) {
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

/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` not a number: `/init/error` naming it, exit non-zero.
fn invalid_memory_size(t: &Transport) {
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
    let ty = reqs[0]
        .header(ERROR_TYPE)
        .unwrap_or_else(|| panic!("no error type\n{}", h.diag()))
        .to_string();
    assert!(!ty.is_empty());
    let v = check_error_body(&reqs[0], &ty);
    let m = v["errorMessage"].as_str().unwrap_or_default();
    assert!(m.contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "{v}");
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
fn runtime_api_missing(t: &Transport) {
    expect_runtime_api_error(t, &[]);
}

/// `AWS_LAMBDA_RUNTIME_API` unparseable, in several ways.
fn runtime_api_unparseable(t: &Transport) {
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
fn connection_refused(t: &Transport) {
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
fn handler_error(t: &Transport) {
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
fn handler_error_json_escaping(t: &Transport) {
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
fn handler_panic_keeps_serving(t: &Transport) {
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
fn invalid_event(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let a = h.invoke(Invocation::new("not json"));
    let b = h.invoke(Invocation::new(r#"{"nom":"X"}"#));
    assert_error(&h.outcome(&a), &a, "InvalidEvent");
    assert_error(&h.outcome(&b), &b, "InvalidEvent");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
}
