//! The `mio::Poll` loop: N connections, each long-polling `/next`, driven without blocking.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lamina_core::{Event, Input, Machine, Recovery, State, error_type};
use lamina_std::conn::Backoff;
use lamina_std::handler::Handler;
use lamina_std::runtime::{Exit, INTERNAL, REFUSED_AS_TOO_LARGE, log_answer};
use lamina_std::{Config, rt_log};
use mio::net::{TcpStream, UnixStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::pool::Pool;
use crate::work::{Invoked, Work};

const WAKER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Decide from the machine's state what to do next.
    Act,
    /// Wait until then before reconnecting.
    Waiting(Instant),
    /// Non-blocking connect under way.
    Connecting,
    /// Writing `head` + body.
    Sending,
    /// Reading a response.
    Receiving,
    /// A worker thread has the `Work`.
    Working,
    /// Shutting down: nothing more to do on this connection.
    Parked,
}

struct Slot {
    token: Token,
    stream: Option<TcpStream>,
    work: Option<Box<Work>>,
    phase: Phase,
    sent: usize,
    filled: usize,
    backoff: Backoff,
}

/// What reading found.
enum Read_ {
    Pending,
    /// A response, and whether the connection must be replaced after it.
    Complete(Event, bool),
    /// The connection broke; the machine already said how to recover when it could.
    Lost(Option<Recovery>),
}

/// The loop's state.
pub struct EventLoop<H: Handler> {
    poll: Poll,
    slots: Vec<Slot>,
    handler: Arc<H>,
    pool: Option<Pool<H>>,
    config: Config,
    sigterm: Option<UnixStream>,
    shutting_down: bool,
    set_trace: bool,
}

