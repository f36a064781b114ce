//! The few HTTP/1.1 pieces the server needs: request heads, bodies (by `Content-Length` or
//! `Transfer-Encoding: chunked` with trailers) and response encoding. Every read is bounded in size;
//! nothing here panics on network bytes.

use std::io::{self, BufRead, Read};

/// Largest request head (and largest trailer section) accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (streamed responses may reach 200 MB).
pub(crate) const MAX_BODY: u64 = 256 * 1024 * 1024;
/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 16 * 1024;
/// Most header fields in one head.
const MAX_HEADERS: usize = 128;
/// Most blank lines tolerated before a request line.
const MAX_LEADING_BLANKS: usize = 16;

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// The connection failed or ended early: nothing can be answered.
    Io,
    /// The bytes are not HTTP: answer 400 and close.
    Bad(&'static str),
    /// The head or the trailers are too large: answer 431 and close.
    HeadTooLarge,
    /// The body is too large: answer 413 and close.
    BodyTooLarge,
}

impl From<io::Error> for HttpError {
    fn from(_: io::Error) -> Self {
        HttpError::Io
    }
}

fn eof() -> HttpError {
    HttpError::Io
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub method: String,
    pub target: String,
    pub minor_version: u8,
    pub headers: Vec<(String, String)>,
}

/// First value of header `name` (case-insensitive).
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads one line ending in LF, at most `limit` bytes. Returns what was read: empty at EOF, without
/// a final LF when the limit was hit or the stream ended.
fn read_line<R: BufRead>(r: &mut R, limit: usize) -> Result<Vec<u8>, HttpError> {
    let mut line = Vec::new();
    r.by_ref().take(limit as u64).read_until(b'\n', &mut line)?;
    Ok(line)
}

/// Like `read_line`, but a missing LF is an error (too long or EOF).
fn read_full_line<R: BufRead>(
    r: &mut R,
    limit: usize,
    too_long: fn() -> HttpError,
) -> Result<Vec<u8>, HttpError> {
    let line = read_line(r, limit)?;
    if line.ends_with(b"\n") {
        Ok(line)
    } else if line.len() >= limit {
        Err(too_long())
    } else {
        Err(eof())
    }
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

/// How many of the bytes a head was read from [`read_head`] keeps for error reports.
pub(crate) const RAW_KEPT: usize = 256;

/// Reads a request head. `Ok(None)`: the peer closed the connection cleanly between requests.
/// The first [`RAW_KEPT`] bytes consumed (leading blank lines included) are appended to `raw`, so
/// that a refused head can be reported as it arrived.
pub(crate) fn read_head<R: BufRead>(
    r: &mut R,
    raw: &mut Vec<u8>,
) -> Result<Option<Head>, HttpError> {
    let mut head = Vec::new();
    let mut blanks = 0;
    loop {
        let remaining = MAX_HEAD - head.len();
        if remaining == 0 {
            return Err(HttpError::HeadTooLarge);
        }
        let line = read_line(r, remaining)?;
        let keep = RAW_KEPT.saturating_sub(raw.len()).min(line.len());
        raw.extend_from_slice(&line[..keep]);
        if line.is_empty() {
            return if head.is_empty() && blanks == 0 {
                Ok(None)
            } else {
                Err(eof())
            };
        }
        if !line.ends_with(b"\n") {
            return Err(if line.len() >= remaining {
                HttpError::HeadTooLarge
            } else {
                eof()
            });
        }
        if is_blank(&line) {
            if head.is_empty() {
                blanks += 1;
                if blanks > MAX_LEADING_BLANKS {
                    return Err(HttpError::Bad(
                        "too many blank lines before the request line",
                    ));
                }
                continue;
            }
            head.extend_from_slice(&line);
            break;
        }
        head.extend_from_slice(&line);
    }
    parse_head(&head).map(Some)
}

fn owned_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

fn parse_head(buf: &[u8]) -> Result<Head, HttpError> {
    let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hdrs);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HttpError::Bad("incomplete request head")),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        Err(_) => return Err(HttpError::Bad("malformed request head")),
    }
    Ok(Head {
        method: req.method.unwrap_or_default().to_string(),
        target: req.path.unwrap_or_default().to_string(),
        minor_version: req.version.unwrap_or(1),
        headers: owned_headers(req.headers),
    })
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No framing header: an empty request body (a response body would run to EOF).
    None,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The framing the headers declare. `Transfer-Encoding` wins over `Content-Length`.
