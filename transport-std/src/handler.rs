//! Handler forms: typed (serde), raw bytes, and the trait both transports call.

use std::borrow::Cow;
use std::fmt::Display;
use std::marker::PhantomData;

use lamina_core::{Context, error_type};

use crate::stream::ResponseStream;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The runtime's reusable scratch space for one lane: response bytes and error text live here
/// between invocations, so a warm invocation allocates nothing in the runtime. It is emptied
/// before every call.
#[derive(Debug, Default)]
pub struct Output {
    /// The response, when the reply is [`Reply::Output`].
    pub body: Vec<u8>,
    /// The `errorType`, when the reply is [`Reply::Error`].
    pub error_type: String,
    /// The `errorMessage`, when the reply is [`Reply::Error`].
    pub message: String,
}

impl Output {
    /// Empties every field, keeping the storage.
    pub fn clear(&mut self) {
        self.body.clear();
        self.error_type.clear();
        self.message.clear();
    }

    /// An output holding only this error.
    pub fn error_of(error_type: &str, message: &str) -> Output {
        let mut out = Output::default();
        let _ = out.error(error_type, message);
        out
    }

    /// Records an error (reusing the strings' storage) and returns [`Reply::Error`].
    pub fn error<'a>(&mut self, error_type: &str, message: &str) -> Reply<'a> {
        self.error_type.clear();
        self.error_type.push_str(error_type);
        self.message.clear();
        self.message.push_str(message);
        Reply::Error
    }
}

/// What a handler made of one invocation. Only a borrowed response carries data; the rest is
/// in the [`Output`] the handler was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Send these bytes (borrowed from the event, or static) as the response.
    Body(&'a [u8]),
    /// Send `out.body` as the response (empty if the handler wrote nothing).
    Output,
    /// Report `out.error_type` / `out.message` as the invocation's error.
    Error,
}

/// What both transports call for each invocation. [`typed`], [`raw`], [`streaming`] (and, with
/// the `tokio` feature, their async twins) build one from a plain function; [`layer`] wraps one;
/// implement it yourself for full control.
///
/// The runtime hands every call the same reusable [`Output`], emptied: a handler that writes
/// its response there (or borrows it from the event) allocates nothing per invocation.
///
/// ```
/// use lamina_std::{Context, Handler, Output, Reply};
///
/// /// Answers `pong` to `ping`, echoes anything else without copying it.
/// struct Pong;
///
/// impl Handler for Pong {
///     fn call<'a>(&self, _ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
///         match event {
///             b"ping" => Reply::Body(b"pong"),
///             b"" => out.error("EmptyEvent", "nothing to echo"),
///             _ => Reply::Body(event),
///         }
///     }
///
///     fn content_type(&self) -> &str {
///         "text/plain"
///     }
/// }
///
/// let mut out = Output::default();
/// assert_eq!(Pong.call(&Context::default(), b"ping", &mut out), Reply::Body(b"pong"));
/// assert_eq!(Pong.call(&Context::default(), b"", &mut out), Reply::Error);
/// assert_eq!(out.error_type, "EmptyEvent");
/// // `lamina_std::Runtime::from_env().run(Pong)` serves it.
/// ```
///
/// [`streaming`]: crate::streaming
pub trait Handler: Send + Sync + 'static {
    /// Handles one event, leaving any owned response or error in `out`.
    fn call<'a>(&self, ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a>;

    /// The `Content-Type` of successful responses. One that cannot be sent as a header value
    /// makes every response an `InvalidResponse` error.
    fn content_type(&self) -> &str {
        "application/json"
    }

    /// Whether this handler streams its response (see [`crate::streaming`]); the transports
    /// then call [`call_streaming`](Handler::call_streaming) instead of `call`.
    fn streams(&self) -> bool {
        false
    }

    /// Writes the response to `stream`; returns [`Reply::Output`] when done, or
    /// [`Reply::Error`] with the error in `out`.
    fn call_streaming<'a>(
        &self,
        ctx: &Context,
        event: &'a [u8],
        stream: &mut ResponseStream<'_>,
        out: &mut Output,
    ) -> Reply<'a> {
        let _ = stream;
        self.call(ctx, event, out)
    }
}