impl<H: Handler> EventLoop<H> {
    /// Sets up `config.max_concurrency` connections (and as many workers when above 1).
    pub fn new(config: Config, handler: H) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut n = config.max_concurrency.max(1) as usize;
        if n > 1 && !cfg!(feature = "workers") {
            rt_log!(
                Warn,
                "AWS_LAMBDA_MAX_CONCURRENCY={n}: built without the `workers` feature, serving one invocation at a time"
            );
            n = 1;
        }
        let handler = Arc::new(handler);
        let pool = if n > 1 {
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            Some(Pool::start(n, handler.clone(), waker, config.max_response)?)
        } else {
            None
        };
        let mut sigterm = lamina_std::sigterm::install()
            .ok()
            .map(UnixStream::from_std);
        if let Some(s) = sigterm.as_mut()
            && poll
                .registry()
                .register(s, SIGNALS, Interest::READABLE)
                .is_err()
        {
            sigterm = None;
        }
        if sigterm.is_none() {
            rt_log!(
                Warn,
                "SIGTERM handling unavailable: the process will stop at once on SIGTERM"
            );
        }
        let core = config.core_config();
        let slots = (0..n)
            .map(|i| Slot {
                token: Token(i),
                stream: None,
                work: Some(Box::new(Work::new(Machine::new(
                    config.endpoint.clone(),
                    core,
                )))),
                phase: Phase::Act,
                sent: 0,
                filled: 0,
                backoff: Backoff::default(),
            })
            .collect();
        Ok(EventLoop {
            poll,
            slots,
            handler,
            pool,
            // With several invocations in flight the trace id lives in the Context alone.
            set_trace: n == 1,
            config,
            sigterm,
            shutting_down: false,
        })
    }

    /// Runs until the Runtime API says to stop, it cannot be reached, or SIGTERM arrives with
    /// nothing in flight.
    pub fn run(mut self) -> Exit {
        let mut events = Events::with_capacity(self.slots.len() + 8);
        for i in 0..self.slots.len() {
            if let Err(exit) = self.advance(i) {
                return exit;
            }
        }
        loop {
            if let Some(exit) = self.shutdown_done() {
                return exit;
            }
            let timeout = self.timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Exit::fail(format!("poll failed: {e}"));
            }
            for event in events.iter() {
                let result = match event.token() {
                    WAKER => self.collect_finished(),
                    SIGNALS => {
                        self.on_signals();
                        Ok(())
                    }
                    Token(i) if i < self.slots.len() => self.advance(i),
                    _ => Ok(()),
                };
                if let Err(exit) = result {
                    return exit;
                }
            }
            // Timers: reconnect attempts whose pause is over.
            let now = Instant::now();
            for i in 0..self.slots.len() {
                if matches!(self.slots[i].phase, Phase::Waiting(t) if t <= now)
                    && let Err(exit) = self.advance(i)
                {
                    return exit;
                }
            }
        }
    }

    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        self.slots
            .iter()
            .filter_map(|s| match s.phase {
                Phase::Waiting(t) => Some(t.saturating_duration_since(now)),
                _ => None,
            })
            .min()
    }

    fn on_signals(&mut self) {
        if let Some(s) = self.sigterm.as_mut()
            && drain(s)
        {
            if !self.shutting_down {
                rt_log!(
                    Info,
                    "SIGTERM: finishing in-flight invocations, then exiting"
                );
            }
            self.shutting_down = true;
        }
        for i in 0..self.slots.len() {
            if self.idle(i) {
                self.park(i);
            }
        }
    }

    /// Whether connection `i` has no invocation in hand.
    fn idle(&self, i: usize) -> bool {
        let slot = &self.slots[i];
        match (&slot.work, slot.phase) {
            (_, Phase::Working) => false,
            (None, _) => false,
            (Some(w), _) => matches!(w.machine.state(), State::Idle | State::AwaitingNext),
        }
    }

    fn park(&mut self, i: usize) {
        self.close(i);
        self.slots[i].phase = Phase::Parked;
    }

    fn close(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if let Some(s) = slot.stream.as_mut() {
            let _ = self.poll.registry().deregister(s);
        }
        slot.stream = None;
    }

    fn shutdown_done(&self) -> Option<Exit> {
        if self.shutting_down && self.slots.iter().all(|s| s.phase == Phase::Parked) {
            return Some(Exit {
                code: 0,
                message: String::from("shut down after SIGTERM"),
            });
        }
        None
    }

    fn collect_finished(&mut self) -> Result<(), Exit> {
        if self.pool.is_none() {
            return Ok(());
        }
        for i in 0..self.slots.len() {
            if self.slots[i].phase != Phase::Working {
                continue;
            }
            let done = self.pool.as_ref().and_then(|p| p.take_done(i));
            if let Some((work, result)) = done {
                self.slots[i].work = Some(work);
                self.invoked(i, result?)?;
                self.advance(i)?;
            }
        }
        Ok(())
    }

    /// After the handler: send its answer, or (a stream already sent) act on the answer to it.
    fn invoked(&mut self, i: usize, invoked: Invoked) -> Result<(), Exit> {
        match invoked {
            Invoked::Send => {
                self.send(i);
                Ok(())
            }
            Invoked::Answered(event) => self.on_event(i, event),
        }
    }

    fn send(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        slot.sent = 0;
        slot.phase = Phase::Sending;
    }

    /// Moves connection `i` forward as far as it can go without blocking.
    fn advance(&mut self, i: usize) -> Result<(), Exit> {
        loop {
            let slot = &mut self.slots[i];
            match slot.phase {
                Phase::Working | Phase::Parked => return Ok(()),
                Phase::Waiting(t) => {
                    if Instant::now() < t {
                        return Ok(());
                    }
                    slot.phase = Phase::Act;
                }
                Phase::Act => {
                    if slot.stream.is_none() {
                        self.connect(i)?;
                        continue;
                    }
                    let Some(work) = slot.work.as_mut() else {
                        return Ok(());
                    };
                    match work.machine.state() {
                        State::Idle => {
                            if self.shutting_down {
                                self.park(i);
                                return Ok(());
                            }
                            work.poll_next()?;
                            self.send(i);
                        }
                        State::Invoking => {
                            // Only after a lost connection: send the same bytes again.
                            if work.machine.resend().is_err() {
                                return Err(Exit::fail(
                                    "internal error: invocation left unanswered",
                                ));
                            }
                            self.send(i);
                        }
                        State::AwaitingNext | State::AwaitingAnswer => {
                            slot.filled = 0;
                            slot.phase = Phase::Receiving;
                        }
                        State::Streaming => {
                            return Err(Exit::fail(INTERNAL));
                        }
                        State::Finished => return Err(Exit::fail("the Runtime API said to stop")),
                    }
                }
                Phase::Connecting => match connect_result(slot) {
                    Ok(true) => slot.phase = Phase::Act,
                    Ok(false) => return Ok(()),
                    Err(e) => self.lost(i, e)?,
                },
                Phase::Sending => match flush(slot) {
                    Ok(true) => {
                        slot.filled = 0;
                        slot.phase = Phase::Receiving;
                        // The answer cannot be there yet: wait for the readable edge (its
                        // arrival raises one) instead of a read that would only say WouldBlock.
                        // Two syscalls fewer per invocation.
                        return Ok(());
                    }
                    Ok(false) => return Ok(()),
                    Err(e) => self.lost(i, e)?,
                },
                Phase::Receiving => match receive(slot) {
                    Read_::Pending => return Ok(()),
                    Read_::Lost(recovery) => {
                        self.lost_with(i, io::ErrorKind::ConnectionAborted.into(), recovery)?;
                    }
                    Read_::Complete(event, close) => {
                        slot.backoff.succeeded();
                        if close {
                            self.close(i);
                        }
                        self.on_event(i, event)?;
                    }
                },
            }
        }
    }

    fn on_event(&mut self, i: usize, event: Event) -> Result<(), Exit> {
        let slot = &mut self.slots[i];
        let Some(work) = slot.work.as_mut() else {
            return Ok(());
        };
        match event {
            Event::Invocation { .. }
            | Event::InvalidInvocation { .. }
            | Event::Malformed { .. } => match work.on_next_event(&event)? {
                None => slot.phase = Phase::Act,
                Some(true) => self.send(i),
                Some(false) => match self.pool.as_ref() {
                    Some(pool) => {
                        if let Some(work) = slot.work.take() {
                            pool.submit(i, work);
                        }
                        slot.phase = Phase::Working;
                    }
                    None => {
                        work.invoke(&*self.handler, self.config.max_response, self.set_trace)?;
                        self.send(i);
                    }
                },
            },
            Event::Fatal { status } => {
                return Err(Exit::fail(format!(
                    "the Runtime API answered {status}; exiting"
                )));
            }
            event => {
                if let Some(exit) = log_answer(&event, work.machine.context()) {
                    return Err(exit);
                }
                if event == Event::PayloadTooLarge {
                    work.fail(error_type::RESPONSE_TOO_LARGE, REFUSED_AS_TOO_LARGE)?;
                    self.send(i);
                } else if self.shutting_down {
                    self.park(i);
                } else {
                    slot.phase = Phase::Act;
                }
            }
        }
        Ok(())
    }

    fn connect(&mut self, i: usize) -> Result<(), Exit> {
        let result = resolve(&self.config).and_then(|addr| {
            let mut stream = TcpStream::connect(addr)?;
            self.poll.registry().register(
                &mut stream,
                self.slots[i].token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match result {
            Ok(stream) => {
                let slot = &mut self.slots[i];
                slot.stream = Some(stream);
                slot.phase = Phase::Connecting;
                Ok(())
            }
            Err(e) => self.lost(i, e),
        }
    }

    /// The connection broke: recover as the machine says, after a pause that grows with each
    /// failure in a row, and give up once failures have lasted longer than the reconnect timeout.
    fn lost(&mut self, i: usize, err: io::Error) -> Result<(), Exit> {
        self.lost_with(i, err, None)
    }

    fn lost_with(
        &mut self,
        i: usize,
        err: io::Error,
        recovery: Option<Recovery>,
    ) -> Result<(), Exit> {
        let timeout = self.config.reconnect_timeout;
        self.close(i);
        let slot = &mut self.slots[i];
        if let Some(work) = slot.work.as_mut()
            && recovery.unwrap_or_else(|| work.machine.connection_lost()) == Recovery::Lost
        {
            rt_log!(
                Warn,
                "invocation {}: connection lost twice while answering; the answer may be lost",
                work.machine.context().request_id
            );
        }
        match slot.backoff.failed(Instant::now(), timeout) {
            Ok(delay) => {
                slot.phase = Phase::Waiting(Instant::now() + delay);
                Ok(())
            }
            Err(after) => Err(Exit::fail(format!(
                "cannot reach the Runtime API: {err} (gave up after {} ms)",
                after.as_millis() as u64
            ))),
        }
    }
}

/// Empties the SIGTERM pipe; whether anything was in it.
fn drain(pipe: &mut UnixStream) -> bool {
    let mut got = false;
    let mut buf = [0u8; 16];
    while let Ok(1..) = pipe.read(&mut buf) {
        got = true;
    }
    got
}

fn resolve(config: &Config) -> io::Result<SocketAddr> {
    (config.endpoint.host(), config.endpoint.port())
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host did not resolve"))
}

/// Whether the non-blocking connect finished (`TCP_NODELAY` is set then).
fn connect_result(slot: &mut Slot) -> io::Result<bool> {
    let Some(stream) = slot.stream.as_mut() else {
        return Err(io::ErrorKind::NotConnected.into());
    };
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => {
            stream.set_nodelay(true)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes what is left of head + body; `Ok(true)` when all is written.
fn flush(slot: &mut Slot) -> io::Result<bool> {
    let (Some(stream), Some(work)) = (slot.stream.as_mut(), slot.work.as_ref()) else {
        return Err(io::ErrorKind::NotConnected.into());
    };
    let head = work.head.get(..work.head_len).unwrap_or_default();
    let body = work.body_bytes();
    let total = head.len() + body.len();
    while slot.sent < total {
        let (a, b) = if slot.sent < head.len() {
            (head.get(slot.sent..).unwrap_or_default(), body)
        } else {
            (
                body.get(slot.sent - head.len()..).unwrap_or_default(),
                &[][..],
            )
        };
        match stream.write_vectored(&[IoSlice::new(a), IoSlice::new(b)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => slot.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads until the response is complete or the socket has nothing more for now.
fn receive(slot: &mut Slot) -> Read_ {
    let (Some(stream), Some(work)) = (slot.stream.as_mut(), slot.work.as_mut()) else {
        return Read_::Lost(None);
    };
    let answer = work.machine.state() == State::AwaitingAnswer;
    let Work {
        machine,
        next_buf,
        answer_buf,
        ..
    } = &mut **work;
    let buf: &mut [u8] = if answer { answer_buf } else { next_buf };
    loop {
        let room = match buf.get_mut(slot.filled..) {
            Some(r) if !r.is_empty() => r,
            _ => return Read_::Lost(None),
        };
        let input = match stream.read(room) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read_::Pending,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A reset ends the response like an EOF does: what was read before it still counts
            // (a `/next` cut after its request id is answered, not dropped).
            Ok(0) | Err(_) => {
                let rest = buf.get_mut(..slot.filled).unwrap_or_default();
                return match machine.handle_eof(rest) {
                    Ok(Ok(Input::Complete { event, .. })) => Read_::Complete(event, true),
                    Ok(Err(recovery)) => Read_::Lost(Some(recovery)),
                    Ok(Ok(Input::NeedMore { .. })) | Err(_) => Read_::Lost(None),
                };
            }
            Ok(n) => {
                slot.filled += n;
                match machine.handle(buf.get_mut(..slot.filled).unwrap_or_default()) {
                    Ok(input) => input,
                    Err(_) => return Read_::Lost(None),
                }
            }
        };
        match input {
            Input::NeedMore { keep } => slot.filled = keep,
            Input::Complete {
                event,
                consumed,
                close,
            } => {
                // Bytes after the response were never asked for: replace the connection.
                return Read_::Complete(event, close || consumed < slot.filled);
            }
        }
    }
}
