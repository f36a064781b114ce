//! The handlers fed the sample events `aws_lambda_events` documents its types with (its own
//! fixtures, copied into `tests/fixtures/`): called directly, and end to end as bootstraps
//! against lamina's fake Runtime API (`lamina-server`). Every wait is bounded by [`WAIT`].

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::SqsEvent;
use lamina_aws_events::{http_api, sqs_batch};
use lamina_mio::Context;
use lamina_server::{Invocation, Outcome, OutcomeKind, Server};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

const HTTP_NO_AUTHORIZER: &str =
    include_str!("fixtures/example-apigw-v2-request-no-authorizer.json");
const HTTP_MULTI_VALUE: &str =
    include_str!("fixtures/example-apigw-v2-request-multi-value-parameters.json");
const SQS_EVENT: &str = include_str!("fixtures/example-sqs-event.json");
const SQS_BATCH_RESPONSE: &str = include_str!("fixtures/example-sqs-batch-response.json");

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON")
}

/// The SQS sample event with its one record copied five times, as `id1`..`id5`; the bodies of
/// `id2` and `id4` say FAIL. The documented batch response (`id2`, `id4`) is its answer.
fn sqs_batch_of_five() -> Value {
    let mut event = parse(SQS_EVENT);
    let record = event["Records"][0].clone();
    let records: Vec<Value> = (1..=5)
        .map(|i| {
            let mut r = record.clone();
            r["messageId"] = json!(format!("id{i}"));
            if i % 2 == 0 {
                r["body"] = json!("FAIL: poison message");
            }
            r
        })
        .collect();
    event["Records"] = json!(records);
    event
}

