//! lamina with the ecosystem's event types (`aws_lambda_events`): the handlers behind the
//! `http-api` and `sqs-batch` bootstraps, plain functions of `(&Context, Event)` that tests can
//! call directly.
//!
//! - [`http_api`]: an API Gateway HTTP API (payload format 2.0) request in, an API Gateway v2
//!   response out: a JSON greeting (`?name=` or `World`) that also says what it was asked.
//! - [`sqs_batch`]: an SQS batch in, the messages that failed out (`SqsBatchResponse`'s
//!   `batchItemFailures`), so that only those go back to the queue. Needs
//!   `FunctionResponseTypes: [ReportBatchItemFailures]` on the event source mapping.

use std::convert::Infallible;
use std::fmt;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method, header};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lamina_mio::Context;
use serde_json::{Value, json};

/// `GET`/`HEAD`/`POST` any path: 200 with a JSON body `{"message": "Hello <name>!", "method",
/// "path", "query", "sourceIp", "requestId"}`, where `<name>` is the `name` query parameter (or
/// `World`); any other method: 405. Never an `Err`: HTTP errors are responses.
pub fn http_api(
    ctx: &Context,
    req: ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, Infallible> {
    let http = &req.request_context.http;
    if ![Method::GET, Method::HEAD, Method::POST].contains(&http.method) {
        let mut res = json_response(405, &json!({ "message": "Method Not Allowed" }));
        res.headers
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return Ok(res);
    }
    let name = req.query_string_parameters.first("name").unwrap_or("World");
    let query: serde_json::Map<String, Value> = req
        .query_string_parameters
        .iter()
        .map(|(k, _)| (k.to_string(), json!(req.query_string_parameters.all(k))))
        .collect();
    let body = json!({
        "message": format!("Hello {name}!"),
        "method": http.method.as_str(),
        "path": req.raw_path.as_deref().or(http.path.as_deref()).unwrap_or("/"),
        "query": query,
        "sourceIp": http.source_ip,
        "requestId": req.request_context.request_id,
    });
    let mut res = json_response(200, &body);
    if let Ok(id) = HeaderValue::from_str(ctx.request_id.as_str()) {
        res.headers.insert("x-lambda-request-id", id);
    }
    Ok(res)
}

/// A response with a JSON body. (`ApiGatewayV2httpResponse` is `#[non_exhaustive]`: built from
/// its `Default`, field by field.)
fn json_response(status: i64, body: &Value) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut res = ApiGatewayV2httpResponse::default();
    res.status_code = status;
    res.headers = headers;
    res.body = Some(Body::Text(body.to_string()));
    res
}

/// Why one message could not be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFailed(pub String);

impl fmt::Display for MessageFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Reported with errorType `MessageFailed` and its Display as the message.
lamina_mio::impl_diagnostic!(MessageFailed);

/// The work done for one message, a stand-in for real processing: a message without a body, or
/// whose body says `FAIL`, fails.
pub fn process(message: &SqsMessage) -> Result<(), MessageFailed> {
    match message.body.as_deref() {
        None | Some("") => Err(MessageFailed("the message has no body".into())),
        Some(body) if body.contains("FAIL") => Err(MessageFailed("the body says FAIL".into())),
        Some(_) => Ok(()),
    }
}

/// Processes every message of the batch and reports the ones that failed, by message id, in
/// `batchItemFailures` (an empty list: all succeeded). A message without an id cannot be
/// reported alone: the whole batch fails (`Err`), so SQS retries all of it.
pub fn sqs_batch(ctx: &Context, event: SqsEvent) -> Result<SqsBatchResponse, MessageFailed> {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Err(e) = process(message) {
            let Some(id) = message.message_id.as_deref() else {
                return Err(MessageFailed(format!(
                    "a message without an id failed: {e}"
                )));
            };
            eprintln!("invocation {}: message {id} failed: {e}", ctx.request_id);
            response.add_failure(id);
        }
    }
    Ok(response)
}
