//! One connection's protocol state and buffers, and what happens to an invocation in them.
//!
//! A `Work` moves as one `Box` between the event loop (which reads and writes its buffers) and a
//! worker thread (which runs the handler on them), so nothing is copied or allocated per
//! invocation.

use std::ops::Range;

use lamina_core::{Context, Event, Machine, error_type};
use lamina_std::handler::{Handler, Output, Reply};
use lamina_std::runtime::{Answer, Exit, INTERNAL, bound_reply, encode, invoke};
use lamina_std::stream::{Streamed, invoke_streaming};
use lamina_std::{rt_log, trace};

/// Where the bytes after the head come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRef {
    /// No body (error reports carry theirs in `head`).
    None,
    /// A slice of the event buffer (a raw handler that echoed part of its event).
    Event(Range<usize>),
    /// `out.body` (typed handlers' serialized responses, raw handlers' owned ones).
    OutBody,
    /// `copy`: a static response, copied.
    Copy,
}

/// A connection's machine and buffers.
#[derive(Debug)]
pub struct Work {
    /// The protocol state.
    pub machine: Machine,
    /// `/next` responses are read here; the event is a slice of it.
    pub next_buf: Box<[u8]>,
    /// Answers to `/response` and `/error` are read here (the event may still be needed).
    pub answer_buf: Box<[u8]>,
    /// The request head (or whole error report) to send.
    pub head: Vec<u8>,
    /// Bytes of `head` to send.
    pub head_len: usize,
    /// What follows the head.
    pub body: BodyRef,
    /// Where the current event is in `next_buf`.
    pub event: Range<usize>,
    /// Handler output scratch.
    pub out: Output,
    /// Copy of a static response.
    pub copy: Vec<u8>,
    /// The context handed to a streaming handler (the stream needs the machine meanwhile);
    /// allocated at the first streamed response.
    ctx_copy: Option<Box<Context>>,
}

/// What running the handler left to do.
#[derive(Debug)]
pub enum Invoked {
    /// The answer is encoded: send `head` and the body.
    Send,
    /// A streamed response already went out on its own connection; this is its answer.
    Answered(Event),
}

impl Work {
    /// Buffers for a connection to the Runtime API of `machine`, all allocated here, once.
    pub fn new(machine: Machine) -> Work {
        let cfg = *machine.config();
        Work {
            machine,
            next_buf: vec![0u8; cfg.next.buffer_size()].into_boxed_slice(),
            answer_buf: vec![0u8; cfg.answer.buffer_size()].into_boxed_slice(),
            head: vec![0u8; 4096],
            head_len: 0,
            body: BodyRef::None,
            event: 0..0,
            out: Output::default(),
            copy: Vec::new(),
            ctx_copy: None,
        }
    }

    /// The body bytes to send after the head.
    pub fn body_bytes(&self) -> &[u8] {
        match &self.body {
            BodyRef::None => &[],
            BodyRef::Event(r) => self.next_buf.get(r.clone()).unwrap_or_default(),
            BodyRef::OutBody => &self.out.body,
            BodyRef::Copy => &self.copy,
        }
    }

    /// Encodes `/next`.
    pub fn poll_next(&mut self) -> Result<(), Exit> {
        let machine = &mut self.machine;
        self.head_len = encode(&mut self.head, |h| machine.poll_next(h))?;
        self.body = BodyRef::None;
        Ok(())
    }

    /// Encodes an error report for the current invocation.
    pub fn fail(&mut self, error_type: &str, message: &str) -> Result<(), Exit> {
        let machine = &mut self.machine;
        self.head_len = encode(&mut self.head, |h| machine.fail(h, error_type, message))?;
        self.body = BodyRef::None;
        Ok(())
    }

    /// Runs the handler on the current event and encodes its answer.
    pub fn invoke<H: Handler>(
        &mut self,
        handler: &H,
        max_response: usize,
        set_trace: bool,
    ) -> Result<Invoked, Exit> {
        let Work {
            machine,
            next_buf,
            answer_buf,
            head,
            head_len,
            body,
            event,
            out,
            copy,
            ctx_copy,
        } = self;
        let ctx = machine.context();
        if set_trace && !trace::set(ctx.xray_trace_id.as_deref()) {
            rt_log!(
                Warn,
                "invocation {}: _X_AMZN_TRACE_ID not set",
                ctx.request_id
            );
        }
        let event_bytes = next_buf.get(event.clone()).unwrap_or_default();
        let reply = if handler.streams() {
            // The stream needs the machine while the handler reads the context.
            let ctx_copy = ctx_copy.get_or_insert_with(Box::default);
            (**ctx_copy).clone_from(ctx);
            match invoke_streaming(
                handler,
                machine,
                ctx_copy,
                event_bytes,
                out,
                head,
                answer_buf,
            ) {
                Streamed::NotStarted(reply) => reply,
                Streamed::Answered(answer) => return Ok(Invoked::Answered(answer)),
            }
        } else {
            let reply = invoke(handler, ctx, event_bytes, out);
            bound_reply(reply, max_response, out)
        };
        *body = match reply {
            Reply::Body(b) => match in_buffer(b, next_buf) {
                Some(range) => BodyRef::Event(range),
                None => {
                    copy.clear();
                    copy.extend_from_slice(b);
                    BodyRef::Copy
                }
            },
            Reply::Output => BodyRef::OutBody,
            Reply::Error => BodyRef::None,
        };
        let out = &*out;
        *head_len = match Answer::of(reply, out) {
            Answer::Body(b) => {
                let ct = handler.content_type();
                encode(head, |h| machine.respond(h, ct, b.len() as u64))?
            }
            Answer::Error {
                error_type,
                message,
            } => encode(head, |h| machine.fail(h, error_type, message))?,
        };
        Ok(Invoked::Send)
    }

    /// What to do with an invocation-level event read from `/next`: `Ok(true)` when an answer
    /// is encoded and ready to send, `Ok(false)` when the event must go to the handler.
    pub fn on_next_event(&mut self, event: &Event) -> Result<Option<bool>, Exit> {
        match event {
            Event::Invocation { body, warnings } => {
                for w in warnings.messages() {
                    rt_log!(
                        Warn,
                        "invocation {}: {w}",
                        self.machine.context().request_id
                    );
                }
                self.event = body.clone();
                Ok(Some(false))
            }
            Event::InvalidInvocation { reason } => {
                rt_log!(
                    Warn,
                    "invocation {}: invalid invocation ({reason}); reporting {}",
                    self.machine.context().request_id,
                    error_type::INVALID_INVOCATION
                );
                self.fail(error_type::INVALID_INVOCATION, reason.as_str())?;
                Ok(Some(true))
            }
            Event::Malformed { reason } => {
                rt_log!(Warn, "malformed /next response ({reason}); polling again");
                Ok(None)
            }
            Event::Fatal { status } => Err(Exit::fail(format!(
                "the Runtime API answered /next with {status}; exiting"
            ))),
            _ => Err(Exit::fail(INTERNAL)),
        }
    }
}

/// Where `b` is inside `buf`, if it is (a raw handler echoing part of its event).
fn in_buffer(b: &[u8], buf: &[u8]) -> Option<Range<usize>> {
    let start = (b.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
    let end = start.checked_add(b.len())?;
    (end <= buf.len()).then_some(start..end)
}