/// What an invocation's error reports: the `errorType` Lambda and X-Ray show, and the
/// `errorMessage`. The same shape as `lambda_runtime::Diagnostic`.
///
/// Every handler form takes an error type that converts into it (`Err: Into<Diagnostic>`):
///
/// - `Diagnostic` itself, `String`, `&str`, `std::io::Error`, `Box<dyn Error + Send + Sync>`,
///   `Box<dyn Error>`, `Box<E: Error>`, `Infallible`, `serde_json::Error` and std's parse
///   errors convert already; their `errorType` is the short type name (`Error`, `String`).
/// - Your error type: `impl From<MyError> for Diagnostic` chooses the type and the message
///   (exactly as with `lambda_runtime`), or [`impl_diagnostic!`](crate::impl_diagnostic)
///   writes that impl for a type with `Display`: `errorType` `MyError`, `errorMessage` its
///   `Display`.
///
/// (A blanket `impl<E: Display> From<E> for Diagnostic` would make any `From<MyError>` of
/// yours a conflicting impl, so there is none: one of the two lines above is needed once per
/// error type.)
///
/// ```
/// use lamina_std::{Context, Diagnostic, Handler, Output, typed};
///
/// #[derive(Debug)]
/// enum OrderError { NotFound(u32), Locked }
///
/// impl From<OrderError> for Diagnostic {
///     fn from(e: OrderError) -> Diagnostic {
///         match e {
///             OrderError::NotFound(id) => Diagnostic {
///                 error_type: "OrderNotFound".into(),
///                 error_message: format!("no order {id}"),
///             },
///             OrderError::Locked => Diagnostic::new("OrderLocked", "the order is locked"),
///         }
///     }
/// }
///
/// fn handler(_ctx: &Context, id: u32) -> Result<String, OrderError> {
///     Err(OrderError::NotFound(id))
/// }
///
/// let mut out = Output::default();
/// typed(handler).call(&Context::default(), b"7", &mut out);
/// assert_eq!((out.error_type.as_str(), out.message.as_str()), ("OrderNotFound", "no order 7"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostic {
    /// `errorType`, e.g. `"OrderNotFound"`: a short, readable name.
    pub error_type: String,
    /// `errorMessage`.
    pub error_message: String,
}

impl Diagnostic {
    /// An error of type `error_type` saying `error_message`.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Diagnostic {
            error_type: error_type.into(),
            error_message: error_message.into(),
        }
    }

    /// `error`'s short type name ([`short_type_name`]) and its `Display`: what
    /// [`impl_diagnostic!`](crate::impl_diagnostic) reports.
    ///
    /// ```
    /// let e = "x".parse::<u8>().unwrap_err();
    /// let d = lamina_std::Diagnostic::of(&e);
    /// assert_eq!(d.error_type, "ParseIntError");
    /// assert_eq!(d.error_message, "invalid digit found in string");
    /// ```
    pub fn of<E: Display + ?Sized>(error: &E) -> Self {
        Diagnostic {
            error_type: short_type_name::<E>().to_owned(),
            error_message: error.to_string(),
        }
    }
}

impl Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error_message)
    }
}

impl std::error::Error for Diagnostic {}

/// `impl From<T> for Diagnostic` for each listed type with `Display`: `errorType` is the
/// type's short name, `errorMessage` its `Display`.
///
/// ```
/// use lamina_std::{Diagnostic, impl_diagnostic};
///
/// #[derive(Debug)]
/// struct MyError(String);
///
/// impl std::fmt::Display for MyError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str(&self.0)
///     }
/// }
///
/// impl_diagnostic!(MyError);
///
/// let d = Diagnostic::from(MyError("it broke".into()));
/// assert_eq!((d.error_type.as_str(), d.error_message.as_str()), ("MyError", "it broke"));
/// ```
#[macro_export]
macro_rules! impl_diagnostic {
    ($($t:ty),+ $(,)?) => {
        $(
            impl ::core::convert::From<$t> for $crate::Diagnostic {
                fn from(error: $t) -> Self {
                    $crate::Diagnostic::of(&error)
                }
            }
        )+
    };
}

macro_rules! diagnostic_of {
    ($($t:ty),+ $(,)?) => {
        $(
            impl From<$t> for Diagnostic {
                fn from(error: $t) -> Self {
                    Diagnostic::of(&error)
                }
            }
        )+
    };
}

diagnostic_of!(
    String,
    std::io::Error,
    std::fmt::Error,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::str::ParseBoolError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    std::net::AddrParseError,
    Box<dyn std::error::Error>,
    Box<dyn std::error::Error + Send>,
    Box<dyn std::error::Error + Send + Sync>,
);

