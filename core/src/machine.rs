//! The invocation state machine: what to send next, and what each answer means.
//!
//! One [`Machine`] drives one Runtime API connection, one invocation at a time. The transport is
//! a loop around four kinds of verbs:
//!
//! - *encode*: [`poll_next`](Machine::poll_next), [`respond`](Machine::respond),
//!   [`fail`](Machine::fail), [`stream_start`](Machine::stream_start) …,
//!   [`init_error`](Machine::init_error) write the next request into the caller's buffer;
//! - *feed*: [`handle`](Machine::handle) takes the bytes read from the connection and returns
//!   [`Input::NeedMore`] or a complete [`Event`];
//! - *lose*: [`connection_lost`](Machine::connection_lost) after a reset or EOF says how to
//!   recover;
//! - *look*: [`state`](Machine::state) and [`context`](Machine::context).
//!
//! A verb called in the wrong state returns [`MachineError::WrongState`] and changes nothing;
//! bytes from the network never cause an `Err` (they become events), and never a panic.

use core::ops::Range;

use crate::context::{Context, InvalidInvocation, Warnings, salvage_request_id};
use crate::endpoint::Endpoint;
use crate::request::{self, EncodeError, ErrorTarget};
use crate::response::{DecodeError, Decoder, Limits, Message, Status};

/// Error types lamina itself reports.
pub mod error_type {
    /// A `/next` response that is not a usable invocation but whose request id is known.
    pub const INVALID_INVOCATION: &str = "Runtime.InvalidInvocation";
    /// The event could not be deserialized into the handler's type.
    pub const INVALID_EVENT: &str = "InvalidEvent";
    /// The handler's response could not be serialized.
    pub const INVALID_RESPONSE: &str = "InvalidResponse";
    /// The response is larger than the runtime's buffer or than Lambda accepts (413).
    pub const RESPONSE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";
    /// The handler panicked.
    pub const PANIC: &str = "Handler.Panic";
    /// Used in place of an error type that cannot be sent as a header value.
    pub const FALLBACK: &str = "Handler.Error";
}

/// Settings of a [`Machine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Limits for `/next` responses (`max_body` is the largest event accepted).
    pub next: Limits,
    /// Limits for the answers to `/response`, `/error` and `/init/error`.
    pub answer: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            next: Limits::NEXT,
            answer: Limits::ANSWER,
        }
    }
}

/// Where a [`Machine`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing outstanding: send `/next` (or, before the first one, `/init/error`).
    Idle,
    /// `/next` sent; feed its response to `handle`.
    AwaitingNext,
    /// An invocation is in hand and must be answered once: `respond`, `stream_start` or `fail`.
    Invoking,
    /// A streamed response is under way: chunks, then `stream_end` or `stream_fail`.
    Streaming,
    /// An answer (or init error) was sent; feed its response to `handle`.
    AwaitingAnswer,
    /// The runtime must exit: an init error was reported, or the Runtime API said so.
    Finished,
}

/// Misuse of a [`Machine`]: a verb in the wrong state, or an encoding failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MachineError {
    /// The verb is not allowed in the current state; nothing changed.
    WrongState,
    /// The request could not be encoded; nothing changed.
    Encode(EncodeError),
}

impl From<EncodeError> for MachineError {
    fn from(e: EncodeError) -> Self {
        MachineError::Encode(e)
    }
}

impl From<crate::buf::BufferTooSmall> for MachineError {
    fn from(e: crate::buf::BufferTooSmall) -> Self {
        MachineError::Encode(e.into())
    }
}

