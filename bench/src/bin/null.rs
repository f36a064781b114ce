//! The null client as a process of its own: replays pre-encoded Runtime API requests on one
//! keep-alive connection and reads each answer's known length without parsing it.
//!
//! lamina-bench writes the requests to a file (`null FILE`) and judges the runtimes' warm
//! throughput against this process, which pays what any runtime pays on Lambda (its own
//! process, so a process switch at every wake-up) and does nothing else.
//!
//! The file: three little-endian u64s (the length of every `/next` answer, of every
//! `/response` answer, of the `GET /next` request), the `GET` request, a u64 count, then that
//! many `POST .../response` requests, each a u64 length and its bytes.

use std::io::{Read, Write};
use std::net::TcpStream;

fn u64_at(b: &[u8], at: &mut usize) -> Option<usize> {
    let v = b.get(*at..*at + 8)?;
    *at += 8;
    usize::try_from(u64::from_le_bytes(v.try_into().ok()?)).ok()
}

fn bytes_at<'a>(b: &'a [u8], at: &mut usize, len: usize) -> Option<&'a [u8]> {
    let v = b.get(*at..*at + len)?;
    *at += len;
    Some(v)
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: null FILE (written by lamina-bench)");
        std::process::exit(2);
    };
    let file = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("null: {path}: {e}");
        std::process::exit(2)
    });
    let mut at = 0;
    let parsed = (|| {
        let next_len = u64_at(&file, &mut at)?;
        let acc_len = u64_at(&file, &mut at)?;
        let get_len = u64_at(&file, &mut at)?;
        let get = bytes_at(&file, &mut at, get_len)?;
        let count = u64_at(&file, &mut at)?;
        let mut posts = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u64_at(&file, &mut at)?;
            posts.push(bytes_at(&file, &mut at, len)?);
        }
        Some((next_len, acc_len, get, posts))
    })();
    let Some((next_len, acc_len, get, posts)) = parsed else {
        eprintln!("null: {path}: not a request file");
        std::process::exit(2);
    };
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    let mut s = TcpStream::connect(api.as_str()).unwrap_or_else(|e| {
        eprintln!("null: connect {api}: {e}");
        std::process::exit(1)
    });
    let _ = s.set_nodelay(true);
    let mut next = vec![0u8; next_len];
    let mut acc = vec![0u8; acc_len];
    for post in posts {
        let one = s
            .write_all(get)
            .and_then(|()| s.read_exact(&mut next))
            .and_then(|()| s.write_all(post))
            .and_then(|()| s.read_exact(&mut acc));
        if let Err(e) = one {
            eprintln!("null: {e}");
            std::process::exit(1);
        }
    }
}
