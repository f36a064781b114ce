//! The adapter, independent of any transport: an event in, the service called, the trigger's
//! response document out. And [`service_fn`], a plain async function as a service.

use std::fmt::{self, Display};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use lamina_mio::Diagnostic;
use tower_service::Service;

use crate::Context;
use crate::body::{Body, collect};
use crate::event::LambdaRequest;
use crate::request::BadRequest;
use crate::response::{IntoResponse, LambdaResponse};

/// An error of the response body, reported on `/error` named after the error's type.
pub(crate) fn body_error<E: Display + ?Sized>(e: &E) -> Diagnostic {
    let mut d = Diagnostic::of(e);
    d.error_message.insert_str(0, "the response body failed: ");
    d
}

/// The `400 Bad Request` a request the handler must not see is answered with.
pub(crate) fn bad_request(e: &BadRequest) -> Response<Body> {
    let mut res = Response::new(Body::from(format!("Bad Request: {e}")));
    *res.status_mut() = StatusCode::BAD_REQUEST;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// The request for `event`, with the Lambda context as an extension; or the response to send
/// without calling the handler.
pub(crate) fn prepare(
    ctx: Context,
    event: LambdaRequest,
) -> Result<Request<Body>, Box<Response<Body>>> {
    let mut req = event
        .into_http_request()
        .map_err(|e| Box::new(bad_request(&e)))?;
    req.extensions_mut().insert(ctx);
    Ok(req)
}

/// Waits until `service` is ready, then calls it.
pub(crate) async fn call_service<S, B>(
    service: &mut S,
    req: Request<B>,
) -> Result<S::Response, S::Error>
where
    S: Service<Request<B>>,
{
    poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(req).await
}

/// Handles one HTTP event with `service`: the event becomes an `http::Request<Body>` (a body
/// that is not valid base64 is answered `400` without calling the service), the service's
/// response becomes the response document of the event's trigger. An error of the service or
/// of its response body is returned as a [`Diagnostic`] (the service's error converted into
/// one; the body's named after its type).
pub async fn handle<S, B>(
    service: &mut S,
    ctx: Context,
    event: LambdaRequest,
) -> Result<LambdaResponse, Diagnostic>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<Diagnostic>,
    B: http_body::Body,
    B::Error: Display,
{
    let trigger = event.trigger();
    let req = match prepare(ctx, event) {
        Ok(req) => req,
        Err(res) => return Ok(LambdaResponse::from_response(trigger, &res)),
    };
    let res = call_service(service, req).await.map_err(Into::into)?;
    let (parts, body) = res.into_parts();
    let body = collect(body).await.map_err(|e| body_error(&e))?;
    Ok(LambdaResponse::new(
        trigger,
        parts.status,
        &parts.headers,
        &body,
    ))
}

/// A service made of an async function: `async fn(Request<Body>) -> Result<impl IntoResponse,
/// E>`. Build it with [`service_fn`].
#[derive(Clone, Copy)]
pub struct ServiceFn<F> {
    f: F,
}

impl<F> fmt::Debug for ServiceFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceFn")
    }
}

/// A [`tower_service::Service`] that calls `f` for each request. `f` returns
/// `Result<impl IntoResponse, E>`: a `Response<impl Into<Body>>`, a `String`, JSON as a
/// `serde_json::Value`, `(StatusCode, T)`; an `Err` is reported as the invocation's error.
///
/// ```
/// use lamina_http::{Body, Request, RequestExt, service_fn};
///
/// async fn hello(req: Request) -> Result<String, std::convert::Infallible> {
///     let name = req.query_string_parameters().first("name").unwrap_or("World");
///     Ok(format!("Hello {name}!"))
/// }
///
/// let service = service_fn(hello);
/// # let _ = service;
/// ```
pub fn service_fn<F, Fut, R, E>(f: F) -> ServiceFn<F>
where
    F: Fn(Request<Body>) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    R: IntoResponse,
{
    ServiceFn { f }
}

impl<F, Fut, R, E> Service<Request<Body>> for ServiceFn<F>
where
    F: Fn(Request<Body>) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    R: IntoResponse,
{
    type Response = Response<Body>;
    type Error = E;
    type Future = IntoResponseFuture<Fut>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> Poll<Result<(), E>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        IntoResponseFuture {
            inner: Box::pin((self.f)(req)),
        }
    }
}

/// The future of a [`ServiceFn`] call.
pub struct IntoResponseFuture<Fut> {
    inner: Pin<Box<Fut>>,
}

impl<Fut> fmt::Debug for IntoResponseFuture<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntoResponseFuture")
    }
}

impl<Fut, R, E> Future for IntoResponseFuture<Fut>
where
    Fut: Future<Output = Result<R, E>>,
    R: IntoResponse,
{
    type Output = Result<Response<Body>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        self.inner
            .as_mut()
            .poll(cx)
            .map(|r| r.map(IntoResponse::into_response))
    }
}
