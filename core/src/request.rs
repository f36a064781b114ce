//! Encoding the requests lamina sends, into caller-provided buffers.
//!
//! Every function writes one complete request head (and, where the body is lamina's own, the
//! body) into `out` and returns its length, or `BufferTooSmall { required }` with nothing
//! meaningful written. Nothing here allocates, formats or panics.

use crate::base64;
use crate::buf::{BufferTooSmall, Writer};
use crate::endpoint::Endpoint;
use crate::id::Id;
use crate::json;

/// The `User-Agent` every request carries.
pub const USER_AGENT: &str = concat!("lamina/", env!("CARGO_PKG_VERSION"));

/// Longest header value lamina sends that comes from the user (error types, content types,
/// extension names).
pub const MAX_HEADER_VALUE: usize = 1024;

/// The bytes that end every chunk of a streamed body, written after the chunk's data.
pub const CHUNK_END: &[u8] = b"\r\n";

/// Why a request could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// `out` is too small; `required` bytes would do.
    BufferTooSmall {
        /// Bytes the encoding needs.
        required: usize,
    },
    /// A user-supplied header value (error type, content type, extension name) is empty, longer
    /// than [`MAX_HEADER_VALUE`], or holds a control character such as CR, LF or NUL.
    InvalidHeaderValue,
}

