//! The `axum-app` bootstrap end to end against lamina's fake Runtime API (`lamina-server`): each
//! trigger's real event document (lamina-http's fixtures, from aws_lambda_events and the AWS
//! docs), pointed at the app's routes, in; the response document out, compared field by field.
//! Every wait is bounded by [`WAIT`].

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use lamina_server::{Invocation, Outcome, OutcomeKind, Server};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

const V1: &str = include_str!("../../../http/tests/fixtures/example-apigw-request.json");
const V2: &str =
    include_str!("../../../http/tests/fixtures/example-apigw-v2-request-no-authorizer.json");
const URL: &str =
    include_str!("../../../http/tests/fixtures/example-lambda-function-url-request.json");
const ALB: &str = include_str!(
    "../../../http/tests/fixtures/example-alb-lambda-target-request-headers-only.json"
);
const ALB_MULTI: &str = include_str!(
    "../../../http/tests/fixtures/example-alb-lambda-target-request-multivalue-headers.json"
);

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    V1,
    V2,
    Url,
    Alb,
    AlbMulti,
}

const KINDS: [Kind; 5] = [Kind::V1, Kind::V2, Kind::Url, Kind::Alb, Kind::AlbMulti];

/// A request in `kind`'s event shape, built from its fixture: `method path`, extra headers
/// (a `cookie` header goes in payload 2.0's `cookies`), and a body (`true`: base64).
fn event(
    kind: Kind,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, bool)>,
) -> Value {
    let mut e = parse(match kind {
        Kind::V1 => V1,
        Kind::V2 => V2,
        Kind::Url => URL,
        Kind::Alb => ALB,
        Kind::AlbMulti => ALB_MULTI,
    });
    match kind {
        Kind::V1 => {
            e["httpMethod"] = json!(method);
            e["path"] = json!(path);
            // The fixture's JSON body and its content type go; ours come.
            for map in ["headers", "multiValueHeaders"] {
                e[map].as_object_mut().unwrap().remove("Content-Type");
            }
            for (k, v) in headers {
                e["headers"][k] = json!(v);
                e["multiValueHeaders"][k] = json!([v]);
            }
        }
        Kind::V2 | Kind::Url => {
            e["requestContext"]["http"]["method"] = json!(method);
            e["rawPath"] = json!(path);
            e["requestContext"]["http"]["path"] = json!(path);
            e["cookies"] = json!([]);
            e["headers"]
                .as_object_mut()
                .unwrap()
                .remove("content-length");
            for (k, v) in headers {
                if *k == "cookie" {
                    e["cookies"] = json!(v.split("; ").collect::<Vec<_>>());
                } else {
                    e["headers"][k] = json!(v);
                }
            }
        }
        Kind::Alb => {
            e["httpMethod"] = json!(method);
            e["path"] = json!(path);
            for (k, v) in headers {
                e["headers"][k] = json!(v);
            }
        }
        Kind::AlbMulti => {
            e["httpMethod"] = json!(method);
            e["path"] = json!(path);
            for (k, v) in headers {
                e["multiValueHeaders"][k] = json!([v]);
            }
        }
    }
    let (body, base64) = body.unwrap_or(("", false));
    e["body"] = json!(body);
    e["isBase64Encoded"] = json!(base64);
    e
}

/// The bootstrap running against a fresh server; killed when dropped.
struct Run {
    child: Child,
    server: Server,
}

impl Run {
    fn start() -> Run {
        let server = Server::start().expect("start the fake Runtime API");
        let mut cmd = server.command(Path::new(env!("CARGO_BIN_EXE_axum-app")));
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn the bootstrap");
        Run { child, server }
    }

    fn outcome(&self, event: &Value) -> Outcome {
        let id = self.server.invoke(Invocation::new(event.to_string()));
        self.server
            .wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no answer to {event}"))
    }

    /// The response document for `event`.
    fn call(&self, event: &Value) -> Value {
        let o = self.outcome(event);
        assert_eq!(o.kind, OutcomeKind::Response, "{}", o.body_str());
        assert_eq!(o.status_sent, 202);
        parse(o.body_str())
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every value of response header `name`, whatever the trigger's shape.
fn header(doc: &Value, name: &str) -> Vec<String> {
    if let Some(m) = doc.get("multiValueHeaders") {
        return m[name]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
    }
    doc["headers"][name]
        .as_str()
        .map(|v| vec![v.to_owned()])
        .unwrap_or_default()
}

/// The fields of `kind`'s response document, sorted.
fn shape(kind: Kind) -> Vec<&'static str> {
    let mut fields = match kind {
        Kind::V1 => vec![
            "statusCode",
            "headers",
            "multiValueHeaders",
            "body",
            "isBase64Encoded",
        ],
        Kind::V2 | Kind::Url => vec![
            "statusCode",
            "headers",
            "cookies",
            "body",
            "isBase64Encoded",
        ],
        Kind::Alb => vec![
            "statusCode",
            "statusDescription",
            "headers",
            "body",
            "isBase64Encoded",
        ],
        Kind::AlbMulti => vec![
            "statusCode",
            "statusDescription",
            "multiValueHeaders",
            "body",
            "isBase64Encoded",
        ],
    };
    fields.sort_unstable();
    fields
}

/// Checks the fields every answer has: the trigger's shape, the status (and ALB's status
/// line), the content type, a text body; returns the body as JSON.
fn json_answer(kind: Kind, doc: &Value, status: u16, reason: &str) -> Value {
    let mut fields: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, shape(kind), "{kind:?}: {doc}");
    assert_eq!(doc["statusCode"], status, "{kind:?}: {doc}");
    if matches!(kind, Kind::Alb | Kind::AlbMulti) {
        assert_eq!(doc["statusDescription"], format!("{status} {reason}"));
    }
    assert_eq!(
        header(doc, "content-type"),
        ["application/json"],
        "{kind:?}"
    );
    assert_eq!(doc["isBase64Encoded"], false, "{kind:?}");
    parse(doc["body"].as_str().unwrap())
}

