//! lamina's `echo` example on the official runtime: the event's bytes back, unchanged.
//!
//! `lambda_runtime` always deserialises the event with `serde_json` and serialises a buffered
//! response with `serde_json`; it has no bytes-in/bytes-out handler form. The closest is
//! `serde_json::value::RawValue`: the event is validated as JSON (one pass, no tree built) and
//! its exact bytes are kept, and a `RawValue` serialises as those bytes verbatim. So for any JSON
//! event (all Lambda events are JSON) the response is byte for byte the event, like lamina's
//! `echo`; a non-JSON event would be answered with an error instead. (`LambdaEvent<Value>` would
//! build a tree and re-encode it, normalising whitespace and number formats; `StreamResponse`
//! would switch to the chunked streaming response mode.)

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

async fn echo(event: LambdaEvent<Box<RawValue>>) -> Result<Box<RawValue>, Error> {
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
