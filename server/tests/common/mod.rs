//! A raw HTTP/1.1 client over `std::net::TcpStream` for the wire-level tests.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lamina_server::Server;

pub const NEXT: &str = "/2018-06-01/runtime/invocation/next";
pub const T: Duration = Duration::from_secs(5);

pub struct Client {
    pub s: TcpStream,
    pub buf: Vec<u8>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

impl Client {
    pub fn new(server: &Server) -> Client {
        Client::connect(&server.addr().to_string())
    }

    pub fn connect(addr: &str) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s.set_nodelay(true).unwrap();
        Client { s, buf: Vec::new() }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes);
    }

    pub fn get_next(&mut self) {
        self.request("GET", NEXT, &[], b"");
    }

    pub fn post(&mut self, path: &str, body: &[u8]) -> Resp {
        self.request("POST", path, &[], body);
        self.response()
    }

    pub fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        let n = self.s.read(&mut tmp).unwrap();
        self.buf.extend_from_slice(&tmp[..n]);
        n > 0
    }

    /// Reads one response (Content-Length or chunked).
    pub fn response(&mut self) -> Resp {
        let (status, headers, head_len) = loop {
            let mut h = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Response::new(&mut h);
            if let httparse::Status::Complete(n) = r.parse(&self.buf).unwrap() {
                let headers = r
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8(h.value.to_vec()).unwrap(),
                        )
                    })
                    .collect::<Vec<_>>();
                break (r.code.unwrap(), headers, n);
            }
            assert!(
                self.fill(),
                "EOF in head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let (body, end) = if get("transfer-encoding").is_some() {
            let mut pos = head_len;
            let mut body = Vec::new();
            loop {
                while !self.buf[pos..].windows(2).any(|w| w == b"\r\n") {
                    assert!(self.fill());
                }
                let i = pos
                    + self.buf[pos..]
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .unwrap();
                let size =
                    usize::from_str_radix(std::str::from_utf8(&self.buf[pos..i]).unwrap(), 16)
                        .unwrap();
                while self.buf.len() < i + 2 + size + 2 {
                    assert!(self.fill());
                }
                body.extend_from_slice(&self.buf[i + 2..i + 2 + size]);
                pos = i + 2 + size + 2;
                if size == 0 {
                    break;
                }
            }
            (body, pos)
        } else {
            let len: usize = get("content-length").map_or(0, |v| v.parse().unwrap());
            while self.buf.len() < head_len + len {
                assert!(self.fill(), "EOF in body");
            }
            (self.buf[head_len..head_len + len].to_vec(), head_len + len)
        };
        let raw = self.buf.drain(..end).collect();
        Resp {
            status,
            headers,
            body,
            raw,
        }
    }

    /// Reads until EOF or an error; returns what came and the error, if any.
    pub fn read_to_end(&mut self) -> (Vec<u8>, Option<io::Error>) {
        let mut out = std::mem::take(&mut self.buf);
        let mut tmp = [0u8; 65536];
        loop {
            match self.s.read(&mut tmp) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&tmp[..n]),
                Err(e) => return (out, Some(e)),
            }
        }
    }
}

pub fn answer_path(id: &str, what: &str) -> String {
    format!("/2018-06-01/runtime/invocation/{id}/{what}")
}