pub(crate) fn framing(headers: &[(String, String)]) -> Result<Framing, HttpError> {
    let mut te_seen = false;
    let mut last_coding = String::new();
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("transfer-encoding") {
            te_seen = true;
            if let Some(c) = v.split(',').map(str::trim).rfind(|c| !c.is_empty()) {
                last_coding = c.to_ascii_lowercase();
            }
        }
    }
    if te_seen {
        return if last_coding == "chunked" {
            Ok(Framing::Chunked)
        } else {
            Err(HttpError::Bad("unsupported transfer-encoding"))
        };
    }
    let mut length: Option<u64> = None;
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        for part in v.split(',') {
            let part = part.trim();
            if part.is_empty() || part.len() > 19 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HttpError::Bad("invalid content-length"));
            }
            let n: u64 = part
                .parse()
                .map_err(|_| HttpError::Bad("invalid content-length"))?;
            match length {
                Some(l) if l != n => return Err(HttpError::Bad("conflicting content-length")),
                _ => length = Some(n),
            }
        }
    }
    match length {
        Some(n) if n > MAX_BODY => Err(HttpError::BodyTooLarge),
        Some(n) => Ok(Framing::Length(n)),
        None => Ok(Framing::None),
    }
}

/// A request body as received.
#[derive(Debug)]
pub(crate) struct Body {
    pub data: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    pub chunks: Vec<usize>,
    /// Whether the body was read to its end (false when reading failed or `on_chunk` stopped it).
    pub complete: bool,
}

impl Default for Body {
    fn default() -> Self {
        Body {
            data: Vec::new(),
            trailers: Vec::new(),
            chunks: Vec::new(),
            complete: true,
        }
    }
}

/// Reads a body framed as `framing` into `body` (which keeps what arrived when reading fails).
/// `on_chunk` is called with each chunk's data as soon as it has arrived (before the rest of the
/// body); when it returns false, reading stops there and `body.complete` is false.
pub(crate) fn read_body<R: BufRead>(
    r: &mut R,
    framing: Framing,
    body: &mut Body,
    on_chunk: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), HttpError> {
    match framing {
        Framing::None => Ok(()),
        Framing::Length(n) => {
            body.data.reserve(n.min(1 << 20) as usize);
            body.complete = false;
            let got = r.by_ref().take(n).read_to_end(&mut body.data)?;
            if (got as u64) < n {
                return Err(eof());
            }
            body.complete = true;
            Ok(())
        }
        Framing::Chunked => read_chunked(r, body, on_chunk),
    }
}

