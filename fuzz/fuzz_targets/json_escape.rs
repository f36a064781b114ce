//! Arbitrary `(errorType, errorMessage)` strings into `request::error` (and the streaming error
//! trailers of `request::stream_error_end`, which carry the same document in base64).
//!
//! Input: `data[0]` flags, `data[1..3]` the type's length (little-endian), then the type, then
//! the message (both UTF-8, lossily). Flags: bits 6-7 pick the target (an invocation's
//! `/error` with an invocation id, one without, `/init/error`, `/restore/error`); bit 5 asks
//! for padding: plain filler goes in front of the message so that the cut falls 1-4 bytes
//! (bits 0-1, plus 1) into it, at `MAX_XRAY_MESSAGE` (1 KiB), or at `MAX_ERROR_MESSAGE`
//! (64 KiB) when the flags are exactly `0b0011_11xx` (1 in 64: encoding 64 KiB is what made
//! this target slow, and the cut is the same code at either bound). Without bit 5 the message
//! is the input's own, small.
//!
//! Checks: an error type that is not a header value is refused with `InvalidHeaderValue`;
//! otherwise the whole request parses with httparse, its `Content-Length` is the body's length,
//! the body is JSON whose `errorMessage` is the message (cut at a character boundary at most
//! `MAX_ERROR_MESSAGE` bytes in, then `...`) and whose `errorType` is the type, the header
//! `Lambda-Runtime-Function-XRay-Error-Cause` is JSON naming the same type and message (cut at
//! `MAX_XRAY_MESSAGE`); for unpadded messages also: `BufferTooSmall { required }` is exact (an
//! empty buffer and one byte short both say it), and the streaming trailers carry the same
//! document in base64.
//!
//! Speed: buffers are thread-local and reused (no heap work per execution once warm), and the
//! filler is never parsed as JSON: it is compared with one `memcmp` and only the document
//! around it is parsed. The cut is the same either way: the filler is ASCII, so cutting
//! filler + message at a bound is cutting the message `bound - filler` bytes in.
#![no_main]

use std::cell::RefCell;

use lamina_core::request::{self, EncodeError, ErrorTarget};
use lamina_core::{Endpoint, Id, MAX_ERROR_MESSAGE, MAX_XRAY_MESSAGE};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static FILLER: [u8; MAX_ERROR_MESSAGE] = [b'x'; MAX_ERROR_MESSAGE];

/// The request body's first bytes, before the message.
const BODY_START: &[u8] = b"{\"errorMessage\":\"";

struct Bufs {
    message: String,
    out: Vec<u8>,
    spliced: Vec<u8>,
    decoded: Vec<u8>,
}

thread_local! {
    static BUFS: RefCell<Bufs> = RefCell::new(Bufs {
        message: String::with_capacity(MAX_ERROR_MESSAGE + 64 * 1024),
        out: Vec::with_capacity(256 * 1024),
        spliced: Vec::with_capacity(64 * 1024),
        decoded: Vec::with_capacity(64 * 1024),
    });
    static FIXED: (Endpoint, Id, Id) = (
        Endpoint::parse("http://127.0.0.1:9001/.rt").unwrap(),
        Id::new(b"8476a536-e9f4-11e8-9739-2dfe598c3fcd").unwrap(),
        Id::new(b"inv-1").unwrap(),
    );
}

