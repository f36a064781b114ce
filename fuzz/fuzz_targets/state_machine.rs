//! The `Driver`, driven through its pull API like a transport drives it, against a server that
//! answers with canned Runtime API replies, cut or glued ones, or arbitrary bytes, and against
//! connection losses, failed connects and time that jumps.
//!
//! Input: `data[0]` picks the configuration (bits 0-1: `AWS_LAMBDA_MAX_CONCURRENCY` unset, 2, 3
//! or 8; bits 2-3: `Options::max_lanes` 1, 2, 3, 3; bit 4: graceful shutdown; bit 5: SnapStart;
//! bit 6: an invalid setting; bit 7: small limits (16-byte events, 64-byte responses, a 2 s
//! reconnect timeout, an ignored log level)). Then each operation is a byte (low 5 bits: what;
//! high 3 bits: which lane) with the operands it reads:
//!
//! - a transport step: answer the pending phase (`phase_done`, or `phase_failed` into a buffer
//!   that may be too small), or run the lane's handler: `submit` a response or an error (into a
//!   buffer that may be too small), or `start_stream`, then `Stream::start`/`chunk`/`finish`/
//!   `fail` and `stream_done` with any `StreamEnd` the transport could truthfully report;
//! - `poll_transmit` (full or too-small buffer) and `transmitted`, together or apart;
//! - server bytes for a lane: 36 canned replies (`/next` with valid, invalid, missing ids,
//!   bad deadlines and invocation ids, chunked, `Connection: close`, HTTP/1.0 until EOF, a head
//!   over 16 KiB, an event over the limit, interim `1xx` first; answers' replies 200, 202, 204,
//!   400, 403, 410, 413, 500, 302, chunked, until EOF; extension registrations; garbage, `101`),
//!   whole, cut, or with a second one glued after (unsolicited), or raw bytes from the input;
//! - `handle_eof`, `connection_lost`, `connect_failed`; time steps (`handle_timeout` at now plus a
//!   delta, or at `poll_timeout`); `shutdown`; a verb out of turn.
//!
//! After the program, the transport and the server cooperate until every lane is waiting on a
//! long poll, the runtime exited, or 64 rounds passed.
//!
//! Checks (the model is what a transport can see):
//! - nothing panics; `poll_action`'s actions come in an order the model allows (`Init` once,
//!   first; `BeforeSnapshot` only with SnapStart; `AfterRestore` only after a `/restore/next`
//!   reply; `Invoke` only on an invocation lane whose `/next` just completed; nothing after
//!   `Exit`, which comes once, for a reason that happened);
//! - every invocation (`Invoke`, or a `/next` the driver answers itself, announced by
//!   `Notice::InvalidInvocation`) is answered on the wire, to its request id (read from what the
//!   server sent on that lane) and echoing its invocation id: one answer per connection
//!   attempt, and in total one answer or one resend of it: the same bytes, on
//!   `Connection::New`, only after the connection was lost, never a third time, never for a
//!   stream. A fresh `/error` follows only what documents it (413, a response over the maximum
//!   or with a bad `Content-Type`, a stream lost before its first byte). Once the program ends
//!   and everything settles, no invocation is left unanswered unless the runtime exited;
//! - `poll_transmit` hands out nothing on a lane with a request outstanding (until its reply,
//!   its loss or its timeout), nothing after `Exit`, no `/next` on a lane with an invocation open
//!   or after `shutdown`, `Connection::Reuse` only on a connection that is open;
//! - `reading` and `context` agree with the model after every operation; bytes that arrive
//!   with nothing outstanding get `Input::Close`, bytes during a stream are held;
//! - a verb out of turn returns `WrongState` (or does nothing) and changes nothing observable;
//!   `BufferTooSmall { required }` changes nothing and `required` bytes are then enough, exactly;
//! - only answers time out, never before 10 s (400 ms after `shutdown`); after
//!   `handle_timeout(now)`, `poll_timeout` is never at or before `now`.
//!
//! Speed: every buffer lives in a thread-local and is reused, replies are assembled with
//! `extend_from_slice` (no formatting), requests are parsed with httparse into stack arrays.
//! `LAMINA_FUZZ_TRACE=1` prints the program as it runs.
#![no_main]

use std::cell::RefCell;

use lamina_core::error_type;
use lamina_core::request;
use lamina_core::{
    Action, Answer, Config, Connection, Driver, Exit, Id, Input, Instant, Lane, Notice, Now,
    Options, Reading, Stream, StreamEnd, StreamError, SubmitError, WrongState,
};
use libfuzzer_sys::fuzz_target;

fn trace_on() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("LAMINA_FUZZ_TRACE").is_some())
}

/// `LAMINA_FUZZ_TRACE_DRIVER=1` also prints the driver's state after each operation.
fn trace_driver() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("LAMINA_FUZZ_TRACE_DRIVER").is_some())
}

macro_rules! trace {
    ($($t:tt)*) => {
        if trace_on() {
            eprintln!($($t)*);
        }
    };
}

/// Lanes the driver can need: three invocation lanes and the extension lane.
const MAX_LANES: usize = 4;
const OUT_SIZE: usize = 16 * 1024;
/// `fed` stops recording past this (the provenance check is skipped then).
const FED_MAX: usize = 8 * 1024;
const START_UNIX_MS: u64 = 1_542_409_700_000;

const ID_PREFIX: &[u8] = b"8476a536-e9f4-11e8-9739-";

// ------------------------------------------------------------------------------------------
// The program.

struct Prog<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Prog<'_> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }
}

// ------------------------------------------------------------------------------------------
// Canned server replies, assembled without formatting.

fn dec(v: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(&digits[i..]);
}

fn hex(v: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    v.extend_from_slice(&digits[i..]);
}

fn next_reply(v: &mut Vec<u8>, id: u32, extra: &[&[u8]], body: &[u8]) {
    v.extend_from_slice(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: ",
    );
    v.extend_from_slice(ID_PREFIX);
    dec(v, u64::from(id));
    v.extend_from_slice(
        b"\r\nLambda-Runtime-Deadline-Ms: 1542409706888\r\n\
          Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n\
          Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n",
    );
    for e in extra {
        v.extend_from_slice(e);
    }
    v.extend_from_slice(b"Content-Length: ");
    dec(v, body.len() as u64);
    v.extend_from_slice(b"\r\n\r\n");
    v.extend_from_slice(body);
}

fn id_header(v: &mut Vec<u8>, id: u32) {
    v.extend_from_slice(b"Lambda-Runtime-Aws-Request-Id: ");
    v.extend_from_slice(ID_PREFIX);
    dec(v, u64::from(id));
    v.extend_from_slice(b"\r\n");
}

const CANNED: u8 = 36;