fn read_chunked<R: BufRead>(
    r: &mut R,
    body: &mut Body,
    on_chunk: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<(), HttpError> {
    body.complete = false;
    loop {
        let line = read_full_line(r, MAX_LINE, || HttpError::Bad("chunk-size line too long"))?;
        let text = std::str::from_utf8(&line).map_err(|_| HttpError::Bad("bad chunk size"))?;
        let size = text
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HttpError::Bad("bad chunk size"));
        }
        let size = size.trim_start_matches('0');
        if size.len() > 15 {
            return Err(HttpError::BodyTooLarge);
        }
        let size = if size.is_empty() {
            0
        } else {
            u64::from_str_radix(size, 16).map_err(|_| HttpError::Bad("bad chunk size"))?
        };
        if size == 0 {
            break;
        }
        if body.data.len() as u64 + size > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
        let got = r.by_ref().take(size).read_to_end(&mut body.data)?;
        if (got as u64) < size {
            return Err(eof());
        }
        body.chunks.push(got);
        let go_on = on_chunk(&body.data[body.data.len() - got..]);
        let crlf = read_line(r, 2)?;
        if crlf.is_empty() {
            return Err(eof());
        }
        if !is_blank(&crlf) {
            return Err(HttpError::Bad("missing CRLF after chunk data"));
        }
        if !go_on {
            return Ok(());
        }
    }
    let mut total = 0;
    loop {
        let line = read_full_line(r, MAX_LINE, || HttpError::HeadTooLarge)?;
        if is_blank(&line) {
            break;
        }
        total += line.len();
        if total > MAX_HEAD {
            return Err(HttpError::HeadTooLarge);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let Some((name, value)) = text.split_once(':') else {
            return Err(HttpError::Bad("malformed trailer"));
        };
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(HttpError::Bad("malformed trailer name"));
        }
        body.trailers.push((
            name.to_string(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    body.complete = true;
    Ok(())
}

/// The reason phrase for a status code.
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Encodes a response. `headers` must already hold the framing header (if any).
pub(crate) fn encode(status: u16, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The `i`-th interim (1xx) response of a series: `100 Continue` for even `i`, `103 Early Hints`
/// with a `Link` header for odd `i`.
pub(crate) fn interim(i: usize) -> &'static [u8] {
    if i.is_multiple_of(2) {
        b"HTTP/1.1 100 Continue\r\n\r\n"
    } else {
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
    }
}

/// Encodes `body` as chunks of `n` bytes (at least 1), ending with the last chunk.
pub(crate) fn chunk_body(body: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16 * (body.len() / n.max(1) + 2));
    for c in body.chunks(n.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Whether `bytes` are exactly one complete, well-framed HTTP response that leaves the connection
/// usable (complete head, body exactly as framed, no `Connection: close`).
pub(crate) fn is_one_complete_response(bytes: &[u8]) -> bool {
    let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut hdrs);
    let n = match resp.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return false,
    };
    let headers = owned_headers(resp.headers);
    if header(&headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
        return false;
    }
    let rest = bytes.get(n..).unwrap_or_default();
    match framing(&headers) {
        Ok(Framing::Length(l)) => rest.len() as u64 == l,
        Ok(Framing::Chunked) => {
            let mut cur = io::Cursor::new(rest);
            read_chunked(&mut cur, &mut Body::default(), &mut |_| true).is_ok()
                && cur.position() == rest.len() as u64
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(input: &[u8], f: Framing) -> Result<Body, HttpError> {
        let mut b = Body::default();
        read_body(&mut io::Cursor::new(input), f, &mut b, &mut |_| true)?;
        Ok(b)
    }

    #[test]
    fn chunked_with_trailers_and_extensions() {
        let b = body(
            b"5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-A: 1\r\nX-B:two \r\n\r\n",
            Framing::Chunked,
        )
        .unwrap();
        assert_eq!(b.data, b"hello!");
        assert_eq!(b.chunks, vec![5, 1]);
        assert_eq!(
            b.trailers,
            vec![("X-A".into(), "1".into()), ("X-B".into(), "two".into())]
        );
    }

    #[test]
    fn chunked_reading_can_stop_early() {
        let mut c = io::Cursor::new(&b"1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"[..]);
        let mut seen = 0;
        let mut b = Body::default();
        read_body(&mut c, Framing::Chunked, &mut b, &mut |_| {
            seen += 1;
            seen < 2
        })
        .unwrap();
        assert_eq!((b.data.as_slice(), b.complete), (&b"ab"[..], false));
        assert_eq!(c.position(), 12);
        assert!(
            body(b"1\r\na\r\n0\r\n\r\n", Framing::Chunked)
                .unwrap()
                .complete
        );
        // What arrived before an error is kept.
        let mut b = Body::default();
        let r = read_body(
            &mut io::Cursor::new(&b"3\r\nabc\r\n2\r\nd"[..]),
            Framing::Chunked,
            &mut b,
            &mut |_| true,
        );
        assert!(r.is_err());
        assert_eq!((b.data.as_slice(), b.complete), (&b"abcd"[..], false));
    }

    #[test]
    fn bad_chunks_are_errors() {
        for bad in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"fffffffffffffffffff\r\n",
            b"5\r\nhel",
            b"0\r\nno colon\r\n\r\n",
        ] {
            assert!(body(bad, Framing::Chunked).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn framing_rules() {
        let h = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert_eq!(
            framing(&h("content-length", "12")).unwrap(),
            Framing::Length(12)
        );
        assert!(framing(&h("Content-Length", "-1")).is_err());
        assert!(framing(&h("Content-Length", "1, 2")).is_err());
        assert!(matches!(
            framing(&h("Content-Length", "999999999999")),
            Err(HttpError::BodyTooLarge)
        ));
        assert_eq!(
            framing(&h("Transfer-Encoding", "gzip, Chunked")).unwrap(),
            Framing::Chunked
        );
        assert!(framing(&h("Transfer-Encoding", "gzip")).is_err());
        assert_eq!(framing(&[]).unwrap(), Framing::None);
    }

    #[test]
    fn heads() {
        let read_head = |c: &mut io::Cursor<&[u8]>| read_head(c, &mut Vec::new());
        let mut c = io::Cursor::new(&b"\r\nGET /x HTTP/1.1\r\nA: b\r\n\r\nrest"[..]);
        let mut raw = Vec::new();
        let h = super::read_head(&mut c, &mut raw).unwrap().unwrap();
        assert_eq!(raw, b"\r\nGET /x HTTP/1.1\r\nA: b\r\n\r\n");
        assert_eq!((h.method.as_str(), h.target.as_str()), ("GET", "/x"));
        assert_eq!(header(&h.headers, "a"), Some("b"));
        assert!(read_head(&mut io::Cursor::new(&b""[..])).unwrap().is_none());
        assert!(matches!(
            read_head(&mut io::Cursor::new(&b"GET / HTTP/1.1\r\nA: b"[..])),
            Err(HttpError::Io)
        ));
        assert!(matches!(
            read_head(&mut io::Cursor::new(&b"\x00\x01 garbage\r\n\r\n"[..])),
            Err(HttpError::Bad(_))
        ));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(
            read_head(&mut io::Cursor::new(big.as_bytes())),
            Err(HttpError::HeadTooLarge)
        ));
    }

    #[test]
    fn complete_response_detection() {
        assert!(is_one_complete_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        ));
        assert!(is_one_complete_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        ));
        assert!(!is_one_complete_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi"
        ));
        assert!(!is_one_complete_response(b"HTTP/1.1 200 OK\r\nContent-Le"));
        assert!(!is_one_complete_response(b"garbage\r\n\r\n"));
        assert!(!is_one_complete_response(b"HTTP/1.1 200 OK\r\n\r\nbody"));
    }

    #[test]
    fn chunk_encoding() {
        assert_eq!(
            chunk_body(b"hello", 2),
            b"2\r\nhe\r\n2\r\nll\r\n1\r\no\r\n0\r\n\r\n"
        );
        assert_eq!(chunk_body(b"", 2), b"0\r\n\r\n");
    }
}
