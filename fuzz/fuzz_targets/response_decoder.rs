//! The incremental response decoder, fed the same stream in different splits.
//!
//! Input: `data[0]` picks how many split points follow (low 4 bits), whether to also feed
//! byte by byte (bit 7) and whether to put interim `1xx` responses in front of the stream (bit 6;
//! bits 4-5 pick which: `100 Continue`, `103 Early Hints` with fields, both, or three
//! `102 Processing`); then one little-endian `u16` offset per split point; the rest is the
//! stream of responses. The stream is fed the way a transport would: append what was "read",
//! `advance`, honour `NeedMore { keep }` by truncating to `keep`, and on `Complete` record the
//! message and drain `consumed` (then try again with what is left); at the end, `finish` (EOF).
//!
//! Checks, with the `/next` limits and with small ones (`max_body` 16):
//! - `keep <= buf.len()` every time;
//! - what was decoded (status, head, body, flags, errors, the EOF outcome) is the same for every
//!   split as for the whole stream at once;
//! - nothing past a message is consumed or touched: after draining `consumed`, the buffer holds
//!   exactly the stream's bytes from the message's end to what was read, and each message ends
//!   at the same stream offset whatever the split;
//! - a kept body is at most `max_body` bytes; a refused one is empty;
//! - no message is an interim (`1xx`) response: they are skipped, however they are split; with
//!   interim responses put in front, the outcome is the plain stream's, shifted by their length.
#![no_main]

use lamina_core::response::Status;
use lamina_core::{DecodeError, Decoder, Limits};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Message {
        status: u16,
        head: Vec<u8>,
        body: Vec<u8>,
        close: bool,
        body_too_large: bool,
        /// Offset in the stream where the message ended (where the next one starts).
        end: usize,
    },
    Error(DecodeError),
    /// EOF with a message begun or a body that runs to EOF: what `finish` said.
    Eof(Result<bool, DecodeError>),
}

const SMALL: Limits = Limits {
    max_head: 256,
    max_body: 16,
};

/// Interim responses put in front of the stream (bit 6 of `data[0]`), by bits 4-5.
const INTERIM: [&[u8]; 4] = [
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nLink: </a.js>\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
    b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.0 102 Processing\r\n\r\n",
];

fn record(
    buf: &mut Vec<u8>,
    m: &lamina_core::response::Message,
    stream: &[u8],
    pos: usize,
    limits: &Limits,
    out: &mut Vec<Outcome>,
) {
    assert!(
        m.consumed <= buf.len(),
        "consumed {} > {}",
        m.consumed,
        buf.len()
    );
    assert!(
        !(100..200).contains(&m.status),
        "an interim response surfaced as a message: {}",
        m.status
    );
    assert!(m.head.start < m.head.end && m.head.end <= m.body.start);
    assert!(m.body.start <= m.body.end && m.body.end <= m.consumed);
    let body = buf[m.body.clone()].to_vec();
    if m.body_too_large {
        assert!(body.is_empty(), "a refused body is not empty");
    } else {
        assert!(body.len() <= limits.max_body, "body over max_body kept");
    }
    let head = buf[m.head.clone()].to_vec();
    buf.drain(..m.consumed);
    // Everything after the message is the stream's own bytes, untouched.
    let end = pos - buf.len();
    assert_eq!(
        &buf[..],
        &stream[end..pos],
        "bytes past the message were changed"
    );
    out.push(Outcome::Message {
        status: m.status,
        head,
        body,
        close: m.close,
        body_too_large: m.body_too_large,
        end,
    });
}

/// Feeds `stream` cut at `cuts` (sorted, possibly repeated) and returns what was decoded. (What
/// is left in the buffer after an error is not compared: the connection is dropped, and where
/// the decoder compacted skipped interim responses depends on the split.)
fn feed(stream: &[u8], cuts: &[usize], limits: Limits) -> Vec<Outcome> {
    let mut dec = Decoder::new(limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut pos = 0;
    for &cut in cuts.iter().chain(core::iter::once(&stream.len())) {
        buf.extend_from_slice(&stream[pos..cut]);
        pos = cut;
        loop {
            match dec.advance(&mut buf) {
                Ok(Status::NeedMore { keep }) => {
                    assert!(keep <= buf.len(), "keep {keep} > len {}", buf.len());
                    buf.truncate(keep);
                    break;
                }
                Ok(Status::Complete(m)) => {
                    record(&mut buf, &m, stream, pos, &limits, &mut out);
                    if buf.is_empty() {
                        break;
                    }
                }
                Err(e) => {
                    out.push(Outcome::Error(e));
                    return out;
                }
            }
        }
    }
    // EOF.
    match dec.finish(&mut buf) {
        Ok(None) => assert!(buf.is_empty()),
        Ok(Some(m)) => {
            record(&mut buf, &m, stream, pos, &limits, &mut out);
            // A message completed by EOF ends the stream: nothing may follow it.
            assert!(buf.is_empty(), "bytes after an EOF-delimited message");
            if let Some(Outcome::Message { end, .. }) = out.last_mut() {
                *end = usize::MAX;
            }
            out.push(Outcome::Eof(Ok(true)));
        }
        Err(e) => out.push(Outcome::Eof(Err(e))),
    }
    out
}

/// `outcomes` as they are for the stream with `shift` bytes put in front of it.
fn shifted(outcomes: &[Outcome], shift: usize) -> Vec<Outcome> {
    outcomes
        .iter()
        .cloned()
        .map(|mut o| {
            if let Outcome::Message { end, .. } = &mut o
                && *end != usize::MAX
            {
                *end += shift;
            }
            o
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(control & 0x0f);
    let bytewise = control & 0x80 != 0;
    let (offsets, stream) = rest.split_at((2 * n).min(rest.len()));
    let interim = (control & 0x40 != 0).then(|| INTERIM[usize::from((control >> 4) & 0x3)]);
    // With interim responses in front, the stream fed is theirs and the input's; the split
    // points fall anywhere in it (inside the interim heads too).
    let prefixed;
    let fed: &[u8] = match interim {
        Some(i) => {
            prefixed = [i, stream].concat();
            &prefixed
        }
        None => stream,
    };
    let mut cuts: Vec<usize> = offsets
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (fed.len() + 1))
        .collect();
    cuts.sort_unstable();

    for limits in [Limits::NEXT, SMALL] {
        let whole = feed(fed, &[], limits);
        let split = feed(fed, &cuts, limits);
        assert_eq!(whole, split, "split at {cuts:?} decodes differently");
        if bytewise {
            let every: Vec<usize> = (0..fed.len()).collect();
            let bytes = feed(fed, &every, limits);
            assert_eq!(whole, bytes, "byte-by-byte feed decodes differently");
        }
        if let Some(i) = interim {
            // The interim responses change nothing but where the messages end.
            let plain = feed(stream, &[], limits);
            assert_eq!(
                whole,
                shifted(&plain, i.len()),
                "interim responses in front change the outcome"
            );
        }
    }
});
