//! Arbitrary `(errorType, errorMessage)` strings into `request::error` (and the streaming error
//! trailers of `request::stream_error_end`, which carry the same document in base64).
//!
//! Input: `data[0]` flags (low 5 bits `0x1f`: put filler before the message so that the cut at
//! `MAX_ERROR_MESSAGE` falls 1-4 bytes (bits 5-6) into it, `0x0f`: the same for
//! `MAX_XRAY_MESSAGE`; bit 7: the init error instead of an invocation's), `data[1..3]` the type's length (little-endian),
//! then the type, then the message (both UTF-8, lossily).
//!
//! Checks: an error type that is not a header value is refused with `InvalidHeaderValue`;
//! otherwise the whole request parses with httparse, its `Content-Length` is the body's length,
//! the body is JSON whose `errorMessage` is the message (cut at a character boundary at most
//! `MAX_ERROR_MESSAGE` bytes in, then `...`) and whose `errorType` is the type, the header
//! `Lambda-Runtime-Function-XRay-Error-Cause` is JSON naming the same type and message (cut at
//! `MAX_XRAY_MESSAGE`), and a buffer one byte short yields `BufferTooSmall` with the exact size.
#![no_main]

use lamina_core::request::{self, EncodeError, ErrorTarget};
use lamina_core::{Endpoint, Id, MAX_ERROR_MESSAGE, MAX_XRAY_MESSAGE};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// What the core sends for `message` cut at `max` bytes.
fn expected(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_owned();
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

fn header<'a>(headers: &[httparse::Header<'a>], name: &str) -> Option<&'a [u8]> {
    let mut found = headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name));
    let first = found.next().map(|h| h.value);
    assert!(found.next().is_none(), "header {name} sent twice");
    first
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// Standard base64 with padding; a table lookup per byte (a search per byte would dominate the
/// run time of the long messages under the fuzzer's comparison tracing).
fn base64_decode(s: &[u8]) -> Vec<u8> {
    const fn table() -> [u8; 256] {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut t = [0xff; 256];
        let mut i = 0;
        while i < 64 {
            t[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        t
    }
    const TABLE: [u8; 256] = table();
    assert_eq!(s.len() % 4, 0, "base64 not padded");
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for group in s.chunks(4) {
        let pad = group.iter().rev().take_while(|&&c| c == b'=').count();
        assert!(pad <= 2, "too much padding");
        let mut n = 0u32;
        for &c in &group[..4 - pad] {
            let v = TABLE[usize::from(c)];
            assert_ne!(v, 0xff, "not base64: {c:#x}");
            n = (n << 6) | u32::from(v);
        }
        n <<= 6 * pad as u32;
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let flags = data[0];
    let type_len = usize::from(u16::from_le_bytes([data[1], data[2]])).min(data.len() - 3);
    let error_type = String::from_utf8_lossy(&data[3..3 + type_len]).into_owned();
    let mut message = String::from_utf8_lossy(&data[3 + type_len..]).into_owned();
    // Put plain filler in front so that the cut falls 1 to 4 bytes into the message: every
    // character-boundary case at the bound comes up (and, for a short message, lengths just
    // under and at the bound). The long one is rare because it is slow to check.
    let bound = match flags & 0x1f {
        0x1f => Some(MAX_ERROR_MESSAGE),
        0x0f => Some(MAX_XRAY_MESSAGE),
        _ => None,
    };
    if let Some(bound) = bound {
        let into = 1 + usize::from((flags >> 5) & 0x3);
        message.insert_str(0, &"x".repeat(bound - into));
    }
    let long = bound == Some(MAX_ERROR_MESSAGE);

    let ep = Endpoint::parse("http://127.0.0.1:9001/.rt").unwrap();
    let rid = Id::new(b"8476a536-e9f4-11e8-9739-2dfe598c3fcd").unwrap();
    let inv = Id::new(b"inv-1").unwrap();
    let (target, path) = if flags & 0x80 == 0 {
        (
            ErrorTarget::Invocation {
                request_id: &rid,
                invocation_id: Some(&inv),
            },
            "/.rt/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/error",
        )
    } else {
        (ErrorTarget::Init, "/.rt/2018-06-01/runtime/init/error")
    };

    // An empty buffer: the encoder says how much it needs (and that is exact).
    let result = request::error(&ep, target, &error_type, &message, &mut []);
    if !request::is_header_value(&error_type) {
        assert_eq!(result, Err(EncodeError::InvalidHeaderValue));
        assert_eq!(
            request::stream_error_end(&error_type, &message, &mut []),
            Err(EncodeError::InvalidHeaderValue)
        );
        return;
    }
    let Err(EncodeError::BufferTooSmall { required }) = result else {
        panic!("an empty buffer holds the error report: {result:?}");
    };
    let mut out = vec![0u8; required];
    if !long {
        assert_eq!(
            request::error(&ep, target, &error_type, &message, &mut out[..required - 1]),
            Err(EncodeError::BufferTooSmall { required })
        );
    }
    let n = request::error(&ep, target, &error_type, &message, &mut out).expect("required");
    assert_eq!(n, required);
    let bytes = &out[..n];

    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        other => panic!(
            "error request does not parse: {other:?}: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(2000)])
        ),
    };
    assert_eq!(req.method, Some("POST"));
    assert_eq!(req.path, Some(path));
    let body = &bytes[head_len..];
    let content_length = header(req.headers, "content-length").expect("Content-Length");
    assert_eq!(content_length, body.len().to_string().as_bytes());
    assert_eq!(
        header(req.headers, "lambda-runtime-function-error-type"),
        Some(trim(error_type.as_bytes()))
    );
    if flags & 0x80 == 0 {
        assert_eq!(
            header(req.headers, "lambda-runtime-invocation-id"),
            Some(&b"inv-1"[..])
        );
    }

    let doc: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    });
    let want_message = expected(&message, MAX_ERROR_MESSAGE);
    assert_eq!(doc["errorMessage"].as_str(), Some(want_message.as_str()));
    assert_eq!(doc["errorType"].as_str(), Some(error_type.as_str()));
    assert_eq!(doc["stackTrace"], Value::Array(Vec::new()));
    assert_eq!(doc.as_object().map(|o| o.len()), Some(3));

    let cause = header(req.headers, "lambda-runtime-function-xray-error-cause").expect("X-Ray");
    let cause: Value = serde_json::from_slice(cause).unwrap_or_else(|e| {
        panic!(
            "X-Ray cause is not JSON ({e}): {:?}",
            String::from_utf8_lossy(cause)
        )
    });
    assert_eq!(
        cause["exceptions"][0]["type"].as_str(),
        Some(error_type.as_str())
    );
    let want_xray = expected(&message, MAX_XRAY_MESSAGE);
    assert_eq!(
        cause["exceptions"][0]["message"].as_str(),
        Some(want_xray.as_str())
    );

    // The same document in the trailers of a failed stream (the same escaping: only for
    // messages of ordinary length, to keep the long ones fast).
    if long {
        return;
    }
    let Err(EncodeError::BufferTooSmall { required }) =
        request::stream_error_end(&error_type, &message, &mut [])
    else {
        panic!("an empty buffer holds the trailers");
    };
    let mut out = vec![0u8; required];
    let n = request::stream_error_end(&error_type, &message, &mut out).expect("required");
    assert_eq!(n, required);
    let bytes = &out[..n];
    assert!(bytes.starts_with(b"0\r\n"));
    let mut trailers = [httparse::EMPTY_HEADER; 4];
    match httparse::parse_headers(&bytes[3..], &mut trailers) {
        Ok(httparse::Status::Complete((len, parsed))) => {
            assert_eq!(3 + len, n, "bytes after the trailers");
            assert_eq!(
                header(parsed, "lambda-runtime-function-error-type"),
                Some(trim(error_type.as_bytes()))
            );
            let b64 = header(parsed, "lambda-runtime-function-error-body").expect("error body");
            let doc: Value = serde_json::from_slice(&base64_decode(b64)).expect("trailer JSON");
            assert_eq!(doc["errorMessage"].as_str(), Some(want_message.as_str()));
            assert_eq!(doc["errorType"].as_str(), Some(error_type.as_str()));
        }
        other => panic!("trailers do not parse: {other:?}"),
    }
});