#[cfg(feature = "serde_json")]
diagnostic_of!(serde_json::Error);

#[cfg(feature = "tokio")]
diagnostic_of!(tokio::task::JoinError);

impl From<&str> for Diagnostic {
    fn from(message: &str) -> Self {
        Diagnostic::new("str", message)
    }
}

impl<E: std::error::Error> From<Box<E>> for Diagnostic {
    fn from(error: Box<E>) -> Self {
        Diagnostic::of(&*error)
    }
}

impl From<std::convert::Infallible> for Diagnostic {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// The short, readable name of a type: `my_crate::MyError` → `MyError`,
/// `Box<dyn Error + Send + Sync>` → `Error`, `&str` → `str`.
pub fn short_type_name<T: ?Sized>() -> &'static str {
    short_name(std::any::type_name::<T>())
}

fn short_name(full: &'static str) -> &'static str {
    // Byte searches rather than `str` substring patterns, which pull in a large searcher.
    let base = full.split('<').next().unwrap_or(full);
    let mut base = base.trim_start_matches('&');
    while let Some(rest) = base.strip_prefix("mut ") {
        base = rest;
    }
    let name = match base.rfind(':') {
        Some(i) => base.get(i + 1..).unwrap_or(base),
        None => base,
    };
    let has_dyn = full.as_bytes().windows(4).any(|w| w == b"dyn ");
    match name {
        "Box" | "Arc" | "Rc" if has_dyn => "Error",
        "" => "Error",
        _ => name,
    }
}

/// Writes an error's type and message into `out` and returns [`Reply::Error`].
pub(crate) fn error_reply<'a>(error: Diagnostic, out: &mut Output) -> Reply<'a> {
    out.error(&error.error_type, &error.error_message)
}

/// The answer of a streaming handler's `call`: transports call `call_streaming` on a handler
/// whose `streams()` is true, so this is reached only by a caller that forgot the stream.
pub(crate) fn called_without_stream<'a>(out: &mut Output) -> Reply<'a> {
    out.error(
        error_type::FALLBACK,
        "a streaming handler was called without a stream",
    )
}

/// The error's `Output`, for a lifecycle hook or an initialisation that failed.
pub(crate) fn error_output(error: impl Into<Diagnostic>) -> Output {
    let d = error.into();
    Output::error_of(&d.error_type, &d.error_message)
}

/// Logs an invocation's error (its request id attached), as the handler's answer reports it.
pub(crate) fn log_failure(ctx: &Context, out: &Output) {
    crate::log::log_for(
        lamina_core::LogLevel::Error,
        &ctx.request_id,
        format_args!(
            "lamina: invocation failed: {}: {}",
            out.error_type, out.message
        ),
    );
}

/// Deserializes the event for a typed handler; on failure the `InvalidEvent` error is in `out`.
pub(crate) fn decode<E: DeserializeOwned>(event: &[u8], out: &mut Output) -> Option<E> {
    match json::from_slice(event, out) {
        Ok(e) => Some(e),
        Err(()) => {
            out.error_type.clear();
            out.error_type.push_str(error_type::INVALID_EVENT);
            None
        }
    }
}

/// Serializes a typed handler's result into `out`.
pub(crate) fn typed_reply<'a, R: Serialize, Err: Into<Diagnostic>>(
    result: Result<R, Err>,
    out: &mut Output,
) -> Reply<'a> {
    match result {
        Ok(response) => match json::to_vec(&response, &mut out.body) {
            Ok(()) => Reply::Output,
            Err(()) => out.error(
                error_type::INVALID_RESPONSE,
                "the response could not be serialized to JSON",
            ),
        },
        Err(e) => error_reply(e.into(), out),
    }
}

/// A typed handler: the event is deserialized into `E`, the response serialized from `R`.
pub struct Typed<F, E, R, Err> {
    f: F,
    _types: PhantomData<fn(E) -> (R, Err)>,
}

impl<F, E, R, Err> std::fmt::Debug for Typed<F, E, R, Err> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typed")
            .field("event", &short_type_name::<E>())
            .finish()
    }
}

