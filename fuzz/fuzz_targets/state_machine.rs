//! The invocation state machine, driven like a transport would drive it, against a server that
//! answers with canned Runtime API responses, truncated ones, or arbitrary bytes, and loses the
//! connection when the input says so.
//!
//! The input is a program: `data[0]` picks the limits, then each operation is a byte (and the
//! operands it reads). Operations: a transport step (the verb the current state calls for, with
//! a handler outcome: respond, fail, stream start/chunks/end, stream fail; after
//! `Recovery::Resend`, `resend` or a new answer), the same with an output buffer that may be too
//! small, server bytes (canned, truncated, raw), connection lost, EOF, and a verb that is not
//! allowed in the current state (`resend` is allowed only between a `Recovery::Resend` and the
//! next thing sent).
//!
//! Checks:
//! - nothing panics; a verb not allowed in the state (by `state()` and `must_fail()`) returns
//!   `WrongState` and changes nothing; a buffer too small returns `BufferTooSmall { required }`,
//!   changes nothing, and `required` bytes then do;
//! - every `Invocation` / `InvalidInvocation` starts one invocation, which is answered (answer
//!   encoded, then Accepted / Rejected / TimedOut / AnswerUnreadable / Lost) at most once at a
//!   time, and no new invocation is accepted while one is unanswered;
//! - the answers go to the current invocation's id (and echo its invocation id), and every id
//!   placed on the wire is a valid `Id`;
//! - `keep` and `consumed` stay within the buffer, an event's body lies inside it.
#![no_main]

use lamina_core::machine::error_type;
use lamina_core::request::{self, EncodeError};
use lamina_core::response::Limits;
use lamina_core::{Config, Endpoint, Event, Id, Input, Machine, MachineError, Recovery, State};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

/// The open invocation, as the transport sees it.
#[derive(Debug, Clone)]
struct Invocation {
    request_id: Id,
    invocation_id: Option<Id>,
    /// An answer was sent and is not settled yet.
    answer_in_flight: bool,
    streaming: bool,
}

/// `LAMINA_FUZZ_TRACE=1` prints each operation and event (for reading a crash input).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("LAMINA_FUZZ_TRACE").is_some())
}

const ID_CHARS: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

fn canned(kind: u8, id: &str, max_head: usize) -> Vec<u8> {
    let next = |extra: &str, body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
             Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: 1542409706888\r\n\
             Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n\
             Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
             {extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    match kind % 26 {
        0 => next("", "{\"name\":\"World\"}"),
        1 => next(
            "Lambda-Runtime-Client-Context: {\"client\":{\"installation_id\":\"i\",\"app_title\":\"t\"},\"custom\":{\"k\":\"v\"},\"env\":{}}\r\n\
             Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"us-east-1:1\",\"cognitoIdentityPoolId\":\"p\"}\r\n\
             Lambda-Runtime-Aws-Tenant-Id: tenant-1\r\n",
            "{}",
        ),
        2 => next("Lambda-Runtime-Invocation-Id: inv:0001.a_b\r\n", "[1,2,3]"),
        3 => next("Lambda-Runtime-Invocation-Id: bad id\r\n", "{}"),
        4 => next("Connection: close\r\n", "{}"),
        5 => next("", "0123456789abcdef0123456789abcdef0123456789"),
        6 => format!(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
             Lambda-Runtime-Deadline-Ms: 600000\r\nTransfer-Encoding: chunked\r\n\r\n\
             5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )
        .into_bytes(),
        7 => format!(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
             Lambda-Runtime-Deadline-Ms: soon\r\nContent-Length: 2\r\n\r\n{{}}"
        )
        .into_bytes(),
        8 => b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: ../../init/error\r\n\
               Lambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 2\r\n\r\n{}"
            .to_vec(),
        9 => b"HTTP/1.1 200 OK\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 0\r\n\r\n".to_vec(),
        10 => format!(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes(),
        11 => {
            let mut v = format!("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nX-Pad: ")
                .into_bytes();
            v.resize(v.len() + max_head + 16, b'a');
            v.extend_from_slice(b"\r\n\r\n");
            v
        }
        12 => format!(
            "HTTP/1.0 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
             Lambda-Runtime-Deadline-Ms: 5000\r\n\r\nuntil eof"
        )
        .into_bytes(),
        13 => b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n".to_vec(),
        14 => b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        15 => b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec(),
        16 => b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 63\r\n\r\n{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidId\"}\n".to_vec(),
        17 => b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".to_vec(),
        18 => b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n".to_vec(),
        19 => b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n".to_vec(),
        20 => b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec(),
        21 => b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n".to_vec(),
        22 => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        23 => b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
        24 => b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec(),
        _ => b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n".to_vec(),
    }
}

fn parse_request(bytes: &[u8]) -> (String, String, Vec<(String, Vec<u8>)>, usize) {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    let n = match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!(
            "request does not parse: {other:?}: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(1000)])
        ),
    };
    let hs = req
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect();
    (
        req.method.unwrap().to_owned(),
        req.path.unwrap().to_owned(),
        hs,
        n,
    )
}

fn get<'h>(hs: &'h [(String, Vec<u8>)], name: &str) -> Option<&'h [u8]> {
    hs.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_slice())
}

