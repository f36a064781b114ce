//! The glue to the transport: the one module that knows how invocations arrive.
//!
//! Each invocation runs on lamina-mio's async transport (its `tokio` feature): the adapter's
//! future is driven on the thread that serves the invocation's lane, inside a multi-thread
//! tokio runtime, so services may await tokio timers, IO and spawned tasks. The adapter itself
//! ([`handle`]) is transport-independent.

use std::fmt::Display;
use std::future::poll_fn;
use std::pin::pin;

use bytes::Buf;
use http::{Request, Response};
use lamina_mio::core::error_type;
use lamina_mio::{Config, Diagnostic, Handler, ResponseStream, async_streaming, async_typed};
use tower_service::Service;

use crate::Context;
use crate::body::Body;
use crate::event::LambdaRequest;
use crate::response::{cookies, joined_headers};
use crate::service::{body_error, call_service, handle, prepare};

/// `service` as a lamina [`Handler`] (an async one), to run on a configured runtime:
/// `lamina_mio::Runtime::from_env().graceful_shutdown(..).run(lamina_http::handler(app))`.
/// Each invocation calls a clone of the service (an axum `Router`'s clone is cheap).
pub fn handler<S, B>(service: S) -> impl Handler
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<Diagnostic>,
    B: http_body::Body,
    B::Error: Display,
{
    async_typed(async move |ctx: &Context, event: LambdaRequest| {
        let mut service = service.clone();
        handle(&mut service, ctx.clone(), event).await
    })
}

/// Runs `service` (any `tower::Service<http::Request<Body>>`: an axum `Router`, a
/// [`service_fn`](crate::service_fn)) as this process's Lambda function, answering API
/// Gateway (REST and HTTP APIs), ALB and Function URL events, on lamina-mio's async transport.
/// Never returns, like `lamina_mio::run`.
pub fn run<S, B>(service: S) -> !
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<Diagnostic>,
    B: http_body::Body,
    B::Error: Display,
{
    // Through the async init, so that a tokio runtime that cannot start is an `/init/error`.
    lamina_mio::Runtime::from_env()
        .run_async_with_init(async move |_: &Config| Ok::<_, Diagnostic>(handler(service)))
}

/// `service` as a streaming [`Handler`]: the response goes out as it is produced, behind the
/// HTTP integration prelude (status, headers, cookies), each body frame one chunk. For
/// Function URLs with `InvokeMode: RESPONSE_STREAM` and API Gateway response streaming.
pub fn streaming_handler<S, B>(service: S) -> impl Handler
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<Diagnostic>,
    B: http_body::Body,
    B::Error: Display,
{
    async_streaming(
        async move |ctx: &Context, event: &[u8], stream: &mut ResponseStream<'_>| {
            let event = LambdaRequest::from_slice(event)
                .map_err(|e| Diagnostic::new(error_type::INVALID_EVENT, e.message()))?;
            let mut service = service.clone();
            match prepare(ctx.clone(), event) {
                Ok(req) => {
                    let res = call_service(&mut service, req).await.map_err(Into::into)?;
                    write_response(res, stream).await
                }
                Err(res) => write_response(*res, stream).await,
            }
        },
    )
}

/// Runs `service` with its responses streamed (see [`streaming_handler`]). Never returns.
pub fn run_streaming<S, B>(service: S) -> !
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<Diagnostic>,
    B: http_body::Body,
    B::Error: Display,
{
    lamina_mio::Runtime::from_env().run_async_with_init(async move |_: &Config| {
        Ok::<_, Diagnostic>(streaming_handler(service))
    })
}

/// The prelude, then each body frame as one chunk.
async fn write_response<B>(
    res: Response<B>,
    stream: &mut ResponseStream<'_>,
) -> Result<(), Diagnostic>
where
    B: http_body::Body,
    B::Error: Display,
{
    let lost = |e: std::io::Error| {
        Diagnostic::new(
            error_type::STREAM_LOST,
            format!("the response stream failed: {e}"),
        )
    };
    let (parts, body) = res.into_parts();
    let headers = joined_headers(&parts.headers);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let cookies = cookies(&parts.headers);
    let cookies: Vec<&str> = cookies.iter().map(String::as_str).collect();
    stream
        .write_http_prelude(parts.status.as_u16(), &headers, &cookies)
        .map_err(lost)?;
    let mut body = pin!(body);
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|e| body_error(&e))?;
        let Ok(mut data) = frame.into_data() else {
            continue; // trailers have no place in the prelude format
        };
        while data.has_remaining() {
            let chunk = data.chunk();
            let n = chunk.len();
            stream.write(chunk).map_err(lost)?;
            data.advance(n);
        }
    }
    Ok(())
}