/// Wraps `fn(&Context, E) -> Result<R, Err>` as a [`Handler`]: the event is deserialized
/// into `E` (an event that does not fit is answered `InvalidEvent`, naming the field:
/// `Records[0].body: invalid type: ...`), the response serialized from `R`, and the error
/// reported as its [`Diagnostic`] says.
///
/// ```
/// use lamina_std::{Context, Handler, Output, Reply, typed};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Order { id: u32, items: Vec<String> }
///
/// fn count(_ctx: &Context, order: Order) -> Result<String, std::io::Error> {
///     Ok(format!("order {}: {} items", order.id, order.items.len()))
/// }
///
/// let h = typed(count);
/// let mut out = Output::default();
/// assert_eq!(h.call(&Context::default(), br#"{"id":1,"items":["a"]}"#, &mut out), Reply::Output);
/// assert_eq!(out.body, br#""order 1: 1 items""#);
/// ```
pub fn typed<F, E, R, Err>(f: F) -> Typed<F, E, R, Err>
where
    F: Fn(&Context, E) -> Result<R, Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    R: Serialize + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Typed {
        f,
        _types: PhantomData,
    }
}

impl<F, E, R, Err> Handler for Typed<F, E, R, Err>
where
    F: Fn(&Context, E) -> Result<R, Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    R: Serialize + 'static,
    Err: Into<Diagnostic> + 'static,
{
    fn call<'a>(&self, ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        match decode::<E>(event, out) {
            Some(event) => typed_reply((self.f)(ctx, event), out),
            None => Reply::Error,
        }
    }
}

#[cfg(feature = "serde_json")]
mod json {
    use std::fmt::Write as _;

    use super::*;

    pub(super) fn from_slice<E: DeserializeOwned>(event: &[u8], out: &mut Output) -> Result<E, ()> {
        serde_json::from_slice(event).map_err(|e| error_message(event, &e, &mut out.message))
    }

    /// `could not deserialize the event: PATH: ERROR`, the path found from where serde_json
    /// stopped (not generic: the same code for every event type).
    #[inline(never)]
    fn error_message(event: &[u8], e: &serde_json::Error, message: &mut String) {
        const PREFIX: &str = "could not deserialize the event: ";
        message.clear();
        message.push_str(PREFIX);
        // The error is formatted once, then the path goes in front of it.
        let _ = write!(message, "{e}");
        if e.is_data() {
            let error = message.split_off(PREFIX.len());
            let path = path_at(
                event,
                e.line(),
                e.column(),
                error.starts_with("missing field"),
            );
            if !path.is_empty() {
                message.push_str(&path);
                message.push_str(": ");
            }
            message.push_str(&error);
        }
    }

    /// Where one is inside a JSON document.
    enum Frame {
        /// In an object, after the key at this range of the event (`None`: before the first,
        /// or after a comma).
        Object(Option<std::ops::Range<usize>>),
        /// In an array, at this index.
        Array(usize),
    }

