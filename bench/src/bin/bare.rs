//! The floor: a bare std TCP loop speaking just enough of the Runtime API to answer every
//! invocation with `"Hello World!"` (no JSON, no context, no error handling worth the name).
//!
//! lamina-bench measures its cold start and binary size next to the runtimes' to show what
//! process start-up and std cost on this machine before any runtime does anything.

use std::io::{Read, Write};
use std::net::TcpStream;

const ANSWER: &[u8] = b"\"Hello World!\"";

/// (head length, body length, the request id's byte range in the buffer).
type Read1 = (usize, usize, Option<(usize, usize)>);

/// Reads one HTTP response (head + `Content-Length` body) into `buf`; returns the head length,
/// the body length and, if present, the request id header's value range.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Read1> {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut len = 0;
    let mut id = None;
    let mut pos = 0;
    for line in buf[..head_end].split(|&b| b == b'\n') {
        let start = pos;
        pos += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = std::str::from_utf8(&line[colon + 1..]).unwrap_or("").trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            len = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case(b"lambda-runtime-aws-request-id") {
            let v0 = start
                + colon
                + 1
                + (line.len() - colon - 1 - line[colon + 1..].trim_ascii_start().len());
            id = Some((v0, v0 + value.len()));
        }
    }
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head_end, len, id))
}

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    let Ok(mut s) = TcpStream::connect(api.as_str()) else {
        std::process::exit(1);
    };
    let _ = s.set_nodelay(true);
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut req = Vec::with_capacity(512);
    loop {
        if s.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
            .is_err()
        {
            std::process::exit(1);
        }
        let Some((_, _, Some((a, b)))) = read_response(&mut s, &mut buf) else {
            std::process::exit(1);
        };
        req.clear();
        req.extend_from_slice(b"POST /2018-06-01/runtime/invocation/");
        req.extend_from_slice(&buf[a..b]);
        req.extend_from_slice(b"/response HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\n");
        req.extend_from_slice(ANSWER);
        if s.write_all(&req).is_err() || read_response(&mut s, &mut buf).is_none() {
            std::process::exit(1);
        }
    }
}