impl From<BufferTooSmall> for EncodeError {
    fn from(e: BufferTooSmall) -> Self {
        EncodeError::BufferTooSmall {
            required: e.required,
        }
    }
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::BufferTooSmall { required } => {
                write!(f, "buffer too small: {required} bytes required")
            }
            EncodeError::InvalidHeaderValue => f.write_str("invalid header value"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Whether `v` can be sent as a header or trailer value: 1 to [`MAX_HEADER_VALUE`] bytes, no
/// control characters other than tab (so no CR, LF or NUL).
pub fn is_header_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_HEADER_VALUE
        && v.bytes()
            .fold(true, |ok, b| ok & (b == b'\t' || (b >= 0x20 && b != 0x7f)))
}

#[inline(always)]
fn check(v: &str) -> Result<(), EncodeError> {
    if is_header_value(v) {
        Ok(())
    } else {
        Err(EncodeError::InvalidHeaderValue)
    }
}

pub(crate) const INVOCATION: &[u8] = b"/2018-06-01/runtime/invocation/";

/// Request line and the headers every request has, for a fixed path (one literal each: a
/// constant list of pieces would cost a relocation per piece in a position-independent
/// binary). `method` ends with its space.
// `header` and `response_head` run for every invocation: they write inline. `start` no longer
// does (`GET /next` is encoded once, by the driver).
fn start(w: &mut Writer<'_>, method: &[u8], ep: &Endpoint, path: &[u8]) {
    w.put(method);
    w.put(ep.prefix().as_bytes());
    w.put(path);
    w.put(ep.line_end());
}

/// [`start`] for `POST` to one invocation's `suffix` (`/response`, `/error`).
fn start_invocation(w: &mut Writer<'_>, ep: &Endpoint, request_id: &Id, suffix: &[u8]) {
    w.put(ep.post_invocation());
    w.put(request_id.as_bytes());
    w.put(suffix);
    w.put(ep.line_end());
}

fn header(w: &mut Writer<'_>, name: &[u8], value: &[u8]) {
    w.put(name);
    w.put(b": ");
    w.put(value);
    w.put(b"\r\n");
}

#[inline(always)]
fn invocation_id_header(w: &mut Writer<'_>, invocation_id: Option<&Id>) {
    if let Some(inv) = invocation_id {
        header(w, b"Lambda-Runtime-Invocation-Id", inv.as_bytes());
    }
}

/// `GET /2018-06-01/runtime/invocation/next`.
pub fn next(ep: &Endpoint, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    start(&mut w, b"GET ", ep, b"/2018-06-01/runtime/invocation/next");
    w.put(b"\r\n");
    w.finish()
}

/// The head of `POST .../invocation/{id}/response` for a body of `body_len` bytes that the
/// caller sends right after it.
pub fn response_head(
    ep: &Endpoint,
    request_id: &Id,
    invocation_id: Option<&Id>,
    content_type: &str,
    body_len: u64,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    check(content_type)?;
    Ok(response_head_of_checked(
        ep,
        request_id,
        invocation_id,
        content_type,
        body_len,
        out,
    )?)
}

/// [`response_head`] for a `content_type` the caller checked with [`is_header_value`] (the
/// driver does, to report a bad one as an error instead).
pub(crate) fn response_head_of_checked(
    ep: &Endpoint,
    request_id: &Id,
    invocation_id: Option<&Id>,
    content_type: &str,
    body_len: u64,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    // Pieces written one by one (not through `start`'s list): the fixed ones are then copied
    // without a call, on a path taken with every answer.
    w.put(ep.post_invocation());
    w.put(request_id.as_bytes());
    w.put(b"/response");
    w.put(ep.line_end());
    invocation_id_header(&mut w, invocation_id);
    w.put(b"Content-Type: ");
    w.put(content_type.as_bytes());
    w.put(b"\r\nContent-Length: ");
    w.dec(body_len);
    w.put(b"\r\n\r\n");
    w.finish()
}

/// The head of a streamed `POST .../invocation/{id}/response`: chunked, response mode
/// `streaming`, and the two error trailers declared.
pub fn stream_head(
    ep: &Endpoint,
    request_id: &Id,
    invocation_id: Option<&Id>,
    content_type: &str,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    check(content_type)?;
    let mut w = Writer::new(out);
    start_invocation(&mut w, ep, request_id, b"/response");
    invocation_id_header(&mut w, invocation_id);
    header(&mut w, b"Content-Type", content_type.as_bytes());
    w.put(
        b"Lambda-Runtime-Function-Response-Mode: streaming\r\n\
          Transfer-Encoding: chunked\r\n\
          Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n",
    );
    Ok(w.finish()?)
}

/// The size line of one chunk of `len` bytes; the caller sends the data and then
/// [`CHUNK_END`]. A zero length writes nothing (a zero-size chunk would end the stream).
pub fn chunk_head(len: usize, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    if len == 0 {
        return Ok(0);
    }
    let mut w = Writer::new(out);
    w.hex(len as u64);
    w.put(b"\r\n");
    w.finish()
}

/// The last chunk of a stream that ended well.
pub fn stream_end(out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(b"0\r\n\r\n");
    w.finish()
}

/// The last chunk of a stream that failed after it began: the trailers
/// `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body` (the error
/// document, base64).
pub fn stream_error_end(
    error_type: &str,
    message: &str,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    check(error_type)?;
    let mut w = Writer::new(out);
    w.put(b"0\r\n");
    header(
        &mut w,
        b"Lambda-Runtime-Function-Error-Type",
        error_type.as_bytes(),
    );
    w.put(b"Lambda-Runtime-Function-Error-Body: ");
    let mut b64 = base64::Encoder::new(&mut w);
    json::write_error_body(&mut b64, error_type, message);
    b64.finish();
    w.put(b"\r\n\r\n");
    Ok(w.finish()?)
}

/// The `Content-Type` of a streamed response that starts with an HTTP integration prelude
/// (Function URLs, API Gateway).
pub const HTTP_INTEGRATION_CONTENT_TYPE: &str =
    "application/vnd.awslambda.http-integration-response";

/// The HTTP integration prelude a streamed response for Function URLs / API Gateway starts with:
/// the JSON object `{"statusCode":…,"headers":{…},"cookies":[…]}` followed by 8 NUL bytes; the
/// body follows. Send it as the stream's first bytes, with
/// [`HTTP_INTEGRATION_CONTENT_TYPE`]. Header names and values and cookies are JSON-escaped.
pub fn http_prelude(
    status: u16,
    headers: &[(&str, &str)],
    cookies: &[&str],
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    w.put(b"{\"statusCode\":");
    w.dec(u64::from(status));
    w.put(b",\"headers\":{");
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 {
            w.byte(b',');
        }
        w.byte(b'"');
        json::write_escaped(&mut w, name);
        w.put(b"\":\"");
        json::write_escaped(&mut w, value);
        w.byte(b'"');
    }
    w.put(b"},\"cookies\":[");
    for (i, cookie) in cookies.iter().enumerate() {
        if i > 0 {
            w.byte(b',');
        }
        w.byte(b'"');
        json::write_escaped(&mut w, cookie);
        w.byte(b'"');
    }
    w.put(b"]}");
    w.put(&[0u8; 8]);
    w.finish()
}