    /// The path (`Records[0].body`) of the value being read where serde_json stopped: line
    /// `line`, column `column` (both 1-based, as its errors say). For a missing field, the path
    /// of the object that lacks it. Never panics, whatever the bytes.
    pub(super) fn path_at(event: &[u8], line: usize, column: usize, missing: bool) -> String {
        let line_start = if line <= 1 {
            0
        } else {
            event
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .nth(line - 2)
                .map_or(event.len(), |(i, _)| i + 1)
        };
        let end = line_start.saturating_add(column).min(event.len());
        let mut stack: Vec<Frame> = Vec::new();
        let mut i = 0;
        while i < end {
            let b = event.get(i).copied().unwrap_or(b' ');
            match b {
                b'{' => stack.push(Frame::Object(None)),
                b'[' => stack.push(Frame::Array(0)),
                b'}' | b']' => {
                    stack.pop();
                }
                b',' => match stack.last_mut() {
                    Some(Frame::Array(n)) => *n += 1,
                    Some(Frame::Object(key)) => *key = None,
                    None => {}
                },
                b'"' => {
                    let start = i + 1;
                    i = start;
                    while i < event.len() && event.get(i) != Some(&b'"') {
                        i += if event.get(i) == Some(&b'\\') { 2 } else { 1 };
                    }
                    if let Some(Frame::Object(key @ None)) = stack.last_mut() {
                        *key = Some(start..i.min(event.len()));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if missing && let Some(Frame::Object(key)) = stack.last_mut() {
            *key = None;
        }
        let mut path = String::new();
        for frame in &stack {
            match frame {
                Frame::Object(Some(key)) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    let raw = event.get(key.clone()).unwrap_or_default();
                    path.push_str(&String::from_utf8_lossy(raw));
                }
                Frame::Object(None) => {}
                Frame::Array(n) => {
                    let _ = write!(path, "[{n}]");
                }
            }
        }
        path
    }

    pub(super) fn to_vec<R: Serialize>(response: &R, body: &mut Vec<u8>) -> Result<(), ()> {
        body.clear();
        serde_json::to_writer(&mut *body, response).map_err(|_| ())
    }
}

#[cfg(not(feature = "serde_json"))]
mod json {
    use super::*;

    pub(super) fn from_slice<E: DeserializeOwned>(event: &[u8], out: &mut Output) -> Result<E, ()> {
        // Unescaped strings are no longer than their escaped form.
        out.body.clear();
        out.body.resize(event.len(), 0);
        lamina_core::event::from_json(event, &mut out.body).map_err(|e| {
            out.message.clear();
            out.message.push_str("could not deserialize the event: ");
            out.message.push_str(e.message());
        })
    }

    pub(super) fn to_vec<R: Serialize>(response: &R, body: &mut Vec<u8>) -> Result<(), ()> {
        // Grow until it fits (the buffer is kept, so this settles after warm-up).
        let mut size = body.capacity().max(256);
        loop {
            body.clear();
            body.resize(size, 0);
            match lamina_core::event::to_json(response, body) {
                Ok(n) => {
                    body.truncate(n);
                    return Ok(());
                }
                Err(lamina_core::event::EventError::ResponseTooLarge) if size < 64 << 20 => {
                    size *= 2;
                }
                Err(_) => return Err(()),
            }
        }
    }
}

/// A raw handler: event bytes in, response bytes out, no serde.
pub struct Raw<F, Err> {
    f: F,
    _types: PhantomData<fn() -> Err>,
}

impl<F, Err> std::fmt::Debug for Raw<F, Err> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Raw")
    }
}

/// Wraps `fn(&Context, &[u8]) -> Result<Cow<[u8]>, Err>` as a [`Handler`]. Return
/// `Cow::Borrowed` (for instance a slice of the event) to answer without allocating.
///
/// ```
/// use std::borrow::Cow;
/// use lamina_std::{Context, Handler, Output, Reply, raw};
///
/// let trim = raw(|_ctx: &Context, event: &[u8]| {
///     Ok::<_, std::convert::Infallible>(Cow::Borrowed(event.trim_ascii()))
/// });
/// let mut out = Output::default();
/// assert_eq!(trim.call(&Context::default(), b"  hi ", &mut out), Reply::Body(b"hi"));
/// ```
pub fn raw<F, Err>(f: F) -> Raw<F, Err>
where
    F: for<'a, 'c> Fn(&'c Context, &'a [u8]) -> Result<Cow<'a, [u8]>, Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    Raw {
        f,
        _types: PhantomData,
    }
}

impl<F, Err> Handler for Raw<F, Err>
where
    F: for<'a, 'c> Fn(&'c Context, &'a [u8]) -> Result<Cow<'a, [u8]>, Err> + Send + Sync + 'static,
    Err: Into<Diagnostic> + 'static,
{
    fn call<'a>(&self, ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        match (self.f)(ctx, event) {
            Ok(Cow::Borrowed(b)) => Reply::Body(b),
            Ok(Cow::Owned(v)) => {
                out.body = v;
                Reply::Output
            }
            Err(e) => error_reply(e.into(), out),
        }
    }

    fn content_type(&self) -> &str {
        "application/octet-stream"
    }
}

/// A typed streaming handler: the event deserialized into `E`, the response written to a
/// [`ResponseStream`].
pub struct TypedStreaming<F, E, Err> {
    f: F,
    _types: PhantomData<fn(E) -> Err>,
}

impl<F, E, Err> std::fmt::Debug for TypedStreaming<F, E, Err> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedStreaming")
            .field("event", &short_type_name::<E>())
            .finish()
    }
}