impl core::fmt::Display for MachineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MachineError::WrongState => f.write_str("call not allowed in this state"),
            MachineError::Encode(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for MachineError {}

/// What a complete response meant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Event {
    /// A new invocation: the event is `buf[body]`, the context is [`Machine::context`].
    /// Now in [`State::Invoking`].
    Invocation {
        /// Where the event is in the buffer given to `handle`.
        body: Range<usize>,
        /// Optional fields that were dropped; log them.
        warnings: Warnings,
    },
    /// A `/next` response that cannot be served but whose request id is known (in
    /// [`Machine::context`]). Now in [`State::Invoking`]; only [`Machine::fail`] is allowed,
    /// with [`error_type::INVALID_INVOCATION`] and the reason.
    InvalidInvocation {
        /// What was wrong.
        reason: InvalidInvocation,
    },
    /// A `/next` response with no usable request id: nothing can be answered. Log it; now
    /// [`State::Idle`] (poll again).
    Malformed {
        /// What was wrong.
        reason: InvalidInvocation,
    },
    /// The answer was accepted (any 2xx). Now [`State::Idle`].
    Accepted,
    /// The answer was refused with 400, 403 or another 4xx (the deadline passed, for instance).
    /// Log it; now [`State::Idle`].
    Rejected {
        /// The status code.
        status: u16,
    },
    /// 410 Gone: the invocation had already timed out. Log it; now [`State::Idle`].
    TimedOut,
    /// 413 to a `/response`: the payload is too large. Now [`State::Invoking`] and only
    /// [`Machine::fail`] is allowed (with [`error_type::RESPONSE_TOO_LARGE`]).
    PayloadTooLarge,
    /// The answer could not be read; whether it was accepted is unknown. Log it; now
    /// [`State::Idle`], and the connection must be closed.
    AnswerUnreadable {
        /// Why.
        error: DecodeError,
    },
    /// The init error was reported (with this status). Now [`State::Finished`]: exit non-zero.
    InitErrorReported {
        /// The status code of the answer.
        status: u16,
    },
    /// The Runtime API answered 500 (or refused `/next`): exit non-zero promptly. Now
    /// [`State::Finished`].
    Fatal {
        /// The status code.
        status: u16,
    },
}

/// What `handle` made of the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Input {
    /// Keep `buf[..keep]`, read more after it, call `handle` again.
    NeedMore {
        /// Bytes to keep at the front of the buffer.
        keep: usize,
    },
    /// A complete response.
    Complete {
        /// What it meant.
        event: Event,
        /// Bytes of the buffer it used (and any event body in it); move the rest to the front
        /// once done with the event.
        consumed: usize,
        /// Close this connection and open a new one before the next request.
        close: bool,
    },
}

/// What to do after the connection was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Recovery {
    /// Nothing was outstanding; go on as before on a new connection.
    Continue,
    /// `/next` was outstanding: poll again on a new connection. Now [`State::Idle`].
    PollAgain,
    /// An answer was written but not acknowledged: send the same answer again, once, on a new
    /// connection (a 400, 403 or 410 to it will count as accepted). Now back in the state that
    /// sent it ([`State::Invoking`], or [`State::Idle`] for an init error).
    Resend,
    /// The answer was lost a second time, or was a stream that cannot be replayed: log it.
    /// Now [`State::Idle`] (or [`State::Finished`] for an init error).
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Response,
    Stream,
    Error,
    InitError,
}

/// The client side of the Runtime API for one connection. See the module docs.
#[derive(Debug, Clone)]
pub struct Machine {
    endpoint: Endpoint,
    config: Config,
    state: State,
    decoder: Decoder,
    ctx: Context,
    sent: Sent,
    resent: bool,
    must_fail: bool,
    polled: bool,
    /// The last `connection_lost` said `Resend` and nothing was sent since.
    resend_pending: bool,
}

