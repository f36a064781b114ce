//! The rest of the Runtime API (issue 8), on both transports: response streaming (chunks on the
//! wire as they are written, errors in trailers).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Proc, WAIT, json};
use lamina_server::{Invocation, OutcomeKind, Server};

struct Bins {
    stream: &'static str,
    stream_fail: &'static str,
}

const STD: Bins = Bins {
    stream: env!("CARGO_BIN_EXE_std-stream"),
    stream_fail: env!("CARGO_BIN_EXE_std-stream_fail"),
};

const MIO: Bins = Bins {
    stream: env!("CARGO_BIN_EXE_stream"),
    stream_fail: env!("CARGO_BIN_EXE_stream_fail"),
};

fn spawn(server: &Server, path: &str) -> Proc {
    Proc::spawn(server.command(Path::new(path)))
}

fn chunks_arrive_as_written(bins: &Bins) {
    let server = Server::start().unwrap();
    let _proc = spawn(&server, bins.stream);
    // 300 ms between chunks: the first must be at the server long before the handler writes
    // the second.
    let id = server.invoke(Invocation::new(&b"{\"pause_ms\":300}"[..]));
    let end = Instant::now() + WAIT;
    let mut seen_partial = false;
    while Instant::now() < end {
        let progress = server.chunk_progress(&id);
        if progress >= 1 {
            // The answer is not complete yet: 9 more chunks are still to be written.
            seen_partial = server.outcomes().iter().all(|o| o.request_id != id) && progress < 10;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        seen_partial,
        "the first chunk arrived before the stream ended"
    );
    let o = server.wait_outcome(&id, WAIT).expect("the stream's end");
    assert_eq!(o.kind, OutcomeKind::Response);
    let want: String = (0..10).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(o.body_str(), want);
    let r = &o.request;
    assert_eq!(
        r.header("Lambda-Runtime-Function-Response-Mode"),
        Some("streaming")
    );
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(
        r.header("Trailer"),
        Some("Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    );
    assert_eq!(r.chunks, vec![8; 10], "one chunk per write, no empty chunk");
    assert!(r.trailers.is_empty());
    // The runtime goes on serving.
    let id2 = server.invoke(Invocation::new(&b"{\"pause_ms\":0}"[..]));
    let o2 = server.wait_outcome(&id2, WAIT).expect("the next stream");
    assert_eq!(o2.body_str(), want);
    assert_eq!(server.outcomes().len(), 2, "exactly one answer each");
}

fn failing_stream_ends_with_trailers(bins: &Bins) {
    let server = Server::start().unwrap();
    let _proc = spawn(&server, bins.stream_fail);
    let id = server.invoke(Invocation::new(&b"{\"pause_ms\":10}"[..]));
    let o = server.wait_outcome(&id, WAIT).expect("the stream's end");
    assert_eq!(
        o.kind,
        OutcomeKind::Response,
        "an error after the first byte stays a /response"
    );
    assert_eq!(
        o.body_str(),
        "chunk 0\nchunk 1\nchunk 2\n",
        "the error is not mixed into the body"
    );
    let r = &o.request;
    assert_eq!(
        r.trailer("Lambda-Runtime-Function-Error-Type"),
        Some("StreamFailed")
    );
    let b64 = r
        .trailer("Lambda-Runtime-Function-Error-Body")
        .expect("error body trailer");
    let doc = json(&common::unbase64(b64));
    assert_eq!(doc["errorType"], "StreamFailed");
    assert_eq!(doc["errorMessage"], "failed after 3 chunks");
    assert_eq!(server.outcomes().len(), 1);
}

mod on_std {
    #[test]
    fn chunks_arrive_as_written() {
        super::chunks_arrive_as_written(&super::STD)
    }
    #[test]
    fn failing_stream_ends_with_trailers() {
        super::failing_stream_ends_with_trailers(&super::STD)
    }
}

mod on_mio {
    #[test]
    fn chunks_arrive_as_written() {
        super::chunks_arrive_as_written(&super::MIO)
    }
    #[test]
    fn failing_stream_ends_with_trailers() {
        super::failing_stream_ends_with_trailers(&super::MIO)
    }
}