/// Where an error report goes.
#[derive(Debug, Clone, Copy)]
pub enum ErrorTarget<'a> {
    /// `POST .../invocation/{id}/error`.
    Invocation {
        /// The invocation's request id.
        request_id: &'a Id,
        /// Echoed as `Lambda-Runtime-Invocation-Id` when `/next` carried one.
        invocation_id: Option<&'a Id>,
    },
    /// `POST .../init/error`.
    Init,
    /// `POST .../restore/error` (SnapStart).
    Restore,
}

/// A whole error report (head and JSON body): `errorType` in the body and in
/// `Lambda-Runtime-Function-Error-Type`, the message JSON-escaped (cut at
/// [`json::MAX_ERROR_MESSAGE`] bytes), and the X-Ray cause header.
pub fn error(
    ep: &Endpoint,
    target: ErrorTarget<'_>,
    error_type: &str,
    message: &str,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    check(error_type)?;
    let mut count = Writer::counting();
    json::write_error_body(&mut count, error_type, message);
    let body_len = count.len();

    let mut w = Writer::new(out);
    match target {
        ErrorTarget::Invocation {
            request_id,
            invocation_id,
        } => {
            start_invocation(&mut w, ep, request_id, b"/error");
            invocation_id_header(&mut w, invocation_id);
        }
        ErrorTarget::Init => start(&mut w, b"POST ", ep, b"/2018-06-01/runtime/init/error"),
        ErrorTarget::Restore => start(&mut w, b"POST ", ep, b"/2018-06-01/runtime/restore/error"),
    }
    header(
        &mut w,
        b"Lambda-Runtime-Function-Error-Type",
        error_type.as_bytes(),
    );
    w.put(b"Lambda-Runtime-Function-XRay-Error-Cause: ");
    json::write_xray_cause(&mut w, error_type, message);
    w.put(b"\r\nContent-Type: application/json\r\nContent-Length: ");
    w.dec(body_len as u64);
    w.put(b"\r\n\r\n");
    json::write_error_body(&mut w, error_type, message);
    Ok(w.finish()?)
}

/// `GET /2018-06-01/runtime/restore/next` (SnapStart).
pub fn restore_next(ep: &Endpoint, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    start(&mut w, b"GET ", ep, b"/2018-06-01/runtime/restore/next");
    w.put(b"\r\n");
    w.finish()
}

/// `POST /2020-01-01/extension/register` for an internal extension that subscribes to no events
/// (it exists so that Lambda sends SIGTERM at shutdown).
pub fn extension_register(ep: &Endpoint, name: &str, out: &mut [u8]) -> Result<usize, EncodeError> {
    check(name)?;
    const BODY: &[u8] = b"{\"events\":[]}";
    let mut w = Writer::new(out);
    start(&mut w, b"POST ", ep, b"/2020-01-01/extension/register");
    header(&mut w, b"Lambda-Extension-Name", name.as_bytes());
    w.put(b"Content-Type: application/json\r\nContent-Length: ");
    w.dec(BODY.len() as u64);
    w.put(b"\r\n\r\n");
    w.put(BODY);
    Ok(w.finish()?)
}