/// The response's JSON body.
fn body_json(body: &Option<Body>) -> Value {
    match body {
        Some(Body::Text(t)) => parse(t),
        other => panic!("not a text body: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The handlers called directly.

#[test]
fn http_api_sample_request() {
    let req: ApiGatewayV2httpRequest = serde_json::from_str(HTTP_NO_AUTHORIZER).unwrap();
    let res = http_api(&Context::default(), req).unwrap();
    assert_eq!(res.status_code, 200);
    assert_eq!(res.headers["content-type"], "application/json");
    assert_eq!(
        body_json(&res.body),
        json!({
            "message": "Hello World!",
            "method": "GET",
            "path": "/",
            "query": {},
            "sourceIp": "1.2.3.4",
            "requestId": "LV7fzho-PHcEJPw=",
        })
    );
}

#[test]
fn http_api_multi_value_query() {
    let req: ApiGatewayV2httpRequest = serde_json::from_str(HTTP_MULTI_VALUE).unwrap();
    let res = http_api(&Context::default(), req).unwrap();
    let body = body_json(&res.body);
    assert_eq!(body["path"], "/my/path");
    assert_eq!(body["query"], json!({ "Parameter1": ["value1", "value2"] }));
    assert_eq!(body["message"], "Hello World!");
}

#[test]
fn http_api_name_and_method() {
    let mut event = parse(HTTP_NO_AUTHORIZER);
    event["rawQueryString"] = json!("name=Lamina");
    event["queryStringParameters"] = json!({ "name": "Lamina" });
    let req: ApiGatewayV2httpRequest = serde_json::from_value(event.clone()).unwrap();
    let res = http_api(&Context::default(), req).unwrap();
    assert_eq!(body_json(&res.body)["message"], "Hello Lamina!");

    event["requestContext"]["http"]["method"] = json!("DELETE");
    let req: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
    let res = http_api(&Context::default(), req).unwrap();
    assert_eq!(res.status_code, 405);
    assert_eq!(res.headers["allow"], "GET, HEAD, POST");
}

#[test]
fn sqs_sample_event_all_succeed() {
    let event: SqsEvent = serde_json::from_str(SQS_EVENT).unwrap();
    let res = sqs_batch(&Context::default(), event).unwrap();
    assert!(res.batch_item_failures.is_empty());
    assert_eq!(
        serde_json::to_value(&res).unwrap(),
        json!({ "batchItemFailures": [] })
    );
}

#[test]
fn sqs_partial_failure_is_the_documented_batch_response() {
    let event: SqsEvent = serde_json::from_value(sqs_batch_of_five()).unwrap();
    let res = sqs_batch(&Context::default(), event).unwrap();
    assert_eq!(
        serde_json::to_value(&res).unwrap(),
        parse(SQS_BATCH_RESPONSE)
    );
}

#[test]
fn sqs_failure_without_message_id_fails_the_batch() {
    let mut event = parse(SQS_EVENT);
    event["Records"][0]["messageId"] = Value::Null;
    event["Records"][0]["body"] = json!("");
    let event: SqsEvent = serde_json::from_value(event).unwrap();
    assert!(sqs_batch(&Context::default(), event).is_err());
}

// ---------------------------------------------------------------------------------------------
// End to end: the bootstraps against the fake Runtime API.

/// A bootstrap running against a fresh server; the child is killed when dropped.
struct Run {
    child: Child,
    server: Server,
}

impl Run {
    fn start(bootstrap: &str) -> Run {
        let server = Server::start().expect("start the fake Runtime API");
        let mut cmd = server.command(Path::new(bootstrap));
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = cmd.spawn().expect("spawn the bootstrap");
        Run { child, server }
    }

    fn call(&self, event: &Value) -> (String, Outcome) {
        let id = self.server.invoke(Invocation::new(event.to_string()));
        let o = self.server.wait_outcome(&id, WAIT).unwrap_or_else(|| {
            panic!(
                "no answer for {id}; requests: {:#?}",
                self.server.requests()
            )
        });
        (id, o)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn response_json(o: &Outcome) -> Value {
    assert_eq!(o.kind, OutcomeKind::Response, "{o:?}");
    assert_eq!(o.status_sent, 202);
    parse(o.body_str())
}

#[test]
fn http_api_end_to_end() {
    let run = Run::start(env!("CARGO_BIN_EXE_http-api"));
    for fixture in [HTTP_NO_AUTHORIZER, HTTP_MULTI_VALUE] {
        let (id, o) = run.call(&parse(fixture));
        let got = response_json(&o);
        // What the handler returns when called directly, but for the request id header.
        let req: ApiGatewayV2httpRequest = serde_json::from_str(fixture).unwrap();
        let mut want = serde_json::to_value(http_api(&Context::default(), req).unwrap()).unwrap();
        want["headers"]["x-lambda-request-id"] = json!(id);
        assert_eq!(got, want);
        assert_eq!(got["statusCode"], 200);
        assert_eq!(got["isBase64Encoded"], false);
        assert_eq!(
            parse(got["body"].as_str().unwrap())["message"],
            "Hello World!"
        );
    }
}

#[test]
fn sqs_batch_end_to_end() {
    let run = Run::start(env!("CARGO_BIN_EXE_sqs-batch"));
    let (_, o) = run.call(&sqs_batch_of_five());
    assert_eq!(response_json(&o), parse(SQS_BATCH_RESPONSE));
    let (_, o) = run.call(&parse(SQS_EVENT));
    assert_eq!(response_json(&o), json!({ "batchItemFailures": [] }));

    // A failed message without an id fails the whole batch: `/error` with the error's type.
    let mut event = parse(SQS_EVENT);
    event["Records"][0]["messageId"] = Value::Null;
    event["Records"][0]["body"] = json!("FAIL");
    let (_, o) = run.call(&event);
    assert_eq!(o.kind, OutcomeKind::Error, "{o:?}");
    assert_eq!(o.error_type(), Some("MessageFailed"));
    // Not an SQS event at all.
    let (_, o) = run.call(&json!({ "Records": "nope" }));
    assert_eq!(o.error_type(), Some("InvalidEvent"));
}
