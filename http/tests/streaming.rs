//! Streamed responses (Function URLs with `RESPONSE_STREAM`, API Gateway response streaming)
//! end to end against the fake Runtime API: the HTTP integration prelude (status, headers,
//! cookies, 8 NUL bytes), then each body frame as one chunk.

mod common;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body::Frame;
use lamina_http::{Body, Diagnostic, RequestExt, streaming_handler};
use lamina_server::{Fault, Invocation, OutcomeKind, Server};
use serde_json::json;

/// A body sent in the frames it was made of.
struct Frames(Vec<String>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.0.is_empty() {
            return Poll::Ready(None);
        }
        let s = self.0.remove(0);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(s)))))
    }
}

/// Answers with the query parameter `n` lines, one frame each, and a cookie; `/fail` fails.
#[derive(Clone)]
struct Lines;

impl tower_service::Service<Request<Body>> for Lines {
    type Response = Response<Frames>;
    type Error = Diagnostic;
    type Future = Ready<Result<Response<Frames>, Diagnostic>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Diagnostic>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if req.uri().path() == "/fail" {
            return ready(Err(Diagnostic::new("Lines.Failed", "no lines")));
        }
        let n: usize = req
            .query_string_parameters()
            .first("n")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let lines = (1..=n).map(|i| format!("line {i}\n")).collect();
        let res = Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .header("x-lines", n.to_string())
            .header("set-cookie", "streamed=yes")
            .body(Frames(lines))
            .unwrap();
        ready(Ok(res))
    }
}

#[test]
fn streamed_responses_start_with_the_prelude() {
    let server = Server::start().expect("start the fake Runtime API");
    let env = server.lambda_env();
    let runtime = thread::spawn(move || {
        lamina_mio::Runtime::with_lookup(move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .serve(streaming_handler(Lines))
    });
    let wait = Duration::from_secs(10);

    let mut e = parse(URL);
    e["rawQueryString"] = json!("n=3");
    let id = server.invoke(Invocation::new(e.to_string()));
    let o = server.wait_outcome(&id, wait).expect("an answer");
    assert_eq!(o.kind, OutcomeKind::Response);
    let r = &o.request;
    assert_eq!(
        r.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.awslambda.http-integration-response")
    );
    let nul = r
        .body
        .windows(8)
        .position(|w| w == [0; 8])
        .expect("8 NUL bytes");
    let prelude: serde_json::Value = serde_json::from_slice(&r.body[..nul]).unwrap();
    assert_eq!(
        prelude,
        json!({"statusCode": 200,
            "headers": {"content-type": "text/plain", "x-lines": "3"},
            "cookies": ["streamed=yes"]})
    );
    assert_eq!(&r.body[nul + 8..], b"line 1\nline 2\nline 3\n");
    // The prelude, then one chunk per frame.
    assert_eq!(r.chunks.len(), 4, "{:?}", r.chunks);

    // API Gateway v1 streams the same way; a body that is not base64 is a streamed 400.
    let mut e = parse(V1);
    e["body"] = json!("not base64!");
    e["isBase64Encoded"] = json!(true);
    let id = server.invoke(Invocation::new(e.to_string()));
    let o = server.wait_outcome(&id, wait).expect("an answer");
    let body = &o.request.body;
    let nul = body
        .windows(8)
        .position(|w| w == [0; 8])
        .expect("8 NUL bytes");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body[..nul]).unwrap()["statusCode"],
        400
    );
    assert_eq!(
        &body[nul + 8..],
        b"Bad Request: the request body is not valid base64"
    );

    // Errors before the first byte: an ordinary `/error`.
    let id = server.invoke(Invocation::new(r#"{"name":"World"}"#));
    let o = server.wait_outcome(&id, wait).expect("an answer");
    assert_eq!(
        (o.kind, o.error_type()),
        (OutcomeKind::Error, Some("InvalidEvent"))
    );
    let mut e = parse(V2);
    e["rawPath"] = json!("/fail");
    let id = server.invoke(Invocation::new(e.to_string()));
    let o = server.wait_outcome(&id, wait).expect("an answer");
    assert_eq!(
        (o.kind, o.error_type()),
        (OutcomeKind::Error, Some("Lines.Failed"))
    );

    server.invoke(Invocation::new("{}").fault(Fault::Status(500)));
    assert_eq!(runtime.join().unwrap(), 1);
}
