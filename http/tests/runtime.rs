//! End to end: the adapter on lamina-mio's runtime against the fake Runtime API
//! (lamina-server), one real event per trigger in, the response document the runtime posts out.
//! The runtime runs on a thread of this test process; a `/next` answered 500 stops it.

mod common;

use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::*;
use lamina_http::{handler, service_fn};
use lamina_server::{Fault, Invocation, Outcome, OutcomeKind, Server};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

struct Running {
    server: Server,
    runtime: Option<JoinHandle<i32>>,
}

impl Running {
    fn start(h: impl lamina_mio::Handler) -> Running {
        let server = Server::start().expect("start the fake Runtime API");
        let env = server.lambda_env();
        let runtime = thread::spawn(move || {
            lamina_mio::Runtime::with_lookup(move |name| {
                env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
            .serve(h)
        });
        Running {
            server,
            runtime: Some(runtime),
        }
    }

    fn call(&self, event: &Value) -> (String, Outcome) {
        let id = self.server.invoke(Invocation::new(event.to_string()));
        let outcome = self
            .server
            .wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no answer for {event}"));
        (id, outcome)
    }

    fn document(&self, event: &Value) -> (String, Value) {
        let (id, o) = self.call(event);
        assert_eq!(o.kind, OutcomeKind::Response, "{}", o.body_str());
        assert_eq!(o.status_sent, 202);
        assert_eq!(o.request.header("content-type"), Some("application/json"));
        (id, parse(o.body_str()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Any 500 makes the runtime exit.
        self.server
            .invoke(Invocation::new("{}").fault(Fault::Status(500)));
        if let Some(t) = self.runtime.take() {
            let code = t.join().expect("the runtime thread");
            if !thread::panicking() {
                assert_eq!(code, 1);
            }
        }
    }
}

#[test]
fn every_trigger_end_to_end() {
    let run = Running::start(handler(service_fn(inspect)));

    // The request each trigger's event describes, and the trigger's response shape.
    for (fixture, trigger, uri) in [
        (
            V1,
            "v1",
            "https://gy415nuibc.execute-api.us-east-1.amazonaws.com/hello/world?name=me",
        ),
        (
            V2,
            "v2",
            "https://aaaaaaaaaa.execute-api.us-west-2.amazonaws.com/",
        ),
        (
            URL,
            "url",
            "https://a1b2c3d4e5f6g7h8i9j0.lambda-url.us-west-2.on.aws/my/path?parameter1=value1&parameter1=value2&parameter2=value",
        ),
        (
            ALB,
            "alb",
            "http://lambda-test-alb-1334523864.us-east-1.elb.amazonaws.com/?key=hello",
        ),
        (
            ALB_MULTI,
            "alb",
            "http://lambda-test-alb-1234567.us-east-1.elb.amazonaws.com/?key=hello",
        ),
    ] {
        let (id, doc) = run.document(&parse(fixture));
        assert_eq!(doc["statusCode"], 200, "{doc}");
        assert_eq!(doc["isBase64Encoded"], false);
        let req = parse(doc["body"].as_str().unwrap());
        assert_eq!(req["trigger"], trigger);
        assert_eq!(req["uri"], uri);
        // The invocation's Lambda context reaches the handler.
        assert_eq!(req["lambdaRequestId"], id.as_str());
        let fields: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let want: &[&str] = match (trigger, fixture == ALB_MULTI) {
            ("v1", _) => &[
                "body",
                "headers",
                "isBase64Encoded",
                "multiValueHeaders",
                "statusCode",
            ],
            ("v2" | "url", _) => &[
                "body",
                "cookies",
                "headers",
                "isBase64Encoded",
                "statusCode",
            ],
            (_, false) => &[
                "body",
                "headers",
                "isBase64Encoded",
                "statusCode",
                "statusDescription",
            ],
            (_, true) => &[
                "body",
                "isBase64Encoded",
                "multiValueHeaders",
                "statusCode",
                "statusDescription",
            ],
        };
        let mut fields = fields;
        fields.sort_unstable();
        assert_eq!(fields, want, "{doc}");
    }

    // Cookies in and out (payload 2.0's `cookies` both ways).
    let mut e = parse(URL);
    e["rawPath"] = json!("/cookies");
    e["cookies"] = json!(["session=abc", "theme=dark"]);
    let (_, doc) = run.document(&e);
    assert_eq!(doc["statusCode"], 201);
    assert_eq!(
        doc["cookies"],
        json!([
            "seen-session=abc; Path=/; HttpOnly",
            "seen-theme=dark; Path=/; HttpOnly"
        ])
    );
    let mut e = parse(V1);
    e["path"] = json!("/cookies");
    e["multiValueHeaders"]["Cookie"] = json!(["session=abc; theme=dark"]);
    let (_, doc) = run.document(&e);
    assert_eq!(
        doc["multiValueHeaders"]["set-cookie"],
        json!([
            "seen-session=abc; Path=/; HttpOnly",
            "seen-theme=dark; Path=/; HttpOnly"
        ])
    );

    // A binary body round trip (every byte value).
    let b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";
    for fixture in [V1, V2, URL, ALB, ALB_MULTI] {
        let mut e = parse(fixture);
        for key in ["path", "rawPath"] {
            if e.get(key).is_some() {
                e[key] = json!("/binary");
            }
        }
        e["body"] = json!(b64);
        e["isBase64Encoded"] = json!(true);
        let (_, doc) = run.document(&e);
        assert_eq!(
            (&doc["body"], &doc["isBase64Encoded"]),
            (&json!(b64), &json!(true))
        );

        // Invalid base64: 400, the handler not called.
        e["body"] = json!("%%%");
        let (_, doc) = run.document(&e);
        assert_eq!(doc["statusCode"], 400);
        assert_eq!(
            doc["body"],
            "Bad Request: the request body is not valid base64"
        );
    }

    // Not an HTTP event: InvalidEvent naming the shapes tried.
    let (_, o) = run.call(&json!({"name": "World"}));
    assert_eq!(o.kind, OutcomeKind::Error);
    assert_eq!(o.error_type(), Some("InvalidEvent"));
    let error = parse(o.body_str());
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("not an HTTP event: tried ALB"),
        "{message}"
    );

    // A service that awaits a tokio timer.
    let mut e = parse(ALB);
    e["path"] = json!("/sleep");
    let (_, doc) = run.document(&e);
    assert_eq!(
        parse(doc["body"].as_str().unwrap())["uri"]
            .as_str()
            .map(|u| u.ends_with("/sleep?key=hello")),
        Some(true)
    );

    // A service error.
    let mut e = parse(V2);
    e["rawPath"] = json!("/fail");
    let (_, o) = run.call(&e);
    assert_eq!(o.error_type(), Some("Inspect.Failed"));
    assert_eq!(parse(o.body_str())["errorMessage"], "asked to fail");
}