#[test]
fn every_trigger_every_route() {
    let run = Run::start();
    for kind in KINDS {
        // A path parameter, JSON out.
        let doc = run.call(&event(kind, "GET", "/hello/Ada", &[], None));
        assert_eq!(
            json_answer(kind, &doc, 200, "OK"),
            json!({"message": "Hello Ada!"})
        );
        // Percent-encoded path parameters arrive decoded.
        let doc = run.call(&event(kind, "GET", "/hello/Ada%20L", &[], None));
        assert_eq!(
            json_answer(kind, &doc, 200, "OK")["message"],
            "Hello Ada L!"
        );

        // JSON in and out.
        let order = r#"{"item":"tea","quantity":3,"unit_cents":250}"#;
        let json_type = [("content-type", "application/json")];
        let doc = run.call(&event(
            kind,
            "POST",
            "/orders",
            &json_type,
            Some((order, false)),
        ));
        assert_eq!(
            json_answer(kind, &doc, 201, "Created"),
            json!({"item": "tea", "quantity": 3, "total_cents": 750})
        );
        // The same JSON sent base64-encoded (as API Gateway does for binary media types).
        let b64 = "eyJpdGVtIjoidGVhIiwicXVhbnRpdHkiOjMsInVuaXRfY2VudHMiOjI1MH0=";
        let doc = run.call(&event(
            kind,
            "POST",
            "/orders",
            &json_type,
            Some((b64, true)),
        ));
        assert_eq!(json_answer(kind, &doc, 201, "Created")["total_cents"], 750);
        // JSON that does not fit: axum's 422, in the trigger's shape.
        let doc = run.call(&event(
            kind,
            "POST",
            "/orders",
            &json_type,
            Some(("{}", false)),
        ));
        assert_eq!(doc["statusCode"], 422, "{kind:?}: {doc}");

        // The 404.
        let doc = run.call(&event(kind, "GET", "/nope", &[], None));
        assert_eq!(
            json_answer(kind, &doc, 404, "Not Found"),
            json!({"error": "not found", "path": "/nope"})
        );
    }
}

#[test]
fn binary_bodies_and_cookies_round_trip() {
    let run = Run::start();
    // A PNG signature and every byte value: sent base64, answered base64.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let b64 = encode(&bytes);
    for kind in KINDS {
        let png = [("content-type", "image/png")];
        let doc = run.call(&event(kind, "POST", "/echo", &png, Some((&b64, true))));
        assert_eq!(doc["statusCode"], 200, "{kind:?}: {doc}");
        assert_eq!(doc["isBase64Encoded"], true, "{kind:?}");
        assert_eq!(doc["body"], b64, "{kind:?}");
        assert_eq!(header(&doc, "content-type"), ["image/png"]);

        // Text stays text.
        let text = [("content-type", "text/plain; charset=utf-8")];
        let doc = run.call(&event(kind, "POST", "/echo", &text, Some(("héllo", false))));
        assert_eq!(
            (&doc["body"], &doc["isBase64Encoded"]),
            (&json!("héllo"), &json!(false))
        );

        // Cookies in, Set-Cookie out in the trigger's place for them.
        let cookies = [("content-type", "text/plain"), ("cookie", "a=1; b=2")];
        let doc = run.call(&event(kind, "POST", "/echo", &cookies, Some(("x", false))));
        let set = ["echoed-a=0; Path=/", "echoed-b=1; Path=/"];
        match kind {
            Kind::V2 | Kind::Url => {
                assert_eq!(doc["cookies"], json!(set));
                assert!(doc["headers"].get("set-cookie").is_none());
            }
            Kind::V1 | Kind::AlbMulti => {
                assert_eq!(doc["multiValueHeaders"]["set-cookie"], json!(set))
            }
            // Single-value ALB has room for one.
            Kind::Alb => assert_eq!(doc["headers"]["set-cookie"], set[1]),
        }
    }
}

#[test]
fn bad_input() {
    let run = Run::start();
    for kind in KINDS {
        let doc = run.call(&event(
            kind,
            "POST",
            "/echo",
            &[],
            Some(("*not base64*", true)),
        ));
        assert_eq!(doc["statusCode"], 400, "{kind:?}: {doc}");
        assert_eq!(
            doc["body"],
            "Bad Request: the request body is not valid base64"
        );
    }
    let o = run.outcome(&json!({"name": "World"}));
    assert_eq!(o.kind, OutcomeKind::Error);
    assert_eq!(o.error_type(), Some("InvalidEvent"));
    assert!(o.body_str().contains("tried ALB"), "{}", o.body_str());
}

fn encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