/// Appends canned reply `kind` (ids numbered `id`) to `v`.
fn canned(kind: u8, id: u32, v: &mut Vec<u8>) {
    const EVENT: &[u8] = b"{\"name\":\"World\"}";
    // The head over 16 KiB costs as much as a whole program: only `kind` 10 itself asks
    // for it, its other residues are a plain `/next`.
    let kind = match kind % CANNED {
        10 if kind != 10 => 0,
        k => k,
    };
    match kind {
        0 => next_reply(v, id, &[], EVENT),
        1 => next_reply(
            v,
            id,
            &[
                b"Lambda-Runtime-Client-Context: {\"client\":{\"installation_id\":\"i\",\"app_title\":\"t\"},\"custom\":{\"k\":\"v\"},\"env\":{}}\r\n",
                b"Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"us-east-1:1\",\"cognitoIdentityPoolId\":\"p\"}\r\n",
                b"Lambda-Runtime-Aws-Tenant-Id: tenant-1\r\n",
            ],
            b"{}",
        ),
        2 => next_reply(
            v,
            id,
            &[b"Lambda-Runtime-Invocation-Id: inv:0001.a_b\r\n"],
            b"[1,2,3]",
        ),
        3 => next_reply(v, id, &[b"Lambda-Runtime-Invocation-Id: bad id\r\n"], b"{}"),
        4 => next_reply(v, id, &[b"Connection: close\r\n"], b"{}"),
        5 => {
            v.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            id_header(v, id);
            v.extend_from_slice(
                b"Lambda-Runtime-Deadline-Ms: 600000\r\nTransfer-Encoding: chunked\r\n\r\n\
                  5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            );
        }
        6 => {
            v.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            id_header(v, id);
            v.extend_from_slice(b"Lambda-Runtime-Deadline-Ms: soon\r\nContent-Length: 2\r\n\r\n{}");
        }
        7 => v.extend_from_slice(
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: ../../init/error\r\n\
              Lambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 2\r\n\r\n{}",
        ),
        8 => v.extend_from_slice(
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 0\r\n\r\n",
        ),
        9 => {
            v.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            id_header(v, id);
            v.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        }
        10 => {
            // A head over 16 KiB whose id comes first: answered with /error.
            v.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            id_header(v, id);
            v.extend_from_slice(b"X-Pad: ");
            v.resize(v.len() + 16 * 1024 + 16, b'a');
            v.extend_from_slice(b"\r\n\r\n");
        }
        11 => {
            v.extend_from_slice(b"HTTP/1.0 200 OK\r\n");
            id_header(v, id);
            v.extend_from_slice(b"Lambda-Runtime-Deadline-Ms: 5000\r\n\r\nuntil eof");
        }
        12 => next_reply(
            v,
            id,
            &[],
            b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ),
        13 => {
            v.extend_from_slice(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n",
            );
            next_reply(v, id, &[], EVENT);
        }
        14 => next_reply(v, id, &[b"Lambda-Runtime-Deadline-Ms: 600000\r\n"], b"{}"),
        15 => v.extend_from_slice(
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n",
        ),
        16 => v.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        17 => v.extend_from_slice(
            b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ),
        18 => v.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n"),
        19 => v.extend_from_slice(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 62\r\n\r\n{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidId\"}\n",
        ),
        20 => v.extend_from_slice(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
        21 => v.extend_from_slice(b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n"),
        22 => v.extend_from_slice(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"),
        23 => v.extend_from_slice(
            b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ),
        24 => v.extend_from_slice(b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n"),
        25 => v.extend_from_slice(
            b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        ),
        26 => v.extend_from_slice(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
        ),
        27 => v.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"),
        28 => {
            v.extend_from_slice(b"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext-");
            dec(v, u64::from(id));
            v.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\n{}");
        }
        29 => v.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
        30 => v.extend_from_slice(
            b"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext id \x01\r\nContent-Length: 0\r\n\r\n",
        ),
        31 => v.extend_from_slice(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        32 => v.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
        33 => v.extend_from_slice(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
        ),
        34 => v.extend_from_slice(b"HTTP/1.0 202 Accepted\r\n\r\n{\"status\":\"OK\"}"),
        _ => {
            v.extend_from_slice(b"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext-");
            dec(v, u64::from(id));
            v.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
            v.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

// ------------------------------------------------------------------------------------------
// Requests, as a transport's peer reads them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Next,
    /// `/response` or `/error` for an invocation (or the head of a stream).
    Answer,
    InitError,
    RestoreError,
    RestoreNext,
    Register,
    ExtNext,
}

/// What the written request says, parsed with httparse.
struct Req<'b> {
    kind: Kind,
    /// For an answer: the request id in the path, and whether it is `/error`.
    id: &'b [u8],
    error: bool,
    content_length: Option<&'b [u8]>,
    error_type: Option<&'b [u8]>,
    invocation_id: Option<&'b [u8]>,
    extension_id: Option<&'b [u8]>,
    streaming: bool,
}

fn one<'b>(headers: &[httparse::Header<'b>], name: &str) -> Option<&'b [u8]> {
    let mut found = headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name));
    let first = found.next().map(|h| h.value);
    assert!(found.next().is_none(), "header {name} sent twice");
    first
}

fn parse_request(bytes: &[u8], whole: bool) -> Req<'_> {
    let mut headers = [httparse::EMPTY_HEADER; 24];
    let mut req = httparse::Request::new(&mut headers);
    let n = match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!(
            "request does not parse: {other:?}: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(600)])
        ),
    };
    let method = req.method.unwrap_or_default();
    let path = req.path.unwrap_or_default().as_bytes();
    let (kind, id, error) = match (method, path) {
        ("GET", b"/2018-06-01/runtime/invocation/next") => (Kind::Next, &b""[..], false),
        ("POST", b"/2018-06-01/runtime/init/error") => (Kind::InitError, &b""[..], true),
        ("POST", b"/2018-06-01/runtime/restore/error") => (Kind::RestoreError, &b""[..], true),
        ("GET", b"/2018-06-01/runtime/restore/next") => (Kind::RestoreNext, &b""[..], false),
        ("POST", b"/2020-01-01/extension/register") => (Kind::Register, &b""[..], false),
        ("GET", b"/2020-01-01/extension/event/next") => (Kind::ExtNext, &b""[..], false),
        ("POST", p) => {
            let rest = p
                .strip_prefix(b"/2018-06-01/runtime/invocation/")
                .unwrap_or_else(|| panic!("POST to {:?}", String::from_utf8_lossy(p)));
            if let Some(id) = rest.strip_suffix(b"/response") {
                (Kind::Answer, id, false)
            } else if let Some(id) = rest.strip_suffix(b"/error") {
                (Kind::Answer, id, true)
            } else {
                panic!("POST to {:?}", String::from_utf8_lossy(p))
            }
        }
        (m, p) => panic!("{m} {:?}", String::from_utf8_lossy(p)),
    };
    let hs = req.headers;
    assert_eq!(
        one(hs, "host"),
        Some(&b"127.0.0.1:9001"[..]),
        "the Host header"
    );
    let content_length = one(hs, "content-length");
    if whole {
        let body = bytes.len() - n;
        match kind {
            // A response's body follows the head (written by the transport).
            Kind::Answer if !error => assert_eq!(body, 0, "bytes after a /response head"),
            _ => assert_eq!(
                content_length.map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap()),
                body,
                "Content-Length"
            ),
        }
    }
    Req {
        kind,
        id,
        error,
        content_length,
        error_type: one(hs, "lambda-runtime-function-error-type"),
        invocation_id: one(hs, "lambda-runtime-invocation-id"),
        extension_id: one(hs, "lambda-extension-identifier"),
        streaming: one(hs, "lambda-runtime-function-response-mode") == Some(b"streaming"),
    }
}

fn after(t: Instant, ms: u64) -> Instant {
    Instant::from_millis(t.as_millis() + ms)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the server sent `id` on a lane that was sent `fed`: one of the canned replies'
/// ids (numbered up to `last`) proves it without a search; others are looked for.
fn from_server(id: &[u8], fed: &[u8], last: u32) -> bool {
    if let Some(n) = id.strip_prefix(ID_PREFIX)
        && !n.is_empty()
        && n.len() <= 10
        && n.iter().all(u8::is_ascii_digit)
        && n[0] != b'0'
        && n.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')) <= u64::from(last)
    {
        return true;
    }
    contains(fed, id)
}

// ------------------------------------------------------------------------------------------
// The model.

/// What the first write of an invocation's answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Not answered yet (the handler runs).
    Nothing,
    /// `/response` with this `Content-Length`.
    Response(u64),
    /// `/error` with this error type (the handler's, or one the driver reports itself).
    Error(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The handler has it: `submit` or `start_stream` are allowed.
    Handler,
    /// A stream is being written; `head` once its head was encoded, `ended` once its last
    /// chunk was.
    Streaming { head: bool, ended: bool },
    /// The answer is the driver's to send (submitted, a self-answer, a fresh `/error`).
    Answering,
}

#[derive(Debug, Clone)]
struct Inv {
    rid: Id,
    /// The invocation id to echo, when known (self-answers: only checked to be valid).
    inv_id: Option<Id>,
    known_inv_id: bool,
    stage: Stage,
    expect: Expect,
    /// Writes of the current answer (1, or 2 with the resend).
    writes: u8,
    /// The current answer is a stream (never resent).
    stream: bool,
    /// The connection was lost after the last write.
    lost: bool,
    /// An EOF ended the wait for the reply: it completed, or the answer is resent.
    maybe_done: bool,
    body: bool,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    kind: Kind,
    written: Option<Instant>,
    connection: Connection,
}

#[derive(Default)]
struct LaneModel {
    /// The lane's output buffer (kept between verbs, as the driver requires).
    out: Vec<u8>,
    /// What was read and kept.
    inbuf: Vec<u8>,
    /// Every byte the server sent on this lane since its last `/next` went out.
    fed: Vec<u8>,
    fed_overflow: bool,
    /// The first write of the current answer or report, for the resend.
    copy: Vec<u8>,
    sent: Option<Sent>,
    /// The transport holds an open connection.
    conn: bool,
    /// A `/next` reply just completed: an `Invoke` or an `InvalidInvocation` may follow.
    next_done: bool,
    inv: Option<Inv>,
    stream: Option<Stream>,
    /// Length `submit` said the answer is, when the buffer was given exactly `required`.
    exact_len: Option<usize>,
}

/// An init-time report (`/init/error` or `/restore/error`): one write, or one resend.
#[derive(Debug, Clone, Copy, Default)]
struct Report {
    writes: u8,
    lost: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init,
    BeforeSnapshot,
    AfterRestore,
}

struct Setup {
    config: Config,
    options: Options,
    snap: bool,
    invalid: bool,
}

struct Harness<'d, 'm> {
    d: Driver<'d>,
    m: &'m mut [LaneModel],
    cfg: Setup,
    now: Now,
    next_id: u32,
    scratch: Vec<u8>,
    /// The phase handed out and not answered yet.
    phase: Option<Phase>,
    init_seen: bool,
    init_done: bool,
    snapshot_done: bool,
    restored: bool,
    /// The registration's reply completed (graceful shutdown).
    registered: bool,
    exited: Option<Exit>,
    shutdown_at: Option<Instant>,
    phase_failed: Option<Phase>,
    report: Report,
    /// Every byte the server sent while a registration was outstanding (where the extension
    /// identifier comes from).
    ext_ids: Vec<u8>,
    ext_overflow: bool,
    /// Notices seen by the current verb.
    lost_ids: Vec<Id>,
    too_large_ids: Vec<Id>,
    timed_out_ids: Vec<Id>,
    over_max: bool,
    /// A `/restore/next` reply just completed.
    restore_done: bool,
    lanes: usize,
    inv_lanes: usize,
    ext_lane: Option<usize>,
}

const ERROR_TYPES: [&str; 6] = [
    "Handler.Error",
    error_type::RESPONSE_TOO_LARGE,
    "Evil\r\nX-Injected: 1",
    "",
    "  Padded.Type\t",
    error_type::INVALID_INVOCATION,
];
const CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "text/plain\r\nX-Injected: 1",
    "text/plain",
    "application/vnd.awslambda.http-integration-response",
    "",
];