/// Whether `got` is `message` cut at a character boundary at most `max` bytes in, followed by
/// `...` when it was cut.
fn is_cut(got: &str, message: &str, max: usize) -> bool {
    if message.len() <= max {
        return got == message;
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    got.strip_suffix("...") == Some(&message[..end])
}

/// Where the X-Ray cause's message begins: the first unescaped `","message":"` (a quote
/// inside the escaped type is always preceded by a backslash, so it cannot match there).
const XRAY_MESSAGE: &[u8] = b"\",\"message\":\"";

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `doc` without the `filler` bytes at `at`, which must be the filler, into `out`.
fn splice(doc: &[u8], at: usize, filler: usize, out: &mut Vec<u8>) {
    assert!(doc.len() >= at + filler, "document shorter than the filler");
    assert!(doc[at..at + filler] == FILLER[..filler], "filler changed");
    out.clear();
    out.extend_from_slice(&doc[..at]);
    out.extend_from_slice(&doc[at + filler..]);
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

fn decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}

/// Standard base64 with padding, into `out`; a table lookup per byte.
fn base64_decode(s: &[u8], out: &mut Vec<u8>) {
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
    out.clear();
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
}

fn run(data: &[u8], bufs: &mut Bufs, (ep, rid, inv): &(Endpoint, Id, Id)) {
    if data.len() < 3 {
        return;
    }
    let flags = data[0];
    let type_len = usize::from(u16::from_le_bytes([data[1], data[2]])).min(data.len() - 3);
    let error_type = String::from_utf8_lossy(&data[3..3 + type_len]);
    let tail = String::from_utf8_lossy(&data[3 + type_len..]);
    // Filler in front so that the cut falls 1 to 4 bytes into the input's message: every
    // character-boundary case at the bound comes up (and lengths just under and at it).
    let bound = match flags & 0xfc {
        0x3c => Some(MAX_ERROR_MESSAGE),
        f if f & 0x20 != 0 => Some(MAX_XRAY_MESSAGE),
        _ => None,
    };
    let into = 1 + usize::from(flags & 0x3);
    let filler = bound.map_or(0, |b| b - into);
    let message: &str = if filler > 0 {
        bufs.message.clear();
        // Plain ASCII: the filler is valid UTF-8 whatever its length.
        bufs.message
            .push_str(std::str::from_utf8(&FILLER[..filler]).unwrap());
        bufs.message.push_str(&tail);
        &bufs.message
    } else {
        &tail
    };
    let padded = bound.is_some();

    let (target, path, echo) = match flags >> 6 {
        0 => (
            ErrorTarget::Invocation {
                request_id: rid,
                invocation_id: Some(inv),
            },
            "/.rt/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/error",
            Some(&b"inv-1"[..]),
        ),
        1 => (
            ErrorTarget::Invocation {
                request_id: rid,
                invocation_id: None,
            },
            "/.rt/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/error",
            None,
        ),
        2 => (
            ErrorTarget::Init,
            "/.rt/2018-06-01/runtime/init/error",
            None,
        ),
        _ => (
            ErrorTarget::Restore,
            "/.rt/2018-06-01/runtime/restore/error",
            None,
        ),
    };

    let out = &mut bufs.out;
    if !request::is_header_value(&error_type) {
        assert_eq!(
            request::error(ep, target, &error_type, message, &mut []),
            Err(EncodeError::InvalidHeaderValue)
        );
        assert_eq!(
            request::stream_error_end(&error_type, message, &mut []),
            Err(EncodeError::InvalidHeaderValue)
        );
        return;
    }
    let n = if padded {
        // Encoding costs per byte; the exactness of `required` is checked on the short ones.
        if out.len() < MAX_ERROR_MESSAGE + 64 * 1024 {
            out.resize(MAX_ERROR_MESSAGE + 64 * 1024, 0);
        }
        request::error(ep, target, &error_type, message, out).expect("room for a padded report")
    } else {
        // An empty buffer: the encoder says how much it needs (and that is exact).
        let result = request::error(ep, target, &error_type, message, &mut []);
        let Err(EncodeError::BufferTooSmall { required }) = result else {
            panic!("an empty buffer holds the error report: {result:?}");
        };
        if out.len() < required {
            out.resize(required, 0);
        }
        assert_eq!(
            request::error(ep, target, &error_type, message, &mut out[..required - 1]),
            Err(EncodeError::BufferTooSmall { required })
        );
        let n = request::error(ep, target, &error_type, message, &mut out[..required])
            .expect("required");
        assert_eq!(n, required);
        n
    };
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
    assert_eq!(decimal(content_length), Some(body.len()), "Content-Length");
    assert_eq!(
        header(req.headers, "lambda-runtime-function-error-type"),
        Some(trim(error_type.as_bytes()))
    );
    assert_eq!(header(req.headers, "lambda-runtime-invocation-id"), echo);

    // The body: the filler is compared as bytes and the document without it parsed; the
    // message expected there is the input's, cut `MAX_ERROR_MESSAGE - filler` bytes in.
    let (doc_bytes, want, max): (&[u8], &str, usize) = if padded {
        assert!(
            body.starts_with(BODY_START),
            "the body starts with errorMessage"
        );
        let at = BODY_START.len();
        splice(body, at, filler, &mut bufs.spliced);
        (&bufs.spliced, &*tail, MAX_ERROR_MESSAGE - filler)
    } else {
        (body, message, MAX_ERROR_MESSAGE)
    };
    let doc: Value = serde_json::from_slice(doc_bytes).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&doc_bytes[..doc_bytes.len().min(2000)])
        )
    });
    let got = doc["errorMessage"].as_str().expect("errorMessage");
    assert!(
        is_cut(got, want, max),
        "errorMessage {got:?} for {want:?} cut at {max}"
    );
    assert_eq!(doc["errorType"].as_str(), Some(&*error_type));
    assert_eq!(doc["stackTrace"], Value::Array(Vec::new()));
    assert_eq!(doc.as_object().map(|o| o.len()), Some(3));

    let cause = header(req.headers, "lambda-runtime-function-xray-error-cause").expect("X-Ray");
    // At the 1 KiB bound the X-Ray message is mostly filler too: the same splice.
    let (cause, want, max): (&[u8], &str, usize) = if bound == Some(MAX_XRAY_MESSAGE) {
        let at =
            find(cause, XRAY_MESSAGE).expect("the X-Ray cause has a message") + XRAY_MESSAGE.len();
        splice(cause, at, filler, &mut bufs.spliced);
        (&bufs.spliced, &*tail, MAX_XRAY_MESSAGE - filler)
    } else {
        (cause, message, MAX_XRAY_MESSAGE)
    };
    let cause: Value = serde_json::from_slice(cause).unwrap_or_else(|e| {
        panic!(
            "X-Ray cause is not JSON ({e}): {:?}",
            String::from_utf8_lossy(cause)
        )
    });
    assert_eq!(cause["exceptions"][0]["type"].as_str(), Some(&*error_type));
    let got = cause["exceptions"][0]["message"]
        .as_str()
        .expect("X-Ray message");
    assert!(
        is_cut(got, want, max),
        "X-Ray message {got:?} for {want:?} cut at {max}"
    );

    // The same document in the trailers of a failed stream (the same escaping: only for
    // unpadded messages, to keep the padded ones fast).
    if padded {
        return;
    }
    let Err(EncodeError::BufferTooSmall { required }) =
        request::stream_error_end(&error_type, message, &mut [])
    else {
        panic!("an empty buffer holds the trailers");
    };
    if out.len() < required {
        out.resize(required, 0);
    }
    let n =
        request::stream_error_end(&error_type, message, &mut out[..required]).expect("required");
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
            base64_decode(b64, &mut bufs.decoded);
            let doc: Value = serde_json::from_slice(&bufs.decoded).expect("trailer JSON");
            let got = doc["errorMessage"].as_str().expect("errorMessage");
            assert!(
                is_cut(got, message, MAX_ERROR_MESSAGE),
                "trailer errorMessage {got:?}"
            );
            assert_eq!(doc["errorType"].as_str(), Some(&*error_type));
        }
        other => panic!("trailers do not parse: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    BUFS.with_borrow_mut(|bufs| FIXED.with(|fixed| run(data, bufs, fixed)));
});