/// Wraps `fn(&Context, E, &mut ResponseStream) -> Result<(), Err>` as a streaming [`Handler`]:
/// the event is deserialized as with [`typed`] (an event that does not fit is an ordinary
/// `InvalidEvent` `/error`, before any byte is streamed), the response streamed as with
/// [`streaming`](crate::streaming).
///
/// ```no_run
/// use std::io::Write;
/// use lamina_std::{Context, ResponseStream, Runtime, typed_streaming};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Count { to: u32 }
///
/// fn count(_ctx: &Context, event: Count, out: &mut ResponseStream<'_>) -> std::io::Result<()> {
///     out.set_content_type("text/plain")?;
///     for i in 1..=event.to {
///         writeln!(out, "{i}")?; // one chunk per line
///     }
///     Ok(())
/// }
///
/// fn main() { Runtime::from_env().run(typed_streaming(count)) }
/// ```
pub fn typed_streaming<F, E, Err>(f: F) -> TypedStreaming<F, E, Err>
where
    F: Fn(&Context, E, &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    Err: Into<Diagnostic> + 'static,
{
    TypedStreaming {
        f,
        _types: PhantomData,
    }
}

impl<F, E, Err> Handler for TypedStreaming<F, E, Err>
where
    F: Fn(&Context, E, &mut ResponseStream<'_>) -> Result<(), Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    Err: Into<Diagnostic> + 'static,
{
    fn call<'a>(&self, _ctx: &Context, _event: &'a [u8], out: &mut Output) -> Reply<'a> {
        called_without_stream(out)
    }

    fn streams(&self) -> bool {
        true
    }

    fn call_streaming<'a>(
        &self,
        ctx: &Context,
        event: &'a [u8],
        stream: &mut ResponseStream<'_>,
        out: &mut Output,
    ) -> Reply<'a> {
        let Some(event) = decode::<E>(event, out) else {
            return Reply::Error;
        };
        match (self.f)(ctx, event, stream) {
            Ok(()) => Reply::Output,
            Err(e) => error_reply(e.into(), out),
        }
    }
}

/// The wrapped handler, as a [`layer`] sees it: [`run`](Next::run) calls it (streaming, if it
/// streams), [`output`](Next::output) is what it left.
pub struct Next<'n, 'a> {
    run: &'n mut dyn FnMut(&mut Output) -> Reply<'a>,
    out: &'n mut Output,
}

impl std::fmt::Debug for Next<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").field("out", &self.out).finish()
    }
}

impl<'a> Next<'_, 'a> {
    /// Runs the wrapped handler and returns its reply (call it once: a streaming handler would
    /// stream twice).
    pub fn run(&mut self) -> Reply<'a> {
        (self.run)(self.out)
    }

    /// The output the wrapped handler writes its response or error into (empty before
    /// [`run`](Next::run)); a layer may read it, or replace the answer by returning
    /// [`Output::error`] itself.
    pub fn output(&mut self) -> &mut Output {
        self.out
    }
}

/// A handler wrapped by a [`layer`].
pub struct Layered<H, F> {
    inner: H,
    layer: F,
}

impl<H: std::fmt::Debug, F> std::fmt::Debug for Layered<H, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layered")
            .field("inner", &self.inner)
            .finish()
    }
}

/// Wraps `inner` in `layer`, a function run around each invocation: it gets the context, the
/// event and the wrapped handler as [`Next`], and returns the reply (usually
/// `next.run()`'s). Every optional [`Handler`] method is forwarded, so a wrapped streaming
/// handler still streams and a raw one keeps its `Content-Type`; layers nest.
///
/// ```
/// use std::time::Instant;
/// use lamina_std::{Context, Handler, Output, Reply, layer, typed};
///
/// fn greet(_ctx: &Context, name: String) -> Result<String, String> {
///     if name.is_empty() { Err("no name".to_string()) } else { Ok(format!("Hi {name}")) }
/// }
///
/// // Times every invocation and refuses events over 1 KiB before the handler sees them.
/// let handler = layer(typed(greet), |ctx: &Context, event: &[u8], mut next| {
///     if event.len() > 1024 {
///         return next.output().error("EventTooLarge", "events are at most 1 KiB");
///     }
///     let start = Instant::now();
///     let reply = next.run();
///     eprintln!("{}: {:?} in {:?}", ctx.request_id, reply, start.elapsed());
///     reply
/// });
///
/// let mut out = Output::default();
/// assert_eq!(handler.call(&Context::default(), br#""Ann""#, &mut out), Reply::Output);
/// assert_eq!(out.body, br#""Hi Ann""#);
/// assert_eq!(handler.call(&Context::default(), &[b' '; 2000], &mut out), Reply::Error);
/// assert_eq!(out.error_type, "EventTooLarge");
/// ```
pub fn layer<H, F>(inner: H, layer: F) -> Layered<H, F>
where
    H: Handler,
    F: for<'a> Fn(&Context, &'a [u8], Next<'_, 'a>) -> Reply<'a> + Send + Sync + 'static,
{
    Layered { inner, layer }
}