/// A verb with its operands, drawn from the input before the call so it can be replayed.
#[derive(Debug, Clone)]
enum Call {
    PollNext,
    Respond(&'static str, u64),
    StreamStart(&'static str),
    StreamChunk(usize),
    StreamEnd,
    StreamFail(String, String),
    Fail(String, String),
    InitError(String, String),
    Handle,
    /// `Machine::resend`: the transport sends again the bytes it kept.
    Resend,
}

impl Call {
    fn is_answer(&self) -> bool {
        matches!(
            self,
            Call::Respond(..) | Call::StreamEnd | Call::StreamFail(..) | Call::Fail(..)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Next,
    Answer,
    InitError,
}

/// What the transport knows.
#[derive(Debug, Clone)]
struct Model {
    invocation: Option<Invocation>,
    polled: bool,
    /// What the request awaiting its answer was.
    sent: Option<Sent>,
    /// The init error must be sent again (after `Recovery::Resend`).
    init_resend: bool,
    /// `Recovery::Resend` was said and nothing was sent since: `resend` is allowed.
    resend_pending: bool,
    invocations: usize,
}

struct Harness<'a> {
    m: Machine,
    model: Model,
    /// What was read from the connection and not consumed yet.
    inbuf: Vec<u8>,
    out: Vec<u8>,
    u: Unstructured<'a>,
    next_id: u32,
    max_head: usize,
}

impl Harness<'_> {
    fn allowed(&self, call: &Call) -> bool {
        let s = self.m.state();
        match call {
            Call::PollNext => s == State::Idle,
            Call::Respond(..) | Call::StreamStart(..) => {
                s == State::Invoking && !self.m.must_fail()
            }
            Call::Fail(..) => s == State::Invoking,
            Call::StreamChunk(..) | Call::StreamEnd | Call::StreamFail(..) => s == State::Streaming,
            Call::InitError(..) => s == State::Idle && !self.model.polled,
            Call::Handle => matches!(s, State::AwaitingNext | State::AwaitingAnswer),
            Call::Resend => self.model.resend_pending,
        }
    }

    /// Everything a refused verb must leave as it was.
    fn snapshot(&self) -> (State, bool, Id, Option<Id>) {
        let c = self.m.context();
        (
            self.m.state(),
            self.m.must_fail(),
            c.request_id.clone(),
            c.invocation_id.clone(),
        )
    }

    fn byte(&mut self) -> u8 {
        self.u.arbitrary::<u8>().unwrap_or(0)
    }

    fn text(&mut self) -> String {
        let len = self.byte() % 80;
        let bytes = self.u.bytes(usize::from(len)).unwrap_or_default();
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn error_type(&mut self) -> String {
        match self.byte() % 6 {
            0 => "Handler.Error".into(),
            1 => error_type::RESPONSE_TOO_LARGE.into(),
            2 => "Evil\r\nX-Injected: 1".into(),
            3 => String::new(),
            4 => error_type::INVALID_INVOCATION.into(),
            _ => self.text(),
        }
    }

    fn content_type(&mut self) -> &'static str {
        match self.byte() % 6 {
            0 => "",
            1 => "text/plain\r\nX-Injected: 1",
            2 => "text/plain",
            3 => "application/vnd.awslambda.http-integration-response",
            _ => "application/json",
        }
    }

    fn draw(&mut self, which: u8) -> Call {
        match which % 10 {
            0 => Call::PollNext,
            1 => {
                let ct = self.content_type();
                let len = match self.byte() % 3 {
                    0 => 0,
                    1 => u64::from(self.byte()),
                    _ => self.u.arbitrary::<u64>().unwrap_or(0),
                };
                Call::Respond(ct, len)
            }
            2 => Call::StreamStart(self.content_type()),
            3 => Call::StreamChunk(usize::from(self.u.arbitrary::<u16>().unwrap_or(0))),
            4 => Call::StreamEnd,
            5 => Call::StreamFail(self.error_type(), self.text()),
            6 => Call::Fail(self.error_type(), self.text()),
            7 => Call::InitError(self.error_type(), self.text()),
            8 => Call::Handle,
            _ => Call::Resend,
        }
    }

    fn call(&mut self, call: &Call, cap: usize) -> Result<usize, MachineError> {
        let mut out = std::mem::take(&mut self.out);
        let buf = &mut out[..cap];
        let r = match call {
            Call::PollNext => self.m.poll_next(buf),
            Call::Respond(ct, len) => self.m.respond(buf, ct, *len),
            Call::StreamStart(ct) => self.m.stream_start(buf, ct),
            Call::StreamChunk(len) => self.m.stream_chunk(*len, buf),
            Call::StreamEnd => self.m.stream_end(buf),
            Call::StreamFail(t, msg) => self.m.stream_fail(buf, t, msg),
            Call::Fail(t, msg) => self.m.fail(buf, t, msg),
            Call::InitError(t, msg) => self.m.init_error(buf, t, msg),
            Call::Handle => {
                let mut b = self.inbuf.clone();
                self.m
                    .handle(&mut b)
                    .map(|i| panic!("handle allowed in {:?}: {i:?}", self.m.state()))
            }
            Call::Resend => self.m.resend().map(|()| 0),
        };
        self.out = out;
        r
    }

    /// A verb that is not allowed now: `WrongState`, nothing changed.
    fn wrong_verb(&mut self, which: u8) {
        let call = self.draw(which);
        if self.allowed(&call) {
            return;
        }
        let before = self.snapshot();
        let cap = self.out.len();
        assert_eq!(
            self.call(&call, cap),
            Err(MachineError::WrongState),
            "{call:?} in {:?}",
            before.0
        );
        assert_eq!(
            self.snapshot(),
            before,
            "{call:?} refused but changed the machine"
        );
    }

    /// Calls an allowed verb (into a buffer that may be too small first); checks and returns
    /// the request, or `None` when the operands were refused.
    fn encode(&mut self, call: Call, small: bool) -> Option<Vec<u8>> {
        assert!(self.allowed(&call), "{call:?} in {:?}", self.m.state());
        let before = self.snapshot();
        let cap = if small {
            usize::from(self.byte()) * 2
        } else {
            self.out.len()
        };
        if trace() {
            eprintln!("  {call:?} in {:?} (cap {cap})", before.0);
        }
        let n = match self.call(&call, cap) {
            Ok(n) => n,
            Err(MachineError::Encode(EncodeError::BufferTooSmall { required })) => {
                assert!(required > cap);
                assert_eq!(
                    self.snapshot(),
                    before,
                    "BufferTooSmall changed the machine"
                );
                let n = self
                    .call(&call, required)
                    .expect("`required` bytes are enough");
                assert_eq!(n, required, "`required` was not exact");
                n
            }
            Err(MachineError::Encode(EncodeError::InvalidHeaderValue)) => {
                assert!(
                    matches!(call, Call::Respond(..) | Call::StreamStart(..)),
                    "{call:?} refused its operands (error types fall back)"
                );
                assert_eq!(
                    self.snapshot(),
                    before,
                    "InvalidHeaderValue changed the machine"
                );
                return None;
            }
            Err(e) => panic!("{call:?} allowed in {:?} but {e:?}", before.0),
        };
        let bytes = self.out[..n].to_vec();
        self.check_request(&call, &bytes);
        self.after_encode(&call);
        Some(bytes)
    }

    /// The request goes where it should.
    fn check_request(&self, call: &Call, bytes: &[u8]) {
        let (id, inv, suffix) = match (call, &self.model.invocation) {
            (Call::Resend, _) => {
                assert!(bytes.is_empty());
                return;
            }
            (Call::PollNext, _) => {
                let (m, p, ..) = parse_request(bytes);
                assert_eq!(
                    (m.as_str(), p.as_str()),
                    ("GET", "/2018-06-01/runtime/invocation/next")
                );
                return;
            }
            (Call::InitError(..), _) => {
                let (m, p, hs, n) = parse_request(bytes);
                assert_eq!(
                    (m.as_str(), p.as_str()),
                    ("POST", "/2018-06-01/runtime/init/error")
                );
                serde_json::from_slice::<serde_json::Value>(&bytes[n..]).expect("JSON body");
                assert!(get(&hs, "lambda-runtime-function-error-type").is_some());
                return;
            }
            (Call::Respond(..) | Call::StreamStart(..), Some(i)) => {
                (&i.request_id, &i.invocation_id, "response")
            }
            (Call::Fail(..), Some(i)) => (&i.request_id, &i.invocation_id, "error"),
            (Call::StreamChunk(len), _) => {
                let want = if *len == 0 {
                    String::new()
                } else {
                    format!("{len:x}\r\n")
                };
                assert_eq!(bytes, want.as_bytes());
                return;
            }
            (Call::StreamEnd, _) => {
                assert_eq!(bytes, b"0\r\n\r\n");
                return;
            }
            (Call::StreamFail(..), _) => {
                assert!(bytes.starts_with(b"0\r\n") && bytes.ends_with(b"\r\n\r\n"));
                let mut trailers = [httparse::EMPTY_HEADER; 4];
                let parsed = httparse::parse_headers(&bytes[3..], &mut trailers);
                assert!(
                    matches!(parsed, Ok(httparse::Status::Complete((len, _))) if 3 + len == bytes.len()),
                    "trailers: {parsed:?}"
                );
                return;
            }
            (call, None) => panic!("{call:?} encoded with no invocation open"),
            (Call::Handle, _) => unreachable!(),
        };
        let (m, p, hs, n) = parse_request(bytes);
        assert_eq!(m, "POST");
        assert_eq!(
            p,
            format!("/2018-06-01/runtime/invocation/{}/{suffix}", id.as_str())
        );
        assert_eq!(
            get(&hs, "lambda-runtime-invocation-id"),
            inv.as_ref().map(Id::as_bytes)
        );
        match call {
            Call::Respond(_, len) => {
                assert_eq!(get(&hs, "content-length"), Some(len.to_string().as_bytes()));
                assert_eq!(n, bytes.len());
            }
            Call::Fail(t, _) => {
                let want = if request::is_header_value(t) {
                    t.trim_matches([' ', '\t']).as_bytes()
                } else {
                    error_type::FALLBACK.as_bytes()
                };
                assert_eq!(get(&hs, "lambda-runtime-function-error-type"), Some(want));
                let doc: serde_json::Value =
                    serde_json::from_slice(&bytes[n..]).expect("error body is JSON");
                assert!(doc["errorType"].is_string());
            }
            _ => {}
        }
    }

    fn after_encode(&mut self, call: &Call) {
        let state = self.m.state();
        // Whatever was sent, the bytes kept for a resend are not the ones to send any more.
        let resend_pending = std::mem::take(&mut self.model.resend_pending);
        match call {
            Call::Resend => {
                assert!(resend_pending);
                assert_eq!(state, State::AwaitingAnswer);
                if self.model.init_resend {
                    assert!(self.model.invocation.is_none());
                    self.model.init_resend = false;
                    self.model.sent = Some(Sent::InitError);
                } else {
                    let inv = self.model.invocation.as_mut().expect("open invocation");
                    assert!(!inv.answer_in_flight && !inv.streaming, "resend of {inv:?}");
                    inv.answer_in_flight = true;
                    self.model.sent = Some(Sent::Answer);
                }
            }
            Call::PollNext => {
                assert!(
                    self.model.invocation.is_none(),
                    "/next sent while an invocation is unanswered: {:?}",
                    self.model.invocation
                );
                assert_eq!(state, State::AwaitingNext);
                self.model.polled = true;
                self.model.sent = Some(Sent::Next);
            }
            Call::InitError(..) => {
                assert!(self.model.invocation.is_none());
                assert_eq!(state, State::AwaitingAnswer);
                self.model.sent = Some(Sent::InitError);
                self.model.init_resend = false;
            }
            Call::StreamStart(..) => {
                let inv = self.model.invocation.as_mut().expect("open invocation");
                assert!(
                    !inv.answer_in_flight && !inv.streaming,
                    "answered twice: {inv:?}"
                );
                inv.streaming = true;
                assert_eq!(state, State::Streaming);
            }
            Call::StreamChunk(..) => assert_eq!(state, State::Streaming),
            c if c.is_answer() => {
                let inv = self.model.invocation.as_mut().expect("open invocation");
                assert!(!inv.answer_in_flight, "answered twice at once: {inv:?}");
                assert_eq!(
                    inv.streaming,
                    matches!(c, Call::StreamEnd | Call::StreamFail(..))
                );
                inv.answer_in_flight = true;
                inv.streaming = false;
                assert_eq!(state, State::AwaitingAnswer);
                self.model.sent = Some(Sent::Answer);
            }
            _ => unreachable!(),
        }
    }

    /// The transport's next verb for the current state, with a handler outcome from the input.
    fn step(&mut self, small: bool) {
        let choice = self.byte();
        let call = match self.m.state() {
            // After `Recovery::Resend`: send the kept bytes again, or encode anew.
            State::Idle | State::Invoking if self.model.resend_pending && choice & 0x10 != 0 => {
                Call::Resend
            }
            State::Idle if self.model.init_resend => {
                Call::InitError(self.error_type(), self.text())
            }
            State::Idle if !self.model.polled && choice % 8 == 7 => {
                Call::InitError(self.error_type(), self.text())
            }
            State::Idle => Call::PollNext,
            State::Invoking if self.m.must_fail() => Call::Fail(self.error_type(), self.text()),
            State::Invoking => match choice % 3 {
                0 => {
                    let ct = self.content_type();
                    Call::Respond(ct, u64::from(self.byte()))
                }
                1 => Call::Fail(self.error_type(), self.text()),
                _ => Call::StreamStart(self.content_type()),
            },
            State::Streaming => match choice % 4 {
                0 | 1 => Call::StreamChunk(usize::from(self.u.arbitrary::<u16>().unwrap_or(1))),
                2 => Call::StreamEnd,
                _ => Call::StreamFail(self.error_type(), self.text()),
            },
            // Waiting for the server, or done.
            State::AwaitingNext | State::AwaitingAnswer | State::Finished => return,
        };
        if self.encode(call, small).is_some() {
            // Bytes the server sent early are read now.
            self.feed();
        }
    }

    /// The server sends `bytes`; the transport reads them.
    fn server(&mut self, bytes: &[u8]) {
        self.inbuf.extend_from_slice(bytes);
        self.feed();
    }

    /// Hands what was read to the machine while it waits for something.
    fn feed(&mut self) {
        while !self.inbuf.is_empty()
            && matches!(self.m.state(), State::AwaitingNext | State::AwaitingAnswer)
        {
            let mut buf = std::mem::take(&mut self.inbuf);
            let input = self.m.handle(&mut buf).expect("handle while awaiting");
            match input {
                Input::NeedMore { keep } => {
                    assert!(keep <= buf.len(), "keep {keep} > {}", buf.len());
                    buf.truncate(keep);
                    self.inbuf = buf;
                    return;
                }
                Input::Complete {
                    event,
                    consumed,
                    close,
                } => {
                    assert!(consumed <= buf.len(), "consumed {consumed} > {}", buf.len());
                    self.on_event(&event, &buf);
                    buf.drain(..consumed);
                    self.inbuf = if close { Vec::new() } else { buf };
                }
            }
        }
    }

    fn on_event(&mut self, event: &Event, buf: &[u8]) {
        let state = self.m.state();
        if trace() {
            eprintln!("  event {event:?} -> {state:?}");
        }
        let sent = self.model.sent.take();
        match event {
            Event::Invocation { .. } | Event::InvalidInvocation { .. } => {
                assert_eq!(sent, Some(Sent::Next), "{event:?} without /next");
                assert!(
                    self.model.invocation.is_none(),
                    "new invocation while one is open"
                );
                if let Event::Invocation { body, .. } = event {
                    assert!(
                        body.start <= body.end && body.end <= buf.len(),
                        "body {body:?}"
                    );
                }
                assert_eq!(state, State::Invoking);
                assert_eq!(
                    self.m.must_fail(),
                    matches!(event, Event::InvalidInvocation { .. })
                );
                let ctx = self.m.context();
                assert_eq!(
                    Id::new(ctx.request_id.as_bytes()).as_ref(),
                    Some(&ctx.request_id)
                );
                if let Some(inv) = &ctx.invocation_id {
                    assert_eq!(Id::new(inv.as_bytes()).as_ref(), Some(inv));
                }
                self.model.invocation = Some(Invocation {
                    request_id: ctx.request_id.clone(),
                    invocation_id: ctx.invocation_id.clone(),
                    answer_in_flight: false,
                    streaming: false,
                });
                self.model.invocations += 1;
            }
            Event::Malformed { .. } => {
                assert_eq!(sent, Some(Sent::Next));
                assert_eq!(state, State::Idle);
            }
            Event::Fatal { .. } => {
                assert!(matches!(sent, Some(Sent::Next | Sent::Answer)), "{sent:?}");
                assert_eq!(state, State::Finished);
            }
            Event::InitErrorReported { .. } => {
                assert_eq!(sent, Some(Sent::InitError));
                assert_eq!(state, State::Finished);
            }
            Event::AnswerUnreadable { .. } if sent == Some(Sent::InitError) => {
                assert_eq!(state, State::Finished);
            }
            Event::Accepted
            | Event::Rejected { .. }
            | Event::TimedOut
            | Event::AnswerUnreadable { .. } => {
                assert_eq!(sent, Some(Sent::Answer), "{event:?}");
                let inv = self
                    .model
                    .invocation
                    .take()
                    .expect("an invocation was open");
                assert!(inv.answer_in_flight, "{event:?} with no answer in flight");
                assert_eq!(state, State::Idle);
                assert!(!self.m.must_fail());
            }
            Event::PayloadTooLarge => {
                assert_eq!(sent, Some(Sent::Answer));
                let inv = self
                    .model
                    .invocation
                    .as_mut()
                    .expect("an invocation was open");
                assert!(inv.answer_in_flight);
                inv.answer_in_flight = false;
                assert_eq!(state, State::Invoking);
                assert!(self.m.must_fail());
            }
        }
    }

    fn recovered(&mut self, before: State, r: Recovery) {
        self.inbuf.clear();
        let state = self.m.state();
        if trace() {
            eprintln!("  {r:?}: {before:?} -> {state:?}");
        }
        let sent = self.model.sent;
        match r {
            Recovery::Continue => {
                assert!(
                    matches!(before, State::Idle | State::Invoking | State::Finished),
                    "{before:?}"
                );
                assert_eq!(state, before);
            }
            Recovery::PollAgain => {
                assert_eq!(before, State::AwaitingNext);
                assert_eq!(state, State::Idle);
                assert!(self.model.invocation.is_none());
                self.model.sent = None;
            }
            Recovery::Resend => {
                assert_eq!(before, State::AwaitingAnswer);
                self.model.sent = None;
                self.model.resend_pending = true;
                if sent == Some(Sent::InitError) {
                    assert_eq!(state, State::Idle);
                    self.model.init_resend = true;
                } else {
                    assert_eq!(state, State::Invoking);
                    let inv = self.model.invocation.as_mut().expect("open invocation");
                    assert!(inv.answer_in_flight);
                    inv.answer_in_flight = false;
                }
            }
            Recovery::Lost => {
                assert!(
                    matches!(before, State::AwaitingAnswer | State::Streaming),
                    "{before:?}"
                );
                self.model.resend_pending = false;
                self.model.sent = None;
                if sent == Some(Sent::InitError) {
                    assert_eq!(state, State::Finished);
                } else {
                    assert_eq!(state, State::Idle);
                    self.model
                        .invocation
                        .take()
                        .expect("an invocation was open");
                }
                assert!(!self.m.must_fail());
            }
        }
    }

    fn connection_lost(&mut self) {
        let before = self.m.state();
        let r = self.m.connection_lost();
        self.recovered(before, r);
    }

    fn eof(&mut self) {
        let before = self.m.state();
        let mut buf = std::mem::take(&mut self.inbuf);
        match self.m.handle_eof(&mut buf) {
            Ok(Ok(Input::Complete {
                event, consumed, ..
            })) => {
                assert!(consumed <= buf.len());
                self.on_event(&event, &buf);
            }
            Ok(Ok(Input::NeedMore { .. })) => panic!("NeedMore at EOF"),
            Ok(Err(r)) => self.recovered(before, r),
            Err(e) => panic!("handle_eof: {e:?}"),
        }
        // The connection is gone either way.
        self.inbuf.clear();
    }

    /// The machine and the model agree.
    fn invariants(&self) {
        let inv = &self.model.invocation;
        match self.m.state() {
            State::Idle | State::AwaitingNext => {
                assert!(inv.is_none(), "{:?} with {inv:?}", self.m.state())
            }
            State::Invoking => assert!(
                inv.as_ref()
                    .is_some_and(|i| !i.answer_in_flight && !i.streaming),
                "Invoking with {inv:?}"
            ),
            State::Streaming => assert!(
                inv.as_ref()
                    .is_some_and(|i| i.streaming && !i.answer_in_flight),
                "Streaming with {inv:?}"
            ),
            State::AwaitingAnswer => assert!(
                inv.as_ref().is_some_and(|i| i.answer_in_flight)
                    || self.model.sent == Some(Sent::InitError),
                "AwaitingAnswer with {inv:?}"
            ),
            State::Finished => {}
        }
        if self.m.must_fail() {
            assert!(
                matches!(
                    self.m.state(),
                    State::Invoking | State::AwaitingAnswer | State::Finished
                ),
                "must_fail in {:?}",
                self.m.state()
            );
        }
        if let (Some(i), State::Invoking | State::Streaming | State::AwaitingAnswer) =
            (inv, self.m.state())
        {
            assert_eq!(
                self.m.context().request_id,
                i.request_id,
                "context changed under an invocation"
            );
        }
    }

    fn next_id(&mut self) -> String {
        self.next_id += 1;
        let len = (self.next_id as usize % ID_CHARS.len()).max(1);
        format!("{}-{}", &ID_CHARS[..len], self.next_id)
    }

    fn run(&mut self) {
        for _ in 0..256 {
            if self.u.is_empty() {
                break;
            }
            let op = self.byte();
            if trace() {
                eprintln!(
                    "op {} in {:?}, {} bytes read",
                    op % 16,
                    self.m.state(),
                    self.inbuf.len()
                );
            }
            match op % 16 {
                0..=4 => self.step(false),
                5 => self.step(true),
                6..=8 => {
                    let id = self.next_id();
                    let bytes = canned(self.byte(), &id, self.max_head);
                    self.server(&bytes);
                }
                9 => {
                    let id = self.next_id();
                    let bytes = canned(self.byte(), &id, self.max_head);
                    let cut =
                        usize::from(self.u.arbitrary::<u16>().unwrap_or(0)) % (bytes.len() + 1);
                    self.server(&bytes[..cut]);
                }
                10 => {
                    let len = usize::from(self.byte());
                    let bytes = self
                        .u
                        .bytes(len.min(self.u.len()))
                        .unwrap_or_default()
                        .to_vec();
                    self.server(&bytes);
                }
                11 => self.connection_lost(),
                12 => self.eof(),
                _ => {
                    let which = self.byte();
                    self.wrong_verb(which);
                }
            }
            self.invariants();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&limits, program)) = data.split_first() else {
        return;
    };
    let config = if limits & 1 == 0 {
        Config::default()
    } else {
        Config {
            next: Limits {
                max_head: 512,
                max_headers: 16,
                max_body: 16,
            },
            answer: Limits {
                max_head: 256,
                max_headers: 8,
                max_body: 8,
            },
        }
    };
    let mut h = Harness {
        m: Machine::new(Endpoint::parse("127.0.0.1:9001").unwrap(), config),
        model: Model {
            invocation: None,
            polled: false,
            sent: None,
            init_resend: false,
            resend_pending: false,
            invocations: 0,
        },
        inbuf: Vec::new(),
        out: vec![0u8; 64 * 1024],
        u: Unstructured::new(program),
        next_id: 0,
        max_head: config.next.max_head,
    };
    h.run();
    let _ = h.model.invocations;
});