/// `GET /2020-01-01/extension/event/next` for the extension `identifier` returned by register.
pub fn extension_next(
    ep: &Endpoint,
    identifier: &str,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    check(identifier)?;
    let mut w = Writer::new(out);
    start(&mut w, b"GET ", ep, b"/2020-01-01/extension/event/next");
    header(
        &mut w,
        b"Lambda-Extension-Identifier",
        identifier.as_bytes(),
    );
    w.put(b"\r\n");
    Ok(w.finish()?)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn ep(s: &str) -> Endpoint {
        Endpoint::parse(s).unwrap()
    }

    fn id(s: &str) -> Id {
        Id::new(s.as_bytes()).unwrap()
    }

    /// Parses a request with httparse and returns method, path, headers and body.
    fn parse(bytes: &[u8]) -> (String, String, Vec<(String, String)>, Vec<u8>) {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let n = match req.parse(bytes).unwrap() {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => panic!("partial: {:?}", String::from_utf8_lossy(bytes)),
        };
        let hs = req
            .headers
            .iter()
            .map(|h| (h.name.into(), String::from_utf8(h.value.to_vec()).unwrap()))
            .collect();
        (
            req.method.unwrap().into(),
            req.path.unwrap().into(),
            hs,
            bytes[n..].to_vec(),
        )
    }

    fn get<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
        hs.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn next_is_exact() {
        let mut b = [0u8; 256];
        let n = next(&ep("127.0.0.1:9001"), &mut b).unwrap();
        let want = std::format!(
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: {USER_AGENT}\r\n\r\n"
        );
        assert_eq!(&b[..n], want.as_bytes());
        assert_eq!(
            next(&ep("127.0.0.1:9001"), &mut b[..10]),
            Err(BufferTooSmall { required: n })
        );
    }

    #[test]
    fn prefix_goes_first() {
        let mut b = [0u8; 256];
        let n = next(&ep("http://127.0.0.1:9000/.rt"), &mut b).unwrap();
        let (m, p, hs, _) = parse(&b[..n]);
        assert_eq!(m, "GET");
        assert_eq!(p, "/.rt/2018-06-01/runtime/invocation/next");
        assert_eq!(get(&hs, "host"), Some("127.0.0.1:9000"));
    }

    #[test]
    fn response_head_and_invocation_id() {
        let mut b = [0u8; 512];
        let n = response_head(
            &ep("[::1]:9001"),
            &id("abc-123"),
            Some(&id("inv.1")),
            "application/json",
            42,
            &mut b,
        )
        .unwrap();
        let (m, p, hs, body) = parse(&b[..n]);
        assert_eq!(m, "POST");
        assert_eq!(p, "/2018-06-01/runtime/invocation/abc-123/response");
        assert_eq!(get(&hs, "host"), Some("[::1]:9001"));
        assert_eq!(get(&hs, "content-length"), Some("42"));
        assert_eq!(get(&hs, "lambda-runtime-invocation-id"), Some("inv.1"));
        assert_eq!(get(&hs, "user-agent"), Some(USER_AGENT));
        assert!(body.is_empty());

        let n = response_head(&ep("h:1"), &id("a"), None, "text/plain", 0, &mut b).unwrap();
        let (_, _, hs, _) = parse(&b[..n]);
        assert_eq!(get(&hs, "lambda-runtime-invocation-id"), None);
        assert_eq!(
            response_head(&ep("h:1"), &id("a"), None, "text/plain\r\nX: y", 0, &mut b),
            Err(EncodeError::InvalidHeaderValue)
        );
    }

    #[test]
    fn response_head_is_exact() {
        let mut b = [0u8; 512];
        for (endpoint, path) in [("127.0.0.1:9001", ""), ("http://h:9000/.rt", "/.rt")] {
            let e = ep(endpoint);
            let n = response_head(&e, &id("abc-1"), None, "text/plain", 1234, &mut b).unwrap();
            let want = std::format!(
                "POST {path}/2018-06-01/runtime/invocation/abc-1/response HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: {USER_AGENT}\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n",
                e.host(),
                e.port()
            );
            assert_eq!(std::str::from_utf8(&b[..n]).unwrap(), want);
            assert_eq!(
                response_head(&e, &id("abc-1"), None, "text/plain", 1234, &mut b[..n - 1]),
                Err(EncodeError::BufferTooSmall { required: n })
            );
        }
    }

    #[test]
    fn header_values_are_checked_as_byte_by_byte() {
        let reference = |v: &[u8]| {
            !v.is_empty()
                && v.len() <= MAX_HEADER_VALUE
                && v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
        };
        // Every byte (as UTF-8 allows it) at every position of values that fill whole words,
        // a remainder, or both.
        for len in [1, 7, 8, 9, 16, 23] {
            for c in (0u32..0x100).filter_map(char::from_u32) {
                for at in 0..len {
                    let mut v: String = "a".repeat(len);
                    v.replace_range(at..at + 1, c.encode_utf8(&mut [0; 4]));
                    assert_eq!(is_header_value(&v), reference(v.as_bytes()), "{v:?}");
                }
            }
        }
        assert!(!is_header_value(""));
        assert!(is_header_value(&"a".repeat(MAX_HEADER_VALUE)));
        assert!(!is_header_value(&"a".repeat(MAX_HEADER_VALUE + 1)));
    }

    #[test]
    fn error_report_is_complete() {
        let mut b = [0u8; 1024];
        let n = error(
            &ep("h:1"),
            ErrorTarget::Invocation {
                request_id: &id("r1"),
                invocation_id: None,
            },
            "MyError",
            "it \"broke\"\n",
            &mut b,
        )
        .unwrap();
        let (m, p, hs, body) = parse(&b[..n]);
        assert_eq!(
            (m.as_str(), p.as_str()),
            ("POST", "/2018-06-01/runtime/invocation/r1/error")
        );
        assert_eq!(
            get(&hs, "lambda-runtime-function-error-type"),
            Some("MyError")
        );
        assert_eq!(get(&hs, "content-length").unwrap(), body.len().to_string());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errorMessage"], "it \"broke\"\n");
        let cause: serde_json::Value =
            serde_json::from_str(get(&hs, "lambda-runtime-function-xray-error-cause").unwrap())
                .unwrap();
        assert_eq!(cause["exceptions"][0]["type"], "MyError");
        assert_eq!(cause["exceptions"][0]["message"], "it \"broke\"\n");

        let n = error(&ep("h:1"), ErrorTarget::Init, "Init.Fail", "x", &mut b).unwrap();
        assert_eq!(parse(&b[..n]).1, "/2018-06-01/runtime/init/error");
        let n = error(&ep("h:1"), ErrorTarget::Restore, "R", "x", &mut b).unwrap();
        assert_eq!(parse(&b[..n]).1, "/2018-06-01/runtime/restore/error");
        for bad in ["", "a\nb", "a\rb", "a\0b"] {
            assert_eq!(
                error(&ep("h:1"), ErrorTarget::Init, bad, "x", &mut b),
                Err(EncodeError::InvalidHeaderValue)
            );
        }
    }

    /// Found by the `json_escape` fuzz target: a DEL in the message went raw into the X-Ray
    /// cause header, which is then not a valid header value and the request does not parse.
    #[test]
    fn error_report_with_del_in_message_is_valid_http() {
        let mut b = [0u8; 1024];
        let msg = "del \x7f and nul \0 \u{e9}";
        let n = error(&ep("h:1"), ErrorTarget::Init, "MyError", msg, &mut b).unwrap();
        let (_, _, hs, body) = parse(&b[..n]);
        let cause: serde_json::Value =
            serde_json::from_str(get(&hs, "lambda-runtime-function-xray-error-cause").unwrap())
                .unwrap();
        assert_eq!(cause["exceptions"][0]["message"], msg);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errorMessage"], msg);
    }

    #[test]
    fn stream_framing() {
        let mut b = [0u8; 1024];
        let n = stream_head(&ep("h:1"), &id("r"), None, "text/plain", &mut b).unwrap();
        let (_, p, hs, _) = parse(&b[..n]);
        assert_eq!(p, "/2018-06-01/runtime/invocation/r/response");
        assert_eq!(get(&hs, "transfer-encoding"), Some("chunked"));
        assert_eq!(
            get(&hs, "lambda-runtime-function-response-mode"),
            Some("streaming")
        );
        assert_eq!(
            get(&hs, "trailer"),
            Some("Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
        );
        assert_eq!(chunk_head(0, &mut b), Ok(0));
        let n = chunk_head(300, &mut b).unwrap();
        assert_eq!(&b[..n], b"12c\r\n");
        let n = stream_end(&mut b).unwrap();
        assert_eq!(&b[..n], b"0\r\n\r\n");
        let n = stream_error_end("Boom", "bad", &mut b).unwrap();
        let text = std::str::from_utf8(&b[..n]).unwrap();
        assert!(text.starts_with("0\r\nLambda-Runtime-Function-Error-Type: Boom\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        let b64 = text
            .lines()
            .find_map(|l| l.strip_prefix("Lambda-Runtime-Function-Error-Body: "))
            .unwrap();
        let mut raw = [0u8; 256];
        let len = crate::base64::decode(b64.as_bytes(), &mut raw).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw[..len]).unwrap();
        assert_eq!(v["errorType"], "Boom");
        assert_eq!(v["errorMessage"], "bad");
    }

    #[test]
    fn http_integration_prelude() {
        let mut b = [0u8; 256];
        let n = http_prelude(
            201,
            &[("content-type", "text/html"), ("x-q", "a\"b")],
            &["a=1; Secure"],
            &mut b,
        )
        .unwrap();
        let (json, nuls) = b[..n].split_at(n - 8);
        assert_eq!(nuls, &[0u8; 8]);
        let v: serde_json::Value = serde_json::from_slice(json).unwrap();
        assert_eq!(v["statusCode"], 201);
        assert_eq!(v["headers"]["x-q"], "a\"b");
        assert_eq!(v["cookies"][0], "a=1; Secure");
        let n = http_prelude(200, &[], &[], &mut b).unwrap();
        assert_eq!(
            &b[..n - 8],
            br#"{"statusCode":200,"headers":{},"cookies":[]}"#
        );
    }

    #[test]
    fn extensions_api() {
        let mut b = [0u8; 512];
        let n = extension_register(&ep("h:1"), "lamina", &mut b).unwrap();
        let (m, p, hs, body) = parse(&b[..n]);
        assert_eq!(
            (m.as_str(), p.as_str()),
            ("POST", "/2020-01-01/extension/register")
        );
        assert_eq!(get(&hs, "lambda-extension-name"), Some("lamina"));
        assert_eq!(body, b"{\"events\":[]}");
        let n = extension_next(&ep("h:1"), "ext-id", &mut b).unwrap();
        let (m, p, hs, _) = parse(&b[..n]);
        assert_eq!(
            (m.as_str(), p.as_str()),
            ("GET", "/2020-01-01/extension/event/next")
        );
        assert_eq!(get(&hs, "lambda-extension-identifier"), Some("ext-id"));
        let n = restore_next(&ep("h:1"), &mut b).unwrap();
        assert_eq!(parse(&b[..n]).1, "/2018-06-01/runtime/restore/next");
    }

    fn id_strategy() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._:-]{1,128}"
    }

    proptest! {
        #[test]
        fn every_request_parses_back(
            rid in id_strategy(),
            inv in proptest::option::of(id_strategy()),
            prefix in "(/[A-Za-z0-9._~-]{1,10}){0,3}",
            port in 1u16..,
            etype in "[A-Za-z][A-Za-z0-9._]{0,40}",
            content_type in any::<String>(),
            msg in any::<String>(),
            len in any::<u64>(),
        ) {
            let e = ep(&std::format!("127.0.0.1:{port}{prefix}"));
            let rid_id = id(&rid);
            let inv_id = inv.as_deref().map(id);
            let mut b = std::vec![0u8; 256 * 1024];

            let n = response_head(&e, &rid_id, inv_id.as_ref(), "application/json", len, &mut b).unwrap();
            let (m, p, hs, body) = parse(&b[..n]);
            prop_assert_eq!(m, "POST");
            prop_assert_eq!(p, std::format!("{prefix}/2018-06-01/runtime/invocation/{rid}/response"));
            prop_assert_eq!(get(&hs, "content-length").map(String::from), Some(len.to_string()));
            prop_assert_eq!(get(&hs, "lambda-runtime-invocation-id"), inv.as_deref());
            prop_assert_eq!(get(&hs, "host").map(String::from), Some(std::format!("127.0.0.1:{port}")));
            prop_assert!(body.is_empty());
            let checked = content_type.len() <= MAX_HEADER_VALUE
                && !content_type.is_empty()
                && content_type.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
            prop_assert_eq!(is_header_value(&content_type), checked);

            let target = ErrorTarget::Invocation { request_id: &rid_id, invocation_id: inv_id.as_ref() };
            let n = error(&e, target, &etype, &msg, &mut b).unwrap();
            // The same call into a buffer one byte short says exactly how much it needs.
            prop_assert_eq!(
                error(&e, target, &etype, &msg, &mut std::vec![0u8; n - 1]),
                Err(EncodeError::BufferTooSmall { required: n })
            );
            let (m, p, hs, body) = parse(&b[..n]);
            prop_assert_eq!(m, "POST");
            prop_assert_eq!(p, std::format!("{prefix}/2018-06-01/runtime/invocation/{rid}/error"));
            prop_assert_eq!(get(&hs, "lambda-runtime-function-error-type"), Some(etype.as_str()));
            prop_assert_eq!(get(&hs, "content-length").map(String::from), Some(body.len().to_string()));
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            prop_assert_eq!(v["errorMessage"].as_str(), Some(msg.as_str()));
            prop_assert_eq!(v["errorType"].as_str(), Some(etype.as_str()));
        }
    }
}
