//! The `errorType` values lamina itself reports.

/// A `/next` response that is not a usable invocation but whose request id is known.
pub const INVALID_INVOCATION: &str = "Runtime.InvalidInvocation";
/// A setting in the environment is invalid (reported on `/init/error`).
pub const INVALID_CONFIG: &str = "Runtime.InvalidConfig";
/// The internal extension for graceful shutdown could not be registered (on `/init/error`).
pub const EXTENSION_REGISTRATION: &str = "Runtime.ExtensionRegistration";
/// The event could not be deserialized into the handler's type.
pub const INVALID_EVENT: &str = "InvalidEvent";
/// The handler's response could not be serialized, or its `Content-Type` cannot be sent.
pub const INVALID_RESPONSE: &str = "InvalidResponse";
/// The response is larger than the runtime's maximum or than Lambda accepts (413).
pub const RESPONSE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";
/// A streamed response's connection was lost before any of it reached the Runtime API.
pub const STREAM_LOST: &str = "Runtime.ResponseStreamLost";
/// The handler panicked.
pub const PANIC: &str = "Handler.Panic";
/// Used in place of an error type that cannot be sent as a header value.
pub const FALLBACK: &str = "Handler.Error";
