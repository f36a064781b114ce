#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod base64;
mod body;
pub mod event;
mod ext;
mod request;
pub mod response;
mod run;
mod service;

pub use body::Body;
pub use event::{InvalidEvent, LambdaRequest, RequestContext, Trigger};
pub use ext::{QueryMap, RequestExt};
pub use lamina_mio::{Context, Diagnostic};
pub use request::BadRequest;
pub use response::{IntoResponse, LambdaResponse};
pub use run::{handler, run, run_streaming, streaming_handler};
pub use service::{IntoResponseFuture, ServiceFn, handle, service_fn};

pub use http;

/// An HTTP request as the handler sees it.
pub type Request = http::Request<Body>;
/// An HTTP response with a [`Body`].
pub type Response = http::Response<Body>;