impl Machine {
    /// A machine for the Runtime API at `endpoint`, in [`State::Idle`].
    pub fn new(endpoint: Endpoint, config: Config) -> Self {
        Machine {
            endpoint,
            config,
            state: State::Idle,
            decoder: Decoder::new(config.next),
            ctx: Context::default(),
            sent: Sent::Response,
            resent: false,
            must_fail: false,
            polled: false,
            resend_pending: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The Runtime API's address.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current invocation's context (meaningful from an `Invocation` or
    /// `InvalidInvocation` event until the answer is accepted).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Whether only [`fail`](Machine::fail) may answer the current invocation (after an
    /// `InvalidInvocation` or `PayloadTooLarge` event).
    pub fn must_fail(&self) -> bool {
        self.must_fail
    }

    fn require(&self, state: State) -> Result<(), MachineError> {
        if self.state == state {
            Ok(())
        } else {
            Err(MachineError::WrongState)
        }
    }

    fn require_answerable(&self) -> Result<(), MachineError> {
        self.require(State::Invoking)?;
        if self.must_fail {
            return Err(MachineError::WrongState);
        }
        Ok(())
    }

    /// Encodes `GET /next`. [`State::Idle`] → [`State::AwaitingNext`].
    pub fn poll_next(&mut self, out: &mut [u8]) -> Result<usize, MachineError> {
        self.require(State::Idle)?;
        let n = request::next(&self.endpoint, out)?;
        self.decoder.set_limits(self.config.next);
        self.state = State::AwaitingNext;
        self.polled = true;
        self.resent = false;
        self.resend_pending = false;
        Ok(n)
    }

    /// Encodes the head of `/response` for a body of `body_len` bytes that the caller sends right
    /// after it. [`State::Invoking`] → [`State::AwaitingAnswer`].
    pub fn respond(
        &mut self,
        out: &mut [u8],
        content_type: &str,
        body_len: u64,
    ) -> Result<usize, MachineError> {
        self.require_answerable()?;
        let n = request::response_head(
            &self.endpoint,
            &self.ctx.request_id,
            self.ctx.invocation_id.as_ref(),
            content_type,
            body_len,
            out,
        )?;
        self.sent(Sent::Response);
        Ok(n)
    }

    /// Encodes the head of a streamed `/response`. [`State::Invoking`] → [`State::Streaming`].
    pub fn stream_start(
        &mut self,
        out: &mut [u8],
        content_type: &str,
    ) -> Result<usize, MachineError> {
        self.require_answerable()?;
        let n = request::stream_head(
            &self.endpoint,
            &self.ctx.request_id,
            self.ctx.invocation_id.as_ref(),
            content_type,
            out,
        )?;
        self.state = State::Streaming;
        // A stream replaces the answer a `Recovery::Resend` was about: its kept bytes are not
        // to be sent any more (not mid-stream, nor after the stream is lost).
        self.resend_pending = false;
        Ok(n)
    }

    /// Encodes the size line of a chunk of `len` bytes (nothing for 0); the caller sends the
    /// data and [`request::CHUNK_END`] after it.
    pub fn stream_chunk(&self, len: usize, out: &mut [u8]) -> Result<usize, MachineError> {
        self.require(State::Streaming)?;
        Ok(request::chunk_head(len, out)?)
    }

    /// Ends a stream that went well. [`State::Streaming`] → [`State::AwaitingAnswer`].
    pub fn stream_end(&mut self, out: &mut [u8]) -> Result<usize, MachineError> {
        self.require(State::Streaming)?;
        let n = request::stream_end(out)?;
        self.sent(Sent::Stream);
        Ok(n)
    }

    /// Ends a stream that failed after it began, with the error in trailers.
    /// [`State::Streaming`] → [`State::AwaitingAnswer`].
    pub fn stream_fail(
        &mut self,
        out: &mut [u8],
        error_type: &str,
        message: &str,
    ) -> Result<usize, MachineError> {
        self.require(State::Streaming)?;
        let n = request::stream_error_end(sendable(error_type), message, out)?;
        self.sent(Sent::Stream);
        Ok(n)
    }

    /// Encodes `/error` for the current invocation. An `error_type` that cannot be a header
    /// value is replaced by [`error_type::FALLBACK`]. [`State::Invoking`] →
    /// [`State::AwaitingAnswer`].
    pub fn fail(
        &mut self,
        out: &mut [u8],
        error_type: &str,
        message: &str,
    ) -> Result<usize, MachineError> {
        self.require(State::Invoking)?;
        let target = ErrorTarget::Invocation {
            request_id: &self.ctx.request_id,
            invocation_id: self.ctx.invocation_id.as_ref(),
        };
        let n = request::error(&self.endpoint, target, sendable(error_type), message, out)?;
        self.sent(Sent::Error);
        Ok(n)
    }

    /// Encodes `/init/error`; allowed in [`State::Idle`] before the first `/next`.
    /// → [`State::AwaitingAnswer`], then [`State::Finished`] whatever the answer.
    pub fn init_error(
        &mut self,
        out: &mut [u8],
        error_type: &str,
        message: &str,
    ) -> Result<usize, MachineError> {
        self.require(State::Idle)?;
        if self.polled {
            return Err(MachineError::WrongState);
        }
        let n = request::error(
            &self.endpoint,
            ErrorTarget::Init,
            sendable(error_type),
            message,
            out,
        )?;
        self.sent(Sent::InitError);
        Ok(n)
    }

    /// After [`Recovery::Resend`]: the caller sends again the very bytes it sent before (it
    /// kept them), instead of encoding the answer anew. → [`State::AwaitingAnswer`].
    pub fn resend(&mut self) -> Result<(), MachineError> {
        if !self.resend_pending {
            return Err(MachineError::WrongState);
        }
        self.resend_pending = false;
        self.state = State::AwaitingAnswer;
        self.decoder.set_limits(self.config.answer);
        Ok(())
    }

    fn sent(&mut self, what: Sent) {
        self.resend_pending = false;
        self.sent = what;
        self.state = State::AwaitingAnswer;
        self.decoder.set_limits(self.config.answer);
    }

    /// Feeds the bytes read so far (`buf[0]` is the first byte of the awaited response).
    pub fn handle(&mut self, buf: &mut [u8]) -> Result<Input, MachineError> {
        if !matches!(self.state, State::AwaitingNext | State::AwaitingAnswer) {
            return Err(MachineError::WrongState);
        }
        let head_len = self.decoder.head_len();
        match self.decoder.advance(buf) {
            Ok(Status::NeedMore { keep }) => Ok(Input::NeedMore { keep }),
            Ok(Status::Complete(msg)) => Ok(self.complete(buf, msg)),
            Err(e) => Ok(self.undecodable(buf, head_len, e)),
        }
    }

    /// The connection reached EOF (or was reset) with `buf` unconsumed: completes a response
    /// delimited by the close, or recovers as [`connection_lost`](Machine::connection_lost)
    /// does. A `/next` response cut short is treated as a malformed one: an
    /// [`Event::InvalidInvocation`] when its request id had been read (so the invocation is still
    /// answered, never silently re-polled), else an [`Event::Malformed`]. Only an EOF before any
    /// byte of it is a plain [`Recovery::PollAgain`].
    pub fn handle_eof(&mut self, buf: &mut [u8]) -> Result<Result<Input, Recovery>, MachineError> {
        if !matches!(self.state, State::AwaitingNext | State::AwaitingAnswer) {
            return Ok(Err(self.connection_lost()));
        }
        let head_len = self.decoder.head_len();
        match self.decoder.finish(buf) {
            Ok(Some(msg)) => Ok(Ok(self.complete(buf, msg))),
            Err(e) if self.state == State::AwaitingNext => {
                Ok(Ok(self.undecodable(buf, head_len, e)))
            }
            Ok(None) | Err(_) => Ok(Err(self.connection_lost())),
        }
    }

    /// The connection broke (reset, EOF, write error). Says how to go on; the caller opens a
    /// new connection first.
    pub fn connection_lost(&mut self) -> Recovery {
        self.decoder.reset();
        match self.state {
            State::AwaitingNext => {
                self.state = State::Idle;
                Recovery::PollAgain
            }
            State::AwaitingAnswer if !self.resent && self.sent != Sent::Stream => {
                self.resent = true;
                self.resend_pending = true;
                self.state = if self.sent == Sent::InitError {
                    State::Idle
                } else {
                    State::Invoking
                };
                Recovery::Resend
            }
            State::AwaitingAnswer | State::Streaming => {
                self.state = if self.sent == Sent::InitError {
                    State::Finished
                } else {
                    State::Idle
                };
                self.must_fail = false;
                Recovery::Lost
            }
            State::Idle | State::Invoking | State::Finished => Recovery::Continue,
        }
    }

    /// `head_len`: the length of the head when it had been read whole (so the body is not
    /// searched for a request id).
    fn undecodable(&mut self, buf: &[u8], head_len: Option<usize>, error: DecodeError) -> Input {
        let event = if self.state == State::AwaitingNext {
            let head = match head_len.and_then(|n| buf.get(..n)) {
                Some(head) => head,
                None => buf.get(..self.config.next.max_head).unwrap_or(buf),
            };
            self.ctx.clear();
            match salvage_request_id(head) {
                Some(id) => {
                    self.ctx.request_id = id;
                    self.state = State::Invoking;
                    self.must_fail = true;
                    Event::InvalidInvocation {
                        reason: InvalidInvocation::Http(error),
                    }
                }
                None => {
                    self.state = State::Idle;
                    Event::Malformed {
                        reason: InvalidInvocation::Http(error),
                    }
                }
            }
        } else {
            self.after_answer();
            Event::AnswerUnreadable { error }
        };
        Input::Complete {
            event,
            consumed: buf.len(),
            close: true,
        }
    }

    fn after_answer(&mut self) {
        self.must_fail = false;
        self.state = if self.sent == Sent::InitError {
            State::Finished
        } else {
            State::Idle
        };
    }

    fn complete(&mut self, buf: &[u8], msg: Message) -> Input {
        let event = if self.state == State::AwaitingNext {
            self.on_next(buf, &msg)
        } else {
            self.on_answer(msg.status)
        };
        Input::Complete {
            event,
            consumed: msg.consumed,
            close: msg.close,
        }
    }

    fn on_next(&mut self, buf: &[u8], msg: &Message) -> Event {
        if !(200..300).contains(&msg.status) {
            self.state = State::Finished;
            return Event::Fatal { status: msg.status };
        }
        let head = buf.get(..msg.head_len).unwrap_or_default();
        let decoded = self.ctx.decode(head);
        let known_id = !self.ctx.request_id.is_empty();
        let reason = match decoded {
            Ok(_) if msg.body_too_large => InvalidInvocation::EventTooLarge,
            Ok(warnings) => {
                self.state = State::Invoking;
                self.must_fail = false;
                return Event::Invocation {
                    body: msg.body.clone(),
                    warnings,
                };
            }
            Err(reason) => reason,
        };
        if known_id {
            self.state = State::Invoking;
            self.must_fail = true;
            Event::InvalidInvocation { reason }
        } else {
            self.state = State::Idle;
            Event::Malformed { reason }
        }
    }

    fn on_answer(&mut self, status: u16) -> Event {
        if self.sent == Sent::InitError {
            self.state = State::Finished;
            return Event::InitErrorReported { status };
        }
        let event = match status {
            200..=299 => Event::Accepted,
            // After a resend, a refusal means the first copy was delivered.
            400 | 403 | 410 if self.resent => Event::Accepted,
            410 => Event::TimedOut,
            413 if self.sent != Sent::Error => {
                self.state = State::Invoking;
                self.must_fail = true;
                self.resent = false;
                return Event::PayloadTooLarge;
            }
            500..=599 => {
                self.state = State::Finished;
                return Event::Fatal { status };
            }
            _ => Event::Rejected { status },
        };
        self.after_answer();
        event
    }
}

fn sendable(error_type: &str) -> &str {
    if request::is_header_value(error_type) {
        error_type
    } else {
        error_type::FALLBACK
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn machine() -> Machine {
        Machine::new(
            Endpoint::parse("127.0.0.1:9001").unwrap(),
            Config::default(),
        )
    }

    const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: 99\r\nContent-Length: 7\r\n\r\n{\"a\":1}";

    fn feed(m: &mut Machine, bytes: &[u8]) -> (Event, usize, bool) {
        let mut buf = bytes.to_vec();
        match m.handle(&mut buf).unwrap() {
            Input::Complete {
                event,
                consumed,
                close,
            } => (event, consumed, close),
            Input::NeedMore { .. } => panic!("need more"),
        }
    }

    fn answer(status: &str) -> Vec<u8> {
        std::format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").into_bytes()
    }

    #[test]
    fn happy_path() {
        let mut m = machine();
        let mut out = [0u8; 2048];
        assert_eq!(m.state(), State::Idle);
        m.poll_next(&mut out).unwrap();
        assert_eq!(m.state(), State::AwaitingNext);
        let (ev, consumed, close) = feed(&mut m, NEXT);
        let Event::Invocation { body, warnings } = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(&NEXT[body], b"{\"a\":1}");
        assert!(warnings.is_empty());
        assert_eq!(consumed, NEXT.len());
        assert!(!close);
        assert_eq!(m.context().request_id.as_str(), "req-1");
        assert_eq!(m.state(), State::Invoking);
        // Only one answer per invocation.
        assert_eq!(m.poll_next(&mut out), Err(MachineError::WrongState));
        let n = m.respond(&mut out, "application/json", 2).unwrap();
        assert!(out[..n].starts_with(b"POST /2018-06-01/runtime/invocation/req-1/response "));
        assert_eq!(m.fail(&mut out, "X", "y"), Err(MachineError::WrongState));
        assert_eq!(feed(&mut m, &answer("202 Accepted")).0, Event::Accepted);
        assert_eq!(m.state(), State::Idle);
    }

    #[test]
    fn wrong_state_changes_nothing() {
        let mut m = machine();
        let mut out = [0u8; 1024];
        assert_eq!(m.respond(&mut out, "a/b", 1), Err(MachineError::WrongState));
        assert_eq!(m.handle(&mut [0u8; 4]), Err(MachineError::WrongState));
        assert_eq!(m.stream_chunk(1, &mut out), Err(MachineError::WrongState));
        assert_eq!(m.state(), State::Idle);
        // A buffer too small leaves the state as it was.
        assert!(matches!(
            m.poll_next(&mut out[..5]),
            Err(MachineError::Encode(EncodeError::BufferTooSmall { .. }))
        ));
        assert_eq!(m.state(), State::Idle);
    }

    #[test]
    fn answers_per_status() {
        let cases: &[(&str, Event, State)] = &[
            ("202 Accepted", Event::Accepted, State::Idle),
            ("200 OK", Event::Accepted, State::Idle),
            (
                "400 Bad Request",
                Event::Rejected { status: 400 },
                State::Idle,
            ),
            (
                "403 Forbidden",
                Event::Rejected { status: 403 },
                State::Idle,
            ),
            (
                "404 Not Found",
                Event::Rejected { status: 404 },
                State::Idle,
            ),
            ("410 Gone", Event::TimedOut, State::Idle),
            (
                "413 Payload Too Large",
                Event::PayloadTooLarge,
                State::Invoking,
            ),
            ("500 Oops", Event::Fatal { status: 500 }, State::Finished),
        ];
        for (status, want, state) in cases {
            let mut m = machine();
            let mut out = [0u8; 2048];
            m.poll_next(&mut out).unwrap();
            let _ = feed(&mut m, NEXT);
            m.respond(&mut out, "application/json", 1).unwrap();
            assert_eq!(&feed(&mut m, &answer(status)).0, want, "{status}");
            assert_eq!(m.state(), *state, "{status}");
        }
    }

    #[test]
    fn payload_too_large_turns_into_an_error_report() {
        let mut m = machine();
        let mut out = [0u8; 2048];
        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        m.respond(&mut out, "application/json", 1).unwrap();
        assert_eq!(
            feed(&mut m, &answer("413 Too Large")).0,
            Event::PayloadTooLarge
        );
        assert!(m.must_fail());
        assert_eq!(m.respond(&mut out, "a/b", 1), Err(MachineError::WrongState));
        let n = m
            .fail(&mut out, error_type::RESPONSE_TOO_LARGE, "too big")
            .unwrap();
        assert!(out[..n].starts_with(b"POST /2018-06-01/runtime/invocation/req-1/error "));
        // 413 to an /error is only logged.
        assert_eq!(
            feed(&mut m, &answer("413 Too Large")).0,
            Event::Rejected { status: 413 }
        );
        assert_eq!(m.state(), State::Idle);
    }

    #[test]
    fn malformed_next_with_and_without_id() {
        let mut out = [0u8; 2048];
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let (ev, ..) = feed(
            &mut m,
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r2\r\nLambda-Runtime-Deadline-Ms: x\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(
            ev,
            Event::InvalidInvocation {
                reason: InvalidInvocation::InvalidDeadline
            }
        );
        assert!(m.must_fail());
        let n = m
            .fail(&mut out, error_type::INVALID_INVOCATION, "bad deadline")
            .unwrap();
        assert!(out[..n].starts_with(b"POST /2018-06-01/runtime/invocation/r2/error "));

        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let (ev, ..) = feed(
            &mut m,
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: ../../init/error\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(
            ev,
            Event::Malformed {
                reason: InvalidInvocation::InvalidRequestId
            }
        );
        assert_eq!(m.state(), State::Idle);

        // Garbage: no id, poll again on a new connection.
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let (ev, _, close) = feed(&mut m, b"SSH-2.0-OpenSSH\r\n\r\n");
        assert!(matches!(ev, Event::Malformed { .. }));
        assert!(close);
    }

    #[test]
    fn oversized_event_and_head_still_answered() {
        let mut out = [0u8; 2048];
        let config = Config {
            next: Limits {
                max_body: 3,
                max_head: 200,
                ..Limits::NEXT
            },
            ..Config::default()
        };
        let ep = Endpoint::parse("127.0.0.1:9001").unwrap();
        let mut m = Machine::new(ep.clone(), config);
        m.poll_next(&mut out).unwrap();
        let (ev, consumed, close) = feed(&mut m, NEXT);
        assert_eq!(
            ev,
            Event::InvalidInvocation {
                reason: InvalidInvocation::EventTooLarge
            }
        );
        assert_eq!((consumed, close), (NEXT.len(), false));
        assert_eq!(m.context().request_id.as_str(), "req-1");

        let mut m = Machine::new(ep, config);
        m.poll_next(&mut out).unwrap();
        let mut big =
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-9\r\nX-Pad: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 300));
        let (ev, _, close) = feed(&mut m, &big);
        assert_eq!(
            ev,
            Event::InvalidInvocation {
                reason: InvalidInvocation::Http(DecodeError::HeadTooLarge)
            }
        );
        assert!(close);
        assert_eq!(m.context().request_id.as_str(), "req-9");
    }

    #[test]
    fn next_cut_short_is_answered_or_logged() {
        let mut out = [0u8; 2048];
        let eof = |m: &mut Machine, bytes: &[u8]| {
            let mut buf = bytes.to_vec();
            if !buf.is_empty() {
                assert!(matches!(m.handle(&mut buf), Ok(Input::NeedMore { .. })));
            }
            m.handle_eof(&mut buf).unwrap()
        };
        let cut = DecodeError::UnexpectedEof;
        // Cut in the body, after a whole head: answered for its id.
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let Ok(Input::Complete { event, close, .. }) = eof(&mut m, &NEXT[..NEXT.len() - 3]) else {
            panic!("not complete")
        };
        assert_eq!(
            event,
            Event::InvalidInvocation {
                reason: InvalidInvocation::Http(cut)
            }
        );
        assert!(close);
        assert_eq!(m.context().request_id.as_str(), "req-1");
        assert!(m.must_fail());
        let n = m
            .fail(&mut out, error_type::INVALID_INVOCATION, "cut")
            .unwrap();
        assert!(out[..n].starts_with(b"POST /2018-06-01/runtime/invocation/req-1/error "));
        // A body line that looks like a header is not taken for the id.
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let r = eof(
            &mut m,
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nLambda-Runtime-Aws-Request-Id: body\r\n",
        );
        assert!(matches!(
            r,
            Ok(Input::Complete {
                event: Event::Malformed { .. },
                ..
            })
        ));
        assert_eq!(m.state(), State::Idle);
        // Cut in the head after the id line: answered.
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let r = eof(
            &mut m,
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-2\r\nLambda-Runt",
        );
        assert!(matches!(
            r,
            Ok(Input::Complete {
                event: Event::InvalidInvocation { .. },
                ..
            })
        ));
        assert_eq!(m.context().request_id.as_str(), "req-2");
        // Cut before the id: logged as malformed, poll again.
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let r = eof(&mut m, b"HTTP/1.1 2");
        assert!(matches!(
            r,
            Ok(Input::Complete {
                event: Event::Malformed { .. },
                close: true,
                ..
            })
        ));
        assert_eq!(m.state(), State::Idle);
        // Closed before the first byte (an idle keep-alive connection): just poll again.
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        assert_eq!(eof(&mut m, b""), Err(Recovery::PollAgain));
        assert_eq!(m.state(), State::Idle);
        // A cut answer is still resent, as before.
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        m.respond(&mut out, "application/json", 1).unwrap();
        assert_eq!(eof(&mut m, b"HTTP/1.1 20"), Err(Recovery::Resend));
    }

    #[test]
    fn fatal_next_statuses() {
        for status in ["403 Forbidden", "500 Internal Server Error"] {
            let mut out = [0u8; 2048];
            let mut m = machine();
            m.poll_next(&mut out).unwrap();
            assert!(matches!(
                feed(&mut m, &answer(status)).0,
                Event::Fatal { .. }
            ));
            assert_eq!(m.state(), State::Finished);
        }
    }

    #[test]
    fn resend_once_after_a_lost_connection() {
        let mut out = [0u8; 2048];
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        assert_eq!(m.connection_lost(), Recovery::PollAgain);
        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        m.respond(&mut out, "application/json", 1).unwrap();
        assert_eq!(m.connection_lost(), Recovery::Resend);
        assert_eq!(m.state(), State::Invoking);
        m.respond(&mut out, "application/json", 1).unwrap();
        // The first copy had arrived: a 400 to the resend counts as accepted.
        assert_eq!(feed(&mut m, &answer("400 Bad Request")).0, Event::Accepted);

        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        m.fail(&mut out, "E", "m").unwrap();
        assert_eq!(m.connection_lost(), Recovery::Resend);
        m.fail(&mut out, "E", "m").unwrap();
        assert_eq!(m.connection_lost(), Recovery::Lost);
        assert_eq!(m.state(), State::Idle);
    }

    #[test]
    fn resend_the_same_bytes() {
        let mut out = [0u8; 2048];
        let mut m = machine();
        assert_eq!(m.resend(), Err(MachineError::WrongState));
        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        m.respond(&mut out, "application/json", 1).unwrap();
        assert_eq!(m.connection_lost(), Recovery::Resend);
        m.resend().unwrap();
        assert_eq!(m.state(), State::AwaitingAnswer);
        assert_eq!(m.resend(), Err(MachineError::WrongState));
        assert_eq!(feed(&mut m, &answer("410 Gone")).0, Event::Accepted);
    }

    #[test]
    fn init_error_then_finished() {
        let mut out = [0u8; 2048];
        let mut m = machine();
        let n = m.init_error(&mut out, "Init.Failed", "no config").unwrap();
        assert!(out[..n].starts_with(b"POST /2018-06-01/runtime/init/error "));
        assert_eq!(
            feed(&mut m, &answer("202 Accepted")).0,
            Event::InitErrorReported { status: 202 }
        );
        assert_eq!(m.state(), State::Finished);
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        let _ = m.fail(&mut out, "E", "m").unwrap();
        let _ = feed(&mut m, &answer("202 Accepted"));
        assert_eq!(
            m.init_error(&mut out, "E", "m"),
            Err(MachineError::WrongState)
        );
    }

    /// Found by the `state_machine` fuzz target: after `Recovery::Resend`, starting a stream
    /// instead of resending left the resend pending, so `resend` was accepted mid-stream, or
    /// after that stream was lost (in `Idle`), moving to `AwaitingAnswer` with no answer sent.
    #[test]
    fn resend_is_refused_once_a_stream_began() {
        let mut out = [0u8; 2048];
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        m.respond(&mut out, "application/json", 1).unwrap();
        assert_eq!(m.connection_lost(), Recovery::Resend);
        m.stream_start(&mut out, "text/plain").unwrap();
        assert_eq!(m.resend(), Err(MachineError::WrongState));
        assert_eq!(m.state(), State::Streaming);
        assert_eq!(m.connection_lost(), Recovery::Lost);
        assert_eq!(m.resend(), Err(MachineError::WrongState));
        assert_eq!(m.state(), State::Idle);
    }

    #[test]
    fn streaming_flow() {
        let mut out = [0u8; 2048];
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        m.stream_start(&mut out, "text/plain").unwrap();
        assert_eq!(m.state(), State::Streaming);
        assert_eq!(m.stream_chunk(0, &mut out), Ok(0));
        let n = m.stream_chunk(16, &mut out).unwrap();
        assert_eq!(&out[..n], b"10\r\n");
        let n = m.stream_fail(&mut out, "Boom\r\nX: y", "bad").unwrap();
        assert!(
            out[..n].starts_with(b"0\r\nLambda-Runtime-Function-Error-Type: Handler.Error\r\n")
        );
        // A broken stream cannot be replayed.
        assert_eq!(m.connection_lost(), Recovery::Lost);
        assert_eq!(m.state(), State::Idle);
    }

    #[test]
    fn invalid_error_type_falls_back() {
        let mut out = [0u8; 2048];
        let mut m = machine();
        m.poll_next(&mut out).unwrap();
        let _ = feed(&mut m, NEXT);
        let n = m.fail(&mut out, "Evil\r\nX-Injected: 1", "m").unwrap();
        let text = std::str::from_utf8(&out[..n]).unwrap();
        assert!(!text.contains("X-Injected"));
        assert!(text.contains("Lambda-Runtime-Function-Error-Type: Handler.Error\r\n"));
    }
}
