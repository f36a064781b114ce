//! Handler forms: typed (serde), raw bytes, and the trait both transports call.

use std::any::Any;
use std::borrow::Cow;
use std::fmt::{Display, Write as _};
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

/// What both transports call for each invocation. [`typed`] and [`raw`] build one from a plain
/// function; implement it yourself for full control.
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

/// An error with an explicit `errorType`: return it (or convert into it) from a handler to
/// choose the type Lambda and X-Ray show, instead of the error's Rust type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `errorType`, e.g. `"OrderNotFound"`.
    pub error_type: Cow<'static, str>,
    /// `errorMessage`.
    pub message: Cow<'static, str>,
}

impl Diagnostic {
    /// An error of type `error_type` saying `message`.
    pub fn new(
        error_type: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Diagnostic {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

impl Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// The short, readable name of a type: `my_crate::MyError` → `MyError`,
/// `Box<dyn Error + Send + Sync>` → `Error`, `&str` → `str`.
pub fn short_type_name<T: ?Sized>() -> &'static str {
    short_name(std::any::type_name::<T>())
}

fn short_name(full: &'static str) -> &'static str {
    // Byte searches rather than `str` substring patterns, which pull in a large searcher.
    let base = full.split('<').next().unwrap_or(full);
    let base = base.trim_start_matches('&').trim_start_matches("mut ");
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
pub fn error_reply<'a, E: Display + 'static>(err: &E, out: &mut Output) -> Reply<'a> {
    out.message.clear();
    out.error_type.clear();
    match (err as &dyn Any).downcast_ref::<Diagnostic>() {
        Some(d) => {
            out.error_type.push_str(&d.error_type);
            out.message.push_str(&d.message);
        }
        None => {
            out.error_type.push_str(short_type_name::<E>());
            let _ = write!(out.message, "{err}");
        }
    }
    Reply::Error
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

/// Wraps `fn(&Context, E) -> Result<R, Err>` as a [`Handler`].
pub fn typed<F, E, R, Err>(f: F) -> Typed<F, E, R, Err>
where
    F: Fn(&Context, E) -> Result<R, Err> + Send + Sync + 'static,
    E: DeserializeOwned + 'static,
    R: Serialize + 'static,
    Err: Display + 'static,
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
    Err: Display + 'static,
{
    fn call<'a>(&self, ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        let event: E = match json::from_slice(event, out) {
            Ok(e) => e,
            Err(()) => {
                out.error_type.clear();
                out.error_type.push_str(error_type::INVALID_EVENT);
                return Reply::Error;
            }
        };
        match (self.f)(ctx, event) {
            Ok(response) => match json::to_vec(&response, &mut out.body) {
                Ok(()) => Reply::Output,
                Err(()) => out.error(
                    error_type::INVALID_RESPONSE,
                    "the response could not be serialized to JSON",
                ),
            },
            Err(e) => error_reply(&e, out),
        }
    }
}

#[cfg(feature = "serde_json")]
mod json {
    use super::*;

    pub(super) fn from_slice<E: DeserializeOwned>(event: &[u8], out: &mut Output) -> Result<E, ()> {
        serde_json::from_slice(event).map_err(|e| {
            out.message.clear();
            let _ = write!(out.message, "could not deserialize the event: {e}");
        })
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
pub fn raw<F, Err>(f: F) -> Raw<F, Err>
where
    F: for<'a, 'c> Fn(&'c Context, &'a [u8]) -> Result<Cow<'a, [u8]>, Err> + Send + Sync + 'static,
    Err: Display + 'static,
{
    Raw {
        f,
        _types: PhantomData,
    }
}

impl<F, Err> Handler for Raw<F, Err>
where
    F: for<'a, 'c> Fn(&'c Context, &'a [u8]) -> Result<Cow<'a, [u8]>, Err> + Send + Sync + 'static,
    Err: Display + 'static,
{
    fn call<'a>(&self, ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        match (self.f)(ctx, event) {
            Ok(Cow::Borrowed(b)) => Reply::Body(b),
            Ok(Cow::Owned(v)) => {
                out.body = v;
                Reply::Output
            }
            Err(e) => error_reply(&e, out),
        }
    }

    fn content_type(&self) -> &str {
        "application/octet-stream"
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
}