/// The error type a header carries for `t`: the type, or the fallback when it cannot be one.
fn sendable(t: &'static str) -> &'static str {
    if request::is_header_value(t) {
        t
    } else {
        error_type::FALLBACK
    }
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

/// What a refused verb must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    reading: [Option<Reading>; MAX_LANES],
    context: [Option<Id>; MAX_LANES],
    timeout: Option<Instant>,
}

impl<'d, 'm> Harness<'d, 'm> {
    fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot {
            reading: [None; MAX_LANES],
            context: Default::default(),
            timeout: self.d.poll_timeout(),
        };
        for l in 0..self.lanes {
            s.reading[l] = Some(self.d.reading(l));
            s.context[l] = self.d.context(l).map(|c| c.request_id.clone());
        }
        s
    }

    fn lane(&self, b: u8) -> usize {
        usize::from(b >> 5) % self.lanes
    }

    // --------------------------------------------------------------------------------------
    // Actions.

    /// Takes every action and checks it against the model; `lane` is the lane the last verb
    /// was about, if any.
    fn drain(&mut self, lane: Option<usize>) {
        self.lost_ids.clear();
        self.too_large_ids.clear();
        self.timed_out_ids.clear();
        self.over_max = false;
        while let Some(a) = self.d.poll_action() {
            trace!("    action {a:?}");
            match a {
                Action::Log(n) => self.notice(n, lane),
                Action::Init => {
                    assert!(self.exited.is_none() && !self.init_seen, "Init again");
                    assert!(!self.cfg.invalid, "Init with an invalid setting");
                    self.init_seen = true;
                    self.phase = Some(Phase::Init);
                }
                Action::BeforeSnapshot => {
                    assert!(self.exited.is_none());
                    assert!(self.cfg.snap && self.init_done && !self.snapshot_done);
                    assert!(!self.cfg.options.graceful_shutdown || self.registered);
                    self.phase = Some(Phase::BeforeSnapshot);
                }
                Action::AfterRestore => {
                    assert!(self.exited.is_none());
                    assert!(
                        self.restore_done,
                        "AfterRestore without a /restore/next reply"
                    );
                    self.restore_done = false;
                    self.phase = Some(Phase::AfterRestore);
                    // Sockets do not survive a restore.
                    for m in self.m.iter_mut() {
                        m.conn = false;
                    }
                }
                Action::Invoke { lane: l, event } => {
                    assert!(self.exited.is_none(), "Invoke after Exit");
                    assert!(l < self.inv_lanes, "Invoke on lane {l}");
                    assert_eq!(lane, Some(l), "Invoke for another lane than fed");
                    let m = &mut self.m[l];
                    assert!(m.next_done, "Invoke without a /next reply");
                    m.next_done = false;
                    assert!(m.inv.is_none(), "Invoke while an invocation is open");
                    assert!(event.start <= event.end, "event {event:?}");
                    let ctx = self.d.context(l).expect("a context while invoking");
                    let rid = ctx.request_id.clone();
                    assert!(!rid.is_empty());
                    if !m.fed_overflow {
                        assert!(
                            from_server(rid.as_bytes(), &m.fed, self.next_id),
                            "request id not from the server"
                        );
                        if let Some(i) = &ctx.invocation_id {
                            assert!(contains(&m.fed, i.as_bytes()), "invocation id not sent");
                        }
                    }
                    m.inv = Some(Inv {
                        rid,
                        inv_id: ctx.invocation_id.clone(),
                        known_inv_id: true,
                        stage: Stage::Handler,
                        expect: Expect::Nothing,
                        writes: 0,
                        stream: false,
                        lost: false,
                        maybe_done: false,
                        body: false,
                    });
                }
                Action::Exit(e) => {
                    assert!(self.exited.is_none(), "Exit twice: {e:?}");
                    match e {
                        Exit::Shutdown => assert!(self.shutdown_at.is_some()),
                        Exit::InvalidConfig(_) => assert!(self.cfg.invalid),
                        Exit::InitFailed => assert!(matches!(
                            self.phase_failed,
                            Some(Phase::Init | Phase::BeforeSnapshot)
                        )),
                        Exit::RestoreFailed => {
                            assert_eq!(self.phase_failed, Some(Phase::AfterRestore))
                        }
                        Exit::ExtensionFailed => assert!(self.cfg.options.graceful_shutdown),
                        _ => {}
                    }
                    self.exited = Some(e);
                }
            }
        }
    }

    fn notice(&mut self, n: Notice, lane: Option<usize>) {
        if self.exited.is_some() {
            // The transport is gone: lines it would log after the exit are no answers.
            return;
        }
        match n {
            Notice::InvalidInvocation { request_id, .. } => {
                let l = lane.expect("InvalidInvocation from a verb on no lane");
                assert!(l < self.inv_lanes);
                let m = &mut self.m[l];
                assert!(m.next_done, "InvalidInvocation without a /next reply");
                m.next_done = false;
                assert!(m.inv.is_none(), "InvalidInvocation while one is open");
                assert!(Id::new(request_id.as_bytes()).as_ref() == Some(&request_id));
                if !m.fed_overflow {
                    assert!(
                        from_server(request_id.as_bytes(), &m.fed, self.next_id),
                        "id not from the server"
                    );
                }
                m.inv = Some(Inv {
                    rid: request_id,
                    inv_id: None,
                    known_inv_id: false,
                    stage: Stage::Answering,
                    expect: Expect::Error(error_type::INVALID_INVOCATION),
                    writes: 0,
                    stream: false,
                    lost: false,
                    maybe_done: false,
                    body: false,
                });
            }
            Notice::AnswerLost { request_id } => self.lost_ids.push(request_id),
            Notice::TooLarge { request_id } => self.too_large_ids.push(request_id),
            Notice::ReplyTimedOut { request_id, .. } => self.timed_out_ids.push(request_id),
            Notice::ResponseOverMax { .. } => self.over_max = true,
            _ => {}
        }
    }

    // --------------------------------------------------------------------------------------
    // Writing.

    /// `poll_transmit` on `lane` into the first `cap` bytes of its buffer (all of it for
    /// `None`), then `transmitted` when `write` says so.
    fn transmit(&mut self, lane: usize, cap: Option<usize>, write: bool) {
        let before = cap.map(|_| self.snapshot());
        let now = self.now;
        let m = &mut self.m[lane];
        let cap = cap.unwrap_or(m.out.len()).min(m.out.len());
        let r = self.d.poll_transmit(lane, now, &mut m.out[..cap]);
        trace!("  poll_transmit({lane}, cap {cap}) = {r:?}");
        let t = match r {
            Ok(Some(t)) => t,
            Ok(None) => {
                self.drain(Some(lane));
                return;
            }
            Err(e) => {
                assert!(
                    e.required > cap,
                    "BufferTooSmall {{ {} }} for {cap}",
                    e.required
                );
                if let Some(before) = before {
                    assert_eq!(self.snapshot(), before, "BufferTooSmall changed the driver");
                }
                let required = e.required;
                let m = &mut self.m[lane];
                if m.out.len() < required {
                    m.out.resize(required, 0);
                }
                let t = self
                    .d
                    .poll_transmit(lane, now, &mut m.out[..required])
                    .expect("`required` bytes are enough")
                    .expect("still due");
                assert_eq!(t.len, required, "`required` was not exact");
                t
            }
        };
        assert!(self.exited.is_none(), "a request after Exit");
        // The bytes are read from the lane's buffer, taken out while the model is updated.
        let out = std::mem::take(&mut self.m[lane].out);
        self.check_transmit(lane, t, &out);
        self.m[lane].out = out;
        self.drain(Some(lane));
        if write {
            self.written(lane);
        }
    }

    fn check_transmit(&mut self, lane: usize, t: lamina_core::Transmit, out: &[u8]) {
        let m = &mut self.m[lane];
        assert!(t.len <= out.len());
        assert!(
            m.sent.is_none(),
            "a request on lane {lane} while one is outstanding"
        );
        assert!(
            m.stream.is_none(),
            "a request on lane {lane} while it streams"
        );
        if t.connection == Connection::Reuse {
            assert!(m.conn, "Reuse of a connection that is closed");
        }
        if let Some(len) = m.exact_len.take() {
            assert_eq!(t.len, len, "the answer is not what submit encoded");
        }
        let bytes = &out[..t.len];
        let req = parse_request(bytes, !t.body);
        trace!(
            "    {:?} {} {:?}",
            req.kind,
            String::from_utf8_lossy(req.id),
            t.connection
        );
        match req.kind {
            Kind::Next => {
                assert!(lane < self.inv_lanes, "/next on lane {lane}");
                assert!(self.shutdown_at.is_none(), "/next after shutdown");
                assert!(self.init_done, "/next before init is done");
                assert!(!self.cfg.snap || self.restored, "/next before the restore");
                let m = &mut self.m[lane];
                if let Some(inv) = &m.inv {
                    assert!(inv.maybe_done, "/next while {inv:?} is open");
                    m.inv = None;
                }
                m.fed.clear();
                m.fed_overflow = false;
                assert!(!t.body);
            }
            Kind::Answer => self.answer_written(lane, &req, bytes, t.body, t.connection),
            Kind::InitError | Kind::RestoreError => {
                assert_eq!(lane, 0, "init-time report on lane {lane}");
                let want = match self.phase_failed {
                    Some(Phase::AfterRestore) => Kind::RestoreError,
                    Some(_) => Kind::InitError,
                    None => {
                        assert!(
                            self.cfg.invalid || self.cfg.options.graceful_shutdown,
                            "/init/error for nothing"
                        );
                        Kind::InitError
                    }
                };
                assert_eq!(req.kind, want);
                let et = req.error_type.expect("an error type");
                assert!(!et.is_empty());
                let m = &mut self.m[lane];
                let r = &mut self.report;
                match r.writes {
                    0 => {
                        m.copy.clear();
                        m.copy.extend_from_slice(bytes);
                    }
                    1 => {
                        assert!(r.lost, "report resent without a loss");
                        assert_eq!(
                            t.connection,
                            Connection::New,
                            "resent on the old connection"
                        );
                        assert_eq!(&m.copy[..], bytes, "a resend with other bytes");
                    }
                    _ => panic!("init-time report written a third time"),
                }
                r.writes += 1;
                r.lost = false;
            }
            Kind::RestoreNext => {
                assert_eq!(lane, 0);
                assert!(self.cfg.snap && self.snapshot_done && !self.restored);
            }
            Kind::Register => {
                assert_eq!(lane, 0);
                // Sent again after every loss: registering is idempotent.
                assert!(self.cfg.options.graceful_shutdown && self.init_done);
            }
            Kind::ExtNext => {
                assert_eq!(Some(lane), self.ext_lane, "event/next on lane {lane}");
                let id = req.extension_id.expect("Lambda-Extension-Identifier");
                assert!(
                    self.ext_overflow || contains(&self.ext_ids, id),
                    "an extension id the server never sent"
                );
            }
        }
        let m = &mut self.m[lane];
        m.sent = Some(Sent {
            kind: req.kind,
            written: None,
            connection: t.connection,
        });
        m.conn = true;
        m.inbuf.clear();
        m.next_done = false;
    }

    fn answer_written(
        &mut self,
        lane: usize,
        req: &Req<'_>,
        bytes: &[u8],
        body: bool,
        connection: Connection,
    ) {
        let max_response = self.cfg.config.max_response;
        let m = &mut self.m[lane];
        let inv = m
            .inv
            .as_mut()
            .unwrap_or_else(|| panic!("an answer with no invocation open on lane {lane}"));
        assert_eq!(req.id, inv.rid.as_bytes(), "an answer to another id");
        assert_eq!(inv.stage, Stage::Answering, "an answer in {:?}", inv.stage);
        match (&inv.inv_id, req.invocation_id) {
            (Some(want), Some(got)) => assert_eq!(got, want.as_bytes(), "invocation id"),
            (None, None) => {}
            (None, Some(got)) if !inv.known_inv_id => {
                assert!(Id::new(got).is_some());
                if !m.fed_overflow {
                    assert!(contains(&m.fed, got), "invocation id not from the server");
                }
            }
            (want, got) => panic!("invocation id {got:?}, want {want:?}"),
        }
        match inv.writes {
            0 => {
                match inv.expect {
                    Expect::Nothing => panic!("an answer nobody gave"),
                    Expect::Response(n) => {
                        assert!(!req.error && body, "not the response");
                        assert!(n <= max_response);
                        let cl = req.content_length.expect("Content-Length");
                        let mut want = Vec::new();
                        dec(&mut want, n);
                        assert_eq!(cl, &want[..], "Content-Length");
                    }
                    Expect::Error(t) => {
                        assert!(req.error && !body, "not an /error");
                        let got = req.error_type.expect("an error type");
                        assert_eq!(got, trim(sendable(t).as_bytes()), "error type");
                    }
                }
                m.copy.clear();
                m.copy.extend_from_slice(bytes);
                inv.body = body;
            }
            1 => {
                assert!(!inv.stream, "a stream resent");
                assert!(inv.lost, "an answer resent without a loss: {inv:?}");
                assert_eq!(connection, Connection::New, "resent on the old connection");
                assert_eq!(&m.copy[..], bytes, "a resend with other bytes");
                assert_eq!(inv.body, body);
            }
            _ => panic!("an answer written a third time: {inv:?}"),
        }
        inv.writes += 1;
        inv.lost = false;
        inv.maybe_done = false;
    }

    fn written(&mut self, lane: usize) {
        let now = self.now.instant;
        trace!("  transmitted({lane})");
        match &mut self.m[lane].sent {
            Some(Sent { written, .. }) if written.is_none() => {
                *written = Some(now);
                self.d.transmitted(lane, self.now);
            }
            _ => {
                let before = self.snapshot();
                self.d.transmitted(lane, self.now);
                if self.exited.is_none() {
                    assert_eq!(self.snapshot(), before, "transmitted with nothing to write");
                }
            }
        }
        self.drain(Some(lane));
    }

    // --------------------------------------------------------------------------------------
    // Reading.

    /// The server sends `self.scratch` on `lane`.
    fn serve(&mut self, lane: usize) {
        let m = &mut self.m[lane];
        if matches!(
            m.sent,
            Some(Sent {
                kind: Kind::Register,
                ..
            })
        ) {
            if self.ext_ids.len() + self.scratch.len() <= FED_MAX {
                self.ext_ids.extend_from_slice(&self.scratch);
            } else {
                self.ext_overflow = true;
            }
        }
        if m.fed.len() + self.scratch.len() <= FED_MAX {
            m.fed.extend_from_slice(&self.scratch);
        } else {
            m.fed_overflow = true;
        }
        m.inbuf.extend_from_slice(&self.scratch);
        self.feed(lane);
    }

    fn feed(&mut self, lane: usize) {
        let now = self.now;
        let m = &mut self.m[lane];
        let len = m.inbuf.len();
        let input = self.d.handle_input(lane, &mut m.inbuf, now);
        trace!("  handle_input({lane}, {len} bytes) = {input:?}");
        if self.exited.is_some() {
            // The model stops at the exit; the driver only has to stay sane.
            match input {
                Input::NeedMore { keep } => {
                    assert!(keep <= len);
                    m.inbuf.truncate(keep);
                }
                _ => {
                    m.inbuf.clear();
                    m.sent = None;
                }
            }
            self.drain(Some(lane));
            return;
        }
        if m.stream.is_some() {
            assert_eq!(
                input,
                Input::NeedMore { keep: len },
                "bytes during a stream"
            );
            self.drain(Some(lane));
            return;
        }
        let Some(sent) = m.sent else {
            assert_eq!(input, Input::Close, "bytes with nothing outstanding");
            m.inbuf.clear();
            m.conn = false;
            self.drain(Some(lane));
            return;
        };
        match input {
            Input::NeedMore { keep } => {
                assert!(keep <= len, "keep {keep} > {len}");
                m.inbuf.truncate(keep);
                self.drain(Some(lane));
            }
            Input::Done | Input::Close => {
                m.inbuf.clear();
                if input == Input::Close {
                    m.conn = false;
                }
                self.replied(lane, sent, false);
            }
        }
    }

    /// The reply to `sent` on `lane` ended the wait (complete, unreadable, or at EOF when
    /// `eof`: complete or lost).
    fn replied(&mut self, lane: usize, sent: Sent, eof: bool) {
        let m = &mut self.m[lane];
        m.sent = None;
        match sent.kind {
            Kind::Next => m.next_done = true,
            Kind::RestoreNext => self.restore_done = true,
            Kind::Register => self.registered = true,
            _ => {}
        }
        self.drain(Some(lane));
        self.next_done_settled(lane);
        self.restore_done = false;
        if self.exited.is_some() {
            return;
        }
        let m = &mut self.m[lane];
        match sent.kind {
            Kind::Answer => {
                let inv = m
                    .inv
                    .as_mut()
                    .expect("an invocation for the answer's reply");
                if self.lost_ids.contains(&inv.rid) {
                    assert!(
                        eof && (inv.writes == 2 || inv.stream),
                        "AnswerLost: {inv:?}"
                    );
                    m.inv = None;
                } else if self.too_large_ids.contains(&inv.rid) {
                    assert!(inv.body || inv.stream, "413 taken for more than a response");
                    Self::fresh(inv, error_type::RESPONSE_TOO_LARGE);
                } else if eof && !inv.stream {
                    // Complete at the EOF, or lost: the resend, if any, tells.
                    inv.lost = true;
                    inv.maybe_done = true;
                } else {
                    m.inv = None;
                }
            }
            Kind::InitError | Kind::RestoreError if eof => self.report.lost = true,
            _ => {}
        }
    }

    /// After a `/next` reply, `next_done` is for the `Invoke` or `InvalidInvocation` of the
    /// same verb only.
    fn next_done_settled(&mut self, lane: usize) {
        self.m[lane].next_done = false;
    }

    /// A fresh `/error` of type `t` is the invocation's answer now.
    fn fresh(inv: &mut Inv, t: &'static str) {
        inv.stage = Stage::Answering;
        inv.expect = Expect::Error(t);
        inv.writes = 0;
        inv.stream = false;
        inv.lost = false;
        inv.maybe_done = false;
    }

    fn eof(&mut self, lane: usize) {
        let now = self.now;
        let m = &mut self.m[lane];
        let mut buf = std::mem::take(&mut m.inbuf);
        self.d.handle_eof(lane, &mut buf, now);
        trace!("  handle_eof({lane}, {} bytes)", buf.len());
        buf.clear();
        let m = &mut self.m[lane];
        m.inbuf = buf;
        m.conn = false;
        match m.sent {
            Some(sent) if m.stream.is_none() => self.replied(lane, sent, true),
            _ => self.drain(Some(lane)),
        }
    }

    /// The connection of `lane` broke (`connect`: could not be opened, so the request handed
    /// out on it was not sent: only said when true, for a request on a new connection not
    /// written yet).
    fn lost(&mut self, lane: usize, connect: bool) {
        let now = self.now;
        if connect
            && !matches!(
                self.m[lane].sent,
                Some(Sent {
                    written: None,
                    connection: Connection::New,
                    ..
                })
            )
        {
            return;
        }
        if connect {
            self.d.connect_failed(lane, now);
        } else {
            self.d.connection_lost(lane, now);
        }
        trace!(
            "  {}({lane})",
            if connect {
                "connect_failed"
            } else {
                "connection_lost"
            }
        );
        let m = &mut self.m[lane];
        m.conn = false;
        m.inbuf.clear();
        let sent = m.sent.take();
        self.drain(Some(lane));
        let m = &mut self.m[lane];
        match sent.map(|s| s.kind) {
            Some(Kind::Answer | Kind::InitError | Kind::RestoreError) if connect => {
                // Nothing went out: the hand-out was no write.
                if self.exited.is_some() {
                } else if sent.is_some_and(|s| s.kind == Kind::Answer) {
                    let inv = m.inv.as_mut().expect("an invocation for the answer");
                    assert!(
                        !self.lost_ids.contains(&inv.rid),
                        "AnswerLost for a failed connect"
                    );
                    inv.writes -= 1;
                    inv.lost = inv.writes > 0;
                } else {
                    self.report.writes -= 1;
                    self.report.lost = self.report.writes > 0;
                }
            }
            Some(Kind::Answer) => {
                let inv = m.inv.as_mut().expect("an invocation for the answer");
                if self.exited.is_some() {
                } else if inv.writes >= 2 || inv.stream {
                    assert!(
                        self.lost_ids.contains(&inv.rid),
                        "no AnswerLost for {inv:?}"
                    );
                    m.inv = None;
                } else {
                    assert!(
                        !self.lost_ids.contains(&inv.rid),
                        "AnswerLost before the resend"
                    );
                    inv.lost = true;
                }
            }
            Some(Kind::InitError | Kind::RestoreError) => self.report.lost = true,
            _ => {}
        }
    }

    // --------------------------------------------------------------------------------------
    // The handler and the phases.

    fn text<'p>(p: &'p mut Prog<'_>) -> std::borrow::Cow<'p, str> {
        let n = usize::from(p.byte() % 48);
        String::from_utf8_lossy(p.bytes(n))
    }

    fn cap(&self, p: &mut Prog<'_>, small: bool) -> usize {
        if small {
            usize::from(p.byte()) * 4
        } else {
            OUT_SIZE
        }
    }

    /// The step the current state calls for on `lane`: a phase, or the lane's handler.
    fn step(&mut self, lane: usize, p: &mut Prog<'_>) {
        if self.exited.is_some() {
            return;
        }
        let choice = p.byte();
        if let Some(phase) = self.phase {
            return self.answer_phase(phase, choice, p);
        }
        let Some(inv) = &self.m[lane].inv else {
            return;
        };
        match inv.stage {
            Stage::Handler => self.handle(lane, choice, p),
            Stage::Streaming { .. } => self.stream_step(lane, choice, p),
            Stage::Answering => {}
        }
    }

    fn answer_phase(&mut self, phase: Phase, choice: u8, p: &mut Prog<'_>) {
        if choice % 8 != 7 {
            trace!("  phase_done() in {phase:?}");
            self.d
                .phase_done()
                .expect("phase_done in an announced phase");
            self.phase = None;
            match phase {
                Phase::Init => self.init_done = true,
                Phase::BeforeSnapshot => self.snapshot_done = true,
                Phase::AfterRestore => self.restored = true,
            }
            self.drain(Some(0));
            return;
        }
        let t = ERROR_TYPES[usize::from(p.byte()) % ERROR_TYPES.len()];
        let small = p.byte() & 1 != 0;
        let cap = self.cap(p, small);
        let msg = Self::text(p);
        let before = self.snapshot();
        trace!("  phase_failed({t:?}, {msg:?}, cap {cap}) in {phase:?}");
        let m = &mut self.m[0];
        let r = self.d.phase_failed(t, &msg, &mut m.out[..cap]);
        let r = match r {
            Err(SubmitError::BufferTooSmall { required }) => {
                assert!(required > cap);
                assert_eq!(self.snapshot(), before, "BufferTooSmall changed the driver");
                let m = &mut self.m[0];
                m.exact_len = Some(required);
                self.d.phase_failed(t, &msg, &mut m.out[..required])
            }
            r => r,
        };
        r.expect("phase_failed in an announced phase");
        self.phase = None;
        self.phase_failed = Some(phase);
        self.drain(Some(0));
    }

    fn handle(&mut self, lane: usize, choice: u8, p: &mut Prog<'_>) {
        let small = choice & 0x80 != 0;
        match choice % 4 {
            0 | 1 => {
                let ct = CONTENT_TYPES[usize::from(p.byte()) % CONTENT_TYPES.len()];
                let len = match p.byte() % 4 {
                    0 => 0,
                    1 => u64::from(p.byte()),
                    2 => u64::from(p.u16()),
                    _ => u64::MAX - u64::from(p.byte()),
                };
                let expect = if !request::is_header_value(ct) {
                    Expect::Error(error_type::INVALID_RESPONSE)
                } else if len > self.cfg.config.max_response {
                    Expect::Error(error_type::RESPONSE_TOO_LARGE)
                } else {
                    Expect::Response(len)
                };
                let cap = self.cap(p, small);
                self.submit(
                    lane,
                    Answer::Response {
                        content_type: ct,
                        len,
                    },
                    expect,
                    cap,
                );
            }
            2 => {
                let t = ERROR_TYPES[usize::from(p.byte()) % ERROR_TYPES.len()];
                let cap = self.cap(p, small);
                let msg = Self::text(p);
                let answer = Answer::Error {
                    error_type: t,
                    message: &msg,
                };
                self.submit(lane, answer, Expect::Error(t), cap);
            }
            _ => {
                let s = self
                    .d
                    .start_stream(lane)
                    .expect("start_stream while invoking");
                trace!("  start_stream({lane}) on {:?}", s.connection());
                let m = &mut self.m[lane];
                if s.connection() == Connection::Reuse {
                    assert!(m.conn, "a stream on a closed connection");
                }
                m.conn = true;
                m.inbuf.clear();
                m.stream = Some(s);
                let inv = m.inv.as_mut().expect("open");
                inv.stage = Stage::Streaming {
                    head: false,
                    ended: false,
                };
                self.drain(Some(lane));
            }
        }
    }

    fn submit(&mut self, lane: usize, answer: Answer<'_>, expect: Expect, cap: usize) {
        let before = self.snapshot();
        trace!("  submit({lane}, {answer:?}, cap {cap})");
        let m = &mut self.m[lane];
        let r = match self.d.submit(lane, answer, &mut m.out[..cap]) {
            Err(SubmitError::BufferTooSmall { required }) => {
                assert!(required > cap);
                assert_eq!(self.snapshot(), before, "BufferTooSmall changed the driver");
                let m = &mut self.m[lane];
                m.exact_len = Some(required);
                self.d.submit(lane, answer, &mut m.out[..required])
            }
            r => r,
        };
        r.expect("submit while invoking");
        let m = &mut self.m[lane];
        let inv = m.inv.as_mut().expect("open");
        inv.stage = Stage::Answering;
        inv.expect = expect;
        if let Expect::Error(_) = expect {
            if matches!(answer, Answer::Response { .. }) {
                // Reported by the driver: encoded at transmit time.
                m.exact_len = None;
            }
        }
        self.drain(Some(lane));
        let reported_over = expect == Expect::Error(error_type::RESPONSE_TOO_LARGE)
            && matches!(answer, Answer::Response { .. });
        assert_eq!(self.over_max, reported_over, "ResponseOverMax notice");
    }

    fn stream_step(&mut self, lane: usize, choice: u8, p: &mut Prog<'_>) {
        let now = self.now;
        let small = choice & 0x80 != 0;
        let cap = self.cap(p, small);
        let m = &mut self.m[lane];
        let Some(inv) = m.inv.as_mut() else { return };
        let Stage::Streaming { head, ended } = inv.stage else {
            return;
        };
        let s = m.stream.as_mut().expect("a stream");
        let out = &mut m.out[..cap];
        match choice % 8 {
            // The head, then chunks, then the end (or the error trailers).
            0..=3 if !head => {
                let ct = CONTENT_TYPES[usize::from(p.byte()) % CONTENT_TYPES.len()];
                let r = s.start(ct, out);
                trace!("  stream start({ct:?}, cap {cap}) = {r:?}");
                let n = match r {
                    Ok(n) => n,
                    Err(StreamError::BufferTooSmall { required }) => {
                        assert!(required > cap);
                        assert!(!s.is_started());
                        let n = s.start(ct, &mut m.out[..required]).expect("required");
                        assert_eq!(n, required);
                        n
                    }
                    Err(StreamError::InvalidContentType) => {
                        assert!(!request::is_header_value(ct));
                        assert!(!s.is_started());
                        return;
                    }
                    Err(e) => panic!("stream start: {e:?}"),
                };
                let req = parse_request(&m.out[..n], false);
                assert_eq!(req.kind, Kind::Answer);
                assert!(!req.error && req.streaming, "not a streamed /response");
                assert_eq!(req.id, inv.rid.as_bytes(), "a stream to another id");
                assert_eq!(req.invocation_id, inv.inv_id.as_ref().map(Id::as_bytes));
                assert_eq!(inv.writes, 0, "a stream after an answer");
                inv.writes = 1;
                inv.stream = true;
                inv.stage = Stage::Streaming {
                    head: true,
                    ended: false,
                };
            }
            0..=2 if !ended => {
                let len = usize::from(p.u16());
                let r = s.chunk(len, out);
                let n = match r {
                    Ok(n) => n,
                    Err(StreamError::BufferTooSmall { required }) => {
                        assert!(required > cap);
                        let n = s.chunk(len, &mut m.out[..required]).expect("required");
                        assert_eq!(n, required);
                        n
                    }
                    Err(e) => panic!("chunk: {e:?}"),
                };
                self.scratch.clear();
                if len > 0 {
                    hex(&mut self.scratch, len as u64);
                    self.scratch.extend_from_slice(b"\r\n");
                }
                assert_eq!(&m.out[..n], &self.scratch[..], "chunk size line");
            }
            3 if !ended => {
                let r = s.finish(out);
                let n = match r {
                    Ok(n) => n,
                    Err(StreamError::BufferTooSmall { required }) => {
                        assert!(required > cap);
                        s.finish(&mut m.out[..required]).expect("required")
                    }
                    Err(e) => panic!("finish: {e:?}"),
                };
                assert_eq!(&m.out[..n], b"0\r\n\r\n");
                assert_eq!(s.finish(&mut m.out[..]), Err(StreamError::WrongState));
                inv.stage = Stage::Streaming {
                    head: true,
                    ended: true,
                };
            }
            4 if head && !ended => {
                let t = ERROR_TYPES[usize::from(p.byte()) % ERROR_TYPES.len()];
                let msg = Self::text(p);
                let n = match s.fail(t, &msg, out) {
                    Ok(n) => n,
                    Err(StreamError::BufferTooSmall { required }) => {
                        assert!(required > cap);
                        let n = s.fail(t, &msg, &mut m.out[..required]).expect("required");
                        assert_eq!(n, required);
                        n
                    }
                    Err(e) => panic!("fail: {e:?}"),
                };
                let bytes = &m.out[..n];
                assert!(bytes.starts_with(b"0\r\n"));
                let mut trailers = [httparse::EMPTY_HEADER; 4];
                match httparse::parse_headers(&bytes[3..], &mut trailers) {
                    Ok(httparse::Status::Complete((len, parsed))) => {
                        assert_eq!(3 + len, n, "bytes after the trailers");
                        assert_eq!(
                            one(parsed, "lambda-runtime-function-error-type"),
                            Some(trim(sendable(t).as_bytes()))
                        );
                    }
                    other => panic!("trailers do not parse: {other:?}"),
                }
                inv.stage = Stage::Streaming {
                    head: true,
                    ended: true,
                };
            }
            _ => {
                // The stream ends, as the transport truthfully can say it did.
                let end = match (head, ended, p.byte() % 3) {
                    (false, _, 0) => StreamEnd::NotStarted,
                    (false, _, _) => StreamEnd::Broken { delivered: false },
                    (true, true, 0 | 1) => StreamEnd::Finished,
                    (true, _, b) => StreamEnd::Broken { delivered: b != 2 },
                };
                m.stream = None;
                self.d.stream_done(lane, end, now);
                trace!("  stream_done({lane}, {end:?})");
                let m = &mut self.m[lane];
                let inv = m.inv.as_mut().expect("open");
                match end {
                    StreamEnd::NotStarted => {
                        inv.stage = Stage::Handler;
                        inv.writes = 0;
                        inv.stream = false;
                    }
                    StreamEnd::Finished => {
                        inv.stage = Stage::Answering;
                        m.sent = Some(Sent {
                            kind: Kind::Answer,
                            written: Some(now.instant),
                            connection: Connection::Reuse,
                        });
                    }
                    StreamEnd::Broken { delivered: false } => {
                        m.conn = false;
                        m.inbuf.clear();
                        Self::fresh(inv, error_type::STREAM_LOST);
                    }
                    StreamEnd::Broken { delivered: true } => {
                        m.conn = false;
                        m.inbuf.clear();
                    }
                }
                self.drain(Some(lane));
                if end == (StreamEnd::Broken { delivered: true }) {
                    let m = &mut self.m[lane];
                    let rid = m.inv.as_ref().map(|i| i.rid.clone());
                    assert!(
                        rid.is_some_and(|r| self.lost_ids.contains(&r)),
                        "no AnswerLost for a broken stream"
                    );
                    m.inv = None;
                }
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // Time and SIGTERM.

    fn advance(&mut self, to: Instant) {
        let to = to.max(self.now.instant);
        let delta = self.now.instant.millis_until(to);
        self.now = Now {
            instant: to,
            unix_ms: self.now.unix_ms + delta,
        };
        self.d.handle_timeout(self.now);
        trace!("  handle_timeout({})", to.as_millis());
        self.drain(None);
        if let Some(t) = self.d.poll_timeout() {
            assert!(
                t > to,
                "poll_timeout {t:?} not after handle_timeout({to:?})"
            );
        }
        let exited = self.exited.is_some();
        for lane in 0..self.lanes {
            let reading = self.d.reading(lane);
            let m = &mut self.m[lane];
            let Some(sent) = m.sent else { continue };
            if exited || reading != Reading::Nothing {
                continue;
            }
            // The wait was given up.
            let written = sent.written.expect("only a written request times out");
            let bound = match self.shutdown_at {
                Some(s) => (written.as_millis() + 10_000).min(written.max(s).as_millis() + 400),
                None => written.as_millis() + 10_000,
            };
            assert!(
                to.as_millis() >= bound,
                "{:?} given up at {} (written at {})",
                sent.kind,
                to.as_millis(),
                written.as_millis()
            );
            m.sent = None;
            m.conn = false;
            m.inbuf.clear();
            match sent.kind {
                Kind::Answer => {
                    let inv = m.inv.take().expect("the answer's invocation");
                    assert!(self.timed_out_ids.contains(&inv.rid), "no ReplyTimedOut");
                }
                Kind::InitError | Kind::RestoreError | Kind::Register => {}
                k => panic!("{k:?} timed out: long polls never do"),
            }
        }
    }

    fn shutdown(&mut self) {
        trace!("  shutdown()");
        self.d.shutdown(self.now);
        if self.shutdown_at.is_none() {
            self.shutdown_at = Some(self.now.instant);
        }
        self.drain(None);
        if self.exited.is_some() {
            return;
        }
        // Long polls are dropped at once.
        for m in self.m.iter_mut() {
            if matches!(
                m.sent,
                Some(Sent {
                    kind: Kind::Next | Kind::ExtNext,
                    ..
                })
            ) {
                m.sent = None;
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // Verbs out of turn.

    fn out_of_turn(&mut self, p: &mut Prog<'_>) {
        let b = p.byte();
        if self.exited.is_some() {
            // The model stops at the exit (the lanes may still take a late reply).
            return;
        }
        // Any lane, including some that do not exist.
        let lane = usize::from(b >> 4) % (self.lanes + 2);
        let now = self.now;
        let in_range = lane < self.lanes;
        let m = in_range.then(|| &self.m[lane]);
        // The lane's step alone decides (an exit stops the transport, not the lanes).
        let handler = m
            .and_then(|m| m.inv.as_ref())
            .is_some_and(|i| i.stage == Stage::Handler);
        let phase = self.phase.is_some() && self.exited.is_none();
        let before = self.snapshot();
        let mut out = [0u8; 512];
        match b % 8 {
            0 if !handler => {
                let answer = Answer::Error {
                    error_type: "E",
                    message: "m",
                };
                assert_eq!(
                    self.d.submit(lane, answer, &mut out),
                    Err(SubmitError::WrongState)
                );
            }
            1 if !handler => assert!(self.d.start_stream(lane).is_err()),
            2 if !phase => assert_eq!(self.d.phase_done(), Err(WrongState)),
            3 if !phase => assert_eq!(
                self.d.phase_failed("E", "m", &mut out),
                Err(SubmitError::WrongState)
            ),
            4 if m.is_none_or(|m| m.stream.is_none()) => {
                let end = match b & 3 {
                    0 => StreamEnd::NotStarted,
                    1 => StreamEnd::Finished,
                    2 => StreamEnd::Broken { delivered: false },
                    _ => StreamEnd::Broken { delivered: true },
                };
                self.d.stream_done(lane, end, now);
            }
            5 if m.is_none_or(|m| !matches!(m.sent, Some(Sent { written: None, .. }))) => {
                self.d.transmitted(lane, now)
            }
            6 if !in_range => {
                let mut buf = *b"HTTP/1.1 200 OK\r\n\r\n";
                assert_eq!(self.d.handle_input(lane, &mut buf, now), Input::Close);
                assert_eq!(self.d.poll_transmit(lane, now, &mut out), Ok(None));
                assert!(self.d.context(lane).is_none());
                assert_eq!(self.d.reading(lane), Reading::Nothing);
            }
            7 if !in_range => {
                self.d.handle_eof(lane, &mut [], now);
                self.d.connection_lost(lane, now);
            }
            _ => return,
        }
        trace!("  out of turn: {} on lane {lane}", b % 8);
        assert_eq!(
            self.snapshot(),
            before,
            "a verb out of turn changed the driver"
        );
        // Refused verbs log nothing and do nothing.
        let mut n = 0;
        while let Some(a) = self.d.poll_action() {
            // `connect_failed`-like verbs are not in this list; nothing at all is expected.
            n += 1;
            panic!("a verb out of turn produced {a:?} ({n})");
        }
    }

    // --------------------------------------------------------------------------------------
    // The model and the driver agree.

    fn invariants(&self) {
        for lane in 0..self.lanes {
            let m = &self.m[lane];
            let reading = self.d.reading(lane);
            if self.exited.is_some() {
                continue;
            }
            let want = match (&m.sent, &m.stream) {
                (_, Some(_)) => Reading::Later,
                (
                    Some(Sent {
                        kind: Kind::Next, ..
                    }),
                    None,
                ) => Reading::Event,
                (Some(_), None) => Reading::Reply,
                (None, None) => Reading::Nothing,
            };
            assert_eq!(reading, want, "lane {lane}: {:?}", m.sent);
            let ctx = self.d.context(lane);
            match &m.inv {
                Some(inv) if matches!(inv.stage, Stage::Handler | Stage::Streaming { .. }) => {
                    let c = ctx.expect("a context while the handler has the invocation");
                    assert_eq!(c.request_id, inv.rid, "the context changed");
                }
                _ => assert!(ctx.is_none(), "a context with no invocation in hand"),
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // The program, then everything settles.

    fn run(&mut self, p: &mut Prog<'_>) {
        self.drain(None);
        let mut ops = 0;
        while !p.done() && ops < 256 {
            ops += 1;
            let op = p.byte();
            let lane = self.lane(op);
            trace!(
                "op {} lane {lane} at {}",
                op & 0x1f,
                self.now.instant.as_millis()
            );
            match op & 0x1f {
                0..=3 => self.step(lane, p),
                4..=6 => {
                    let write = p.byte() & 7 != 0;
                    self.transmit(lane, None, write);
                }
                7 => {
                    let cap = usize::from(p.byte()) * 2;
                    self.transmit(lane, Some(cap), true);
                }
                8 => self.written(lane),
                9..=12 => {
                    let kind = p.byte();
                    self.next_id += 1;
                    self.scratch.clear();
                    canned(kind, self.next_id, &mut self.scratch);
                    self.serve(lane);
                }
                13 => {
                    // Cut short.
                    let kind = p.byte();
                    self.next_id += 1;
                    self.scratch.clear();
                    canned(kind, self.next_id, &mut self.scratch);
                    let cut = usize::from(p.u16()) % (self.scratch.len() + 1);
                    self.scratch.truncate(cut);
                    self.serve(lane);
                }
                14 => {
                    // Two glued: the second is unsolicited.
                    let (a, b) = (p.byte(), p.byte());
                    self.scratch.clear();
                    self.next_id += 1;
                    canned(a, self.next_id, &mut self.scratch);
                    self.next_id += 1;
                    canned(b, self.next_id, &mut self.scratch);
                    self.serve(lane);
                }
                15 => {
                    let n = usize::from(p.byte());
                    self.scratch.clear();
                    let bytes = p.bytes(n);
                    self.scratch.extend_from_slice(bytes);
                    self.serve(lane);
                }
                16 | 17 => self.eof(lane),
                18 => self.lost(lane, false),
                19 => self.lost(lane, true),
                20..=22 => {
                    let ms = u64::from(p.byte());
                    self.advance(after(self.now.instant, ms));
                }
                23 => {
                    let ms = u64::from(p.byte()) * 100;
                    self.advance(after(self.now.instant, ms));
                }
                24 | 25 => {
                    let extra = u64::from(p.byte() % 3);
                    let to = self.d.poll_timeout().unwrap_or(self.now.instant);
                    self.advance(after(to, extra));
                }
                26 => self.shutdown(),
                _ => self.out_of_turn(p),
            }
            self.invariants();
            if trace_driver() {
                eprintln!("      {:?}", self.d);
            }
            if self.exited.is_some() {
                return self.after_exit();
            }
        }
        self.settle();
    }

    /// The transport stops at `Exit` (it runs the shutdown hook and exits): nothing more is
    /// due, on any lane, and no timer is pending. (Feeding a lane bytes after the exit is left
    /// out: a late `/restore/next` or registration reply brings the driver back from `Exit`,
    /// which no transport does; see fuzz/README.md.)
    fn after_exit(&mut self) {
        for lane in 0..self.lanes {
            let now = self.now;
            let m = &mut self.m[lane];
            assert_eq!(
                self.d.poll_transmit(lane, now, &mut m.out[..]),
                Ok(None),
                "a request after Exit"
            );
        }
        assert_eq!(self.d.poll_timeout(), None, "a timer after Exit");
        while let Some(a) = self.d.poll_action() {
            assert!(matches!(a, Action::Log(_)), "{a:?} after Exit");
        }
    }

    /// A cooperative transport and server, until every lane waits on a long poll.
    fn settle(&mut self) {
        trace!("settle");
        for _ in 0..64 {
            if self.exited.is_some() {
                return self.after_exit();
            }
            let mut progress = false;
            if let Some(phase) = self.phase {
                self.answer_phase(phase, 0, &mut Prog { data: &[], pos: 0 });
                progress = true;
            }
            for lane in 0..self.lanes {
                if self.exited.is_some() {
                    return self.after_exit();
                }
                let m = &self.m[lane];
                if m.stream.is_some() {
                    // Broken before any byte, or finished.
                    let stage = m.inv.as_ref().map(|i| i.stage);
                    let choice = match stage {
                        Some(Stage::Streaming {
                            head: true,
                            ended: true,
                        }) => 7,
                        Some(Stage::Streaming { head: true, .. }) => 3,
                        _ => 7,
                    };
                    self.stream_step(lane, choice, &mut Prog { data: &[1], pos: 0 });
                    progress = true;
                    continue;
                }
                if let Some(inv) = &m.inv
                    && inv.stage == Stage::Handler
                {
                    self.handle(
                        lane,
                        0,
                        &mut Prog {
                            data: &[0, 1, 2],
                            pos: 0,
                        },
                    );
                    progress = true;
                    continue;
                }
                match m.sent {
                    Some(Sent { written: None, .. }) => {
                        self.written(lane);
                        progress = true;
                    }
                    Some(Sent {
                        kind: Kind::Next | Kind::ExtNext,
                        ..
                    }) => {}
                    Some(Sent { kind, .. }) => {
                        if !self.m[lane].inbuf.is_empty() {
                            self.eof(lane);
                        } else {
                            self.scratch.clear();
                            self.next_id += 1;
                            let reply = match kind {
                                Kind::Register => 28,
                                Kind::RestoreNext => 16,
                                _ => 15,
                            };
                            canned(reply, self.next_id, &mut self.scratch);
                            self.serve(lane);
                        }
                        progress = true;
                    }
                    None => {
                        let before = self.m[lane].sent.is_some();
                        self.transmit(lane, None, true);
                        progress |= self.m[lane].sent.is_some() != before;
                    }
                }
                self.invariants();
            }
            if !progress {
                match self.d.poll_timeout() {
                    Some(t) => self.advance(t),
                    None => break,
                }
            }
        }
        if self.exited.is_none() {
            for (lane, m) in self.m.iter().enumerate().take(self.lanes) {
                assert!(
                    m.inv.is_none(),
                    "lane {lane}: an invocation left unanswered: {:?}",
                    m.inv
                );
            }
        }
    }
}

fn setup(b: u8) -> Setup {
    let mut env: [(&str, &str); 8] = [("", ""); 8];
    let mut n = 0;
    let mut set = |k: &'static str, v: &'static str| {
        env[n] = (k, v);
        n += 1;
    };
    set("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    match b & 3 {
        0 => {}
        1 => set("AWS_LAMBDA_MAX_CONCURRENCY", "2"),
        2 => set("AWS_LAMBDA_MAX_CONCURRENCY", "3"),
        _ => set("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
    }
    let snap = b & 0x20 != 0;
    if snap {
        set("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start");
    }
    let invalid = b & 0x40 != 0;
    if invalid {
        set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots");
    }
    if b & 0x80 != 0 {
        set("LAMINA_MAX_EVENT_BYTES", "16");
        set("LAMINA_MAX_RESPONSE_BYTES", "64");
        set("LAMINA_RECONNECT_TIMEOUT_MS", "2000");
        set("AWS_LAMBDA_LOG_LEVEL", "loud");
    }
    let env = &env[..n];
    let config = Config::from_lookup(|k| env.iter().find(|(name, _)| *name == k).map(|(_, v)| *v))
        .expect("the endpoint parses");
    let options = Options {
        max_lanes: [1, 2, 3, 3][usize::from((b >> 2) & 3)],
        graceful_shutdown: b & 0x10 != 0,
    };
    Setup {
        config,
        options,
        snap,
        invalid,
    }
}

struct Scratch {
    lanes: Vec<Lane>,
    models: Vec<LaneModel>,
    scratch: Vec<u8>,
    ext_ids: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        lanes: (0..MAX_LANES).map(|_| Lane::default()).collect(),
        models: (0..MAX_LANES).map(|_| LaneModel {
            out: vec![0; OUT_SIZE],
            ..LaneModel::default()
        }).collect(),
        scratch: Vec::with_capacity(32 * 1024),
        ext_ids: Vec::with_capacity(1024),
    });
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, program)) = data.split_first() else {
        return;
    };
    SCRATCH.with_borrow_mut(|s| {
        let Scratch {
            lanes,
            models,
            scratch,
            ext_ids,
        } = s;
        let cfg = setup(config);
        trace!("config {config:#04x}: {:?}", cfg.options);
        for m in models.iter_mut() {
            m.inbuf.clear();
            m.fed.clear();
            m.fed_overflow = false;
            m.copy.clear();
            m.sent = None;
            m.conn = false;
            m.next_done = false;
            m.inv = None;
            m.stream = None;
            m.exact_len = None;
        }
        ext_ids.clear();
        let d = Driver::new(cfg.config.clone(), cfg.options, lanes).expect("enough lanes");
        let lanes_n = d.lanes();
        let inv_lanes = d.invocation_lanes();
        let ext_lane = d.extension_lane();
        let mut h = Harness {
            d,
            m: &mut models[..],
            cfg,
            now: Now {
                instant: Instant::from_millis(0),
                unix_ms: START_UNIX_MS,
            },
            next_id: 0,
            scratch: std::mem::take(scratch),
            phase: None,
            init_seen: false,
            init_done: false,
            snapshot_done: false,
            restored: false,
            registered: false,
            exited: None,
            shutdown_at: None,
            phase_failed: None,
            report: Report::default(),
            ext_ids: std::mem::take(ext_ids),
            ext_overflow: false,
            lost_ids: Vec::new(),
            too_large_ids: Vec::new(),
            timed_out_ids: Vec::new(),
            over_max: false,
            restore_done: false,
            lanes: lanes_n,
            inv_lanes,
            ext_lane,
        };
        h.run(&mut Prog {
            data: program,
            pos: 0,
        });
        *scratch = std::mem::take(&mut h.scratch);
        *ext_ids = std::mem::take(&mut h.ext_ids);
    });
});