impl<H, F> Handler for Layered<H, F>
where
    H: Handler,
    F: for<'a> Fn(&Context, &'a [u8], Next<'_, 'a>) -> Reply<'a> + Send + Sync + 'static,
{
    fn call<'a>(&self, ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        let mut run = |out: &mut Output| self.inner.call(ctx, event, out);
        (self.layer)(ctx, event, Next { run: &mut run, out })
    }

    fn content_type(&self) -> &str {
        self.inner.content_type()
    }

    fn streams(&self) -> bool {
        self.inner.streams()
    }

    fn call_streaming<'a>(
        &self,
        ctx: &Context,
        event: &'a [u8],
        stream: &mut ResponseStream<'_>,
        out: &mut Output,
    ) -> Reply<'a> {
        let mut run = |out: &mut Output| self.inner.call_streaming(ctx, event, stream, out);
        (self.layer)(ctx, event, Next { run: &mut run, out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug)]
    struct MyError;
    impl Display for MyError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("it \"failed\"")
        }
    }
    crate::impl_diagnostic!(MyError);

    #[test]
    fn short_names() {
        assert_eq!(short_type_name::<MyError>(), "MyError");
        assert_eq!(short_type_name::<String>(), "String");
        assert_eq!(short_type_name::<&str>(), "str");
        assert_eq!(
            short_type_name::<Box<dyn std::error::Error + Send + Sync>>(),
            "Error"
        );
        assert_eq!(short_type_name::<std::io::Error>(), "Error");
        assert_eq!(short_type_name::<Vec<u8>>(), "Vec");
    }

    #[derive(Deserialize)]
    struct Ev {
        name: String,
    }

    fn hello(_: &Context, e: Ev) -> Result<String, MyError> {
        if e.name.is_empty() {
            return Err(MyError);
        }
        Ok(format!("Hello {}!", e.name))
    }

    #[test]
    fn typed_success_error_and_bad_event() {
        let h = typed(hello);
        let ctx = Context::default();
        let mut out = Output::default();
        assert_eq!(
            h.call(&ctx, br#"{"name":"World"}"#, &mut out),
            Reply::Output
        );
        assert_eq!(out.body, br#""Hello World!""#);
        assert_eq!(h.call(&ctx, br#"{"name":""}"#, &mut out), Reply::Error);
        assert_eq!(out.error_type, "MyError");
        assert_eq!(out.message, "it \"failed\"");
        assert_eq!(h.call(&ctx, b"not json", &mut out), Reply::Error);
        assert_eq!(out.error_type, error_type::INVALID_EVENT);
        assert!(out.message.contains("deserialize"), "{}", out.message);
    }

    fn echo<'a>(_: &Context, event: &'a [u8]) -> Result<Cow<'a, [u8]>, Diagnostic> {
        if event == b"fail" {
            return Err(Diagnostic::new("Custom.Type", "custom message"));
        }
        Ok(Cow::Borrowed(event))
    }

    #[test]
    fn raw_borrows_and_diagnostics_choose_the_type() {
        let h = raw(echo);
        let ctx = Context::default();
        let mut out = Output::default();
        let event = b"abc".to_vec();
        match h.call(&ctx, &event, &mut out) {
            Reply::Body(b) => assert_eq!(b.as_ptr(), event.as_ptr()),
            r => panic!("{r:?}"),
        }
        assert_eq!(h.call(&ctx, b"fail", &mut out), Reply::Error);
        assert_eq!(
            (out.error_type.as_str(), out.message.as_str()),
            ("Custom.Type", "custom message")
        );
        // Closures work too.
        let h = raw(|_, e: &[u8]| Ok::<_, MyError>(Cow::Owned(e.to_ascii_uppercase())));
        assert_eq!(h.call(&ctx, b"abc", &mut out), Reply::Output);
        assert_eq!(out.body, b"ABC");
    }

    #[cfg(feature = "serde_json")]
    #[test]
    fn invalid_events_name_the_field_path() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Msg {
            body: String,
            #[serde(default)]
            attrs: Vec<u32>,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Batch {
            #[serde(rename = "Records")]
            records: Vec<Msg>,
        }
        fn batch(_: &Context, b: Batch) -> Result<usize, String> {
            Ok(b.records.len())
        }
        let h = typed(batch);
        let ctx = Context::default();
        let mut out = Output::default();
        let cases: [(&[u8], &str); 6] = [
            (
                br#"{"Records":[{"body":"a"},{"body":5}]}"#,
                "Records[1].body: invalid type: integer `5`, expected a string",
            ),
            (
                b"{\n  \"Records\": [\n    {\"body\": \"a\", \"attrs\": [1, \"x\"]}\n  ]\n}",
                "Records[0].attrs[1]: invalid type: string \"x\"",
            ),
            (
                br#"{"Records":[{"body":"a"},{"attrs":[]}]}"#,
                "Records[1]: missing field `body`",
            ),
            (br#"{"Records":{}}"#, "Records: invalid type: map"),
            (
                br#"[1]"#,
                "[0]: invalid type: integer `1`, expected a sequence",
            ),
            (br#"{"Records":[{"body":"#, "EOF while parsing"),
        ];
        for (event, want) in cases {
            assert_eq!(h.call(&ctx, event, &mut out), Reply::Error);
            assert_eq!(out.error_type, error_type::INVALID_EVENT);
            assert!(
                out.message.starts_with("could not deserialize the event: ")
                    && out.message.contains(want),
                "{want:?} in {:?}",
                out.message
            );
        }
        // Never a panic, whatever the bytes and positions.
        for event in [
            &b""[..],
            b"\"",
            b"{\"a\\",
            b"[[[[",
            b"}}]]",
            b"{\"\xff\":1}",
        ] {
            for line in 0..3 {
                for column in 0..8 {
                    let _ = json::path_at(event, line, column, line == 1);
                }
            }
        }
    }

    #[test]
    fn from_impls_choose_the_error_type() {
        #[derive(Debug)]
        struct Mine;
        impl From<Mine> for Diagnostic {
            fn from(_: Mine) -> Diagnostic {
                Diagnostic::new("Chosen.Type", "chosen message")
            }
        }
        let h = typed(|_: &Context, _: u8| Err::<u8, _>(Mine));
        let mut out = Output::default();
        assert_eq!(h.call(&Context::default(), b"1", &mut out), Reply::Error);
        assert_eq!(
            (out.error_type.as_str(), out.message.as_str()),
            ("Chosen.Type", "chosen message")
        );
        let d = Diagnostic::from(std::io::Error::other("disk"));
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            ("Error", "disk")
        );
        let d = Diagnostic::from("plain");
        assert_eq!(d.error_type, "str");
        let boxed: Box<dyn std::error::Error + Send + Sync> = "boxed".into();
        assert_eq!(Diagnostic::from(boxed).error_message, "boxed");
        let d = Diagnostic::from(Box::new(std::fmt::Error));
        assert_eq!(d.error_type, "Error");
    }

    /// A layer forwards `streams` and `content_type`, and sees the wrapped handler's error.
    #[test]
    fn layers_forward_every_optional_method() {
        let streaming = crate::streaming(|_: &Context, _: &[u8], _: &mut ResponseStream<'_>| {
            Ok::<_, std::io::Error>(())
        });
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let seen2 = seen.clone();
        let h = layer(
            streaming,
            move |_: &Context, _: &[u8], mut next: Next<'_, '_>| {
                let r = next.run();
                seen2.lock().unwrap().push_str(&next.output().error_type);
                r
            },
        );
        assert!(h.streams());
        assert_eq!(h.content_type(), "application/json");
        let h = layer(
            raw(echo),
            |_: &Context, _: &[u8], mut next: Next<'_, '_>| next.run(),
        );
        assert!(!h.streams());
        assert_eq!(h.content_type(), "application/octet-stream");
        let mut out = Output::default();
        assert_eq!(
            h.call(&Context::default(), b"x", &mut out),
            Reply::Body(b"x")
        );
        // Layers nest; the outer one sees the inner's error.
        let h = layer(
            layer(
                raw(echo),
                |_: &Context, e: &[u8], mut next: Next<'_, '_>| {
                    if e == b"no" {
                        next.output().error("Refused", "no")
                    } else {
                        next.run()
                    }
                },
            ),
            move |_: &Context, _: &[u8], mut next: Next<'_, '_>| {
                let r = next.run();
                seen.lock().unwrap().push_str(&next.output().error_type);
                r
            },
        );
        assert_eq!(h.call(&Context::default(), b"no", &mut out), Reply::Error);
        assert_eq!(out.error_type, "Refused");
    }
}
