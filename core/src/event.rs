//! Typed events on `serde-json-core` (feature `serde`): no allocator needed.
//!
//! Strings in the event may be escaped; `from_json` unescapes them through a caller-provided
//! scratch buffer, so use owned string types (`heapless::String<N>`) for fields that may hold
//! escapes.

use serde::{Deserialize, Serialize};

use crate::error_type;

/// Why a typed event or response could not be converted. The transport reports it as the
/// invocation's `/error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The event is not JSON of the handler's type.
    InvalidEvent,
    /// The response does not fit the output buffer.
    ResponseTooLarge,
    /// The response could not be serialized.
    InvalidResponse,
}

impl EventError {
    /// The `errorType` to report.
    pub fn error_type(&self) -> &'static str {
        match self {
            EventError::InvalidEvent => error_type::INVALID_EVENT,
            EventError::ResponseTooLarge => error_type::RESPONSE_TOO_LARGE,
            EventError::InvalidResponse => error_type::INVALID_RESPONSE,
        }
    }

    /// The `errorMessage` to report.
    pub fn message(&self) -> &'static str {
        match self {
            EventError::InvalidEvent => "the event is not JSON of the handler's event type",
            EventError::ResponseTooLarge => "the response does not fit the response buffer",
            EventError::InvalidResponse => "the response could not be serialized to JSON",
        }
    }
}

impl core::fmt::Display for EventError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for EventError {}

/// Deserializes an event from `body`, unescaping strings through `scratch` (which must hold
/// the longest unescaped string).
pub fn from_json<'de, T: Deserialize<'de>>(
    body: &'de [u8],
    scratch: &mut [u8],
) -> Result<T, EventError> {
    serde_json_core::from_slice_escaped(body, scratch)
        .map(|(value, _)| value)
        .map_err(|_| EventError::InvalidEvent)
}

/// Serializes a response into `out`, returning its length.
pub fn to_json<T: Serialize + ?Sized>(value: &T, out: &mut [u8]) -> Result<usize, EventError> {
    serde_json_core::to_slice(value, out).map_err(|e| match e {
        serde_json_core::ser::Error::BufferFull => EventError::ResponseTooLarge,
        _ => EventError::InvalidResponse,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct MyEvent {
        name: heapless::String<32>,
    }

    #[derive(Serialize)]
    struct MyResponse<'a> {
        greeting: &'a str,
    }

    #[test]
    fn round_trip_with_escapes() {
        let mut scratch = [0u8; 64];
        let e: MyEvent = from_json(br#"{"name":"W\"orld\n"}"#, &mut scratch).unwrap();
        assert_eq!(e.name.as_str(), "W\"orld\n");
        assert_eq!(
            from_json::<MyEvent>(b"{\"nam", &mut scratch).err(),
            Some(EventError::InvalidEvent)
        );
        let mut out = [0u8; 64];
        let n = to_json(
            &MyResponse {
                greeting: "hi \"x\"",
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..n], br#"{"greeting":"hi \"x\""}"#);
        assert_eq!(
            to_json(&MyResponse { greeting: "hi" }, &mut out[..4]),
            Err(EventError::ResponseTooLarge)
        );
    }
}
