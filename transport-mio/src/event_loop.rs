//! The `mio::Poll` loop: the driver's lanes over non-blocking sockets, and nothing else.
//!
//! Per warm invocation it makes the structural minimum of system calls: for each exchange a
//! write, one wait and a read (a read is only tried once the socket said it is readable, and
//! stops when the driver has the whole reply, so no read only says `EAGAIN`).

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
#[cfg(feature = "workers")]
use std::sync::Arc;

use lamina_core::{Action, Config, Connection, Driver, Now, Transmit};
use lamina_std::Handler;
use lamina_std::transport::{
    App, Fed, LaneBuf, Transport, clock, connect, encode, grow, interrupted, read_some,
};
#[cfg(feature = "workers")]
use mio::Waker;
use mio::net::UnixStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

#[cfg(feature = "workers")]
use crate::pool::{Job, Pool};

const WAKER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);

/// The mio event-loop transport (the production bootstrap's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Mio;

impl Transport for Mio {
    fn max_lanes(config: &Config) -> usize {
        if cfg!(feature = "workers") {
            config.max_concurrency as usize
        } else {
            1
        }
    }

    fn drive<H: Handler>(driver: &mut Driver<'_>, app: &mut App<H>) -> i32 {
        match EventLoop::new(driver, app) {
            Ok(mut l) => l.run(driver, app),
            Err(e) => {
                lamina_std::rt_log!(Error, "cannot start the event loop: {e}");
                1
            }
        }
    }
}

/// What carrying out the driver's actions did.
enum Acted {
    Nothing,
    /// A handler ran (time passed).
    Invoked,
    Exit(i32),
}

/// One lane: its buffers and the state of its socket under the poll.
struct Slot {
    /// The buffers; `None` while a worker has them.
    buf: Option<Box<LaneBuf>>,
    sock: Sock,
}

#[derive(Default)]
struct Sock {
    /// The socket registered with the poll, if any.
    registered: Option<RawFd>,
    /// A request being written: what, and how many bytes are out.
    writing: Option<(Transmit, usize)>,
    /// A readable edge was seen and not read to the end yet.
    readable: bool,
    /// A writable edge was seen since the last write that would have blocked.
    writable: bool,
}

struct EventLoop {
    poll: Poll,
    events: Events,
    slots: Vec<Slot>,
    #[cfg(feature = "workers")]
    pool: Option<Pool>,
    #[cfg(feature = "workers")]
    waker: Option<Arc<Waker>>,
    signals: Option<UnixStream>,
    /// Lane 0's output buffer stands in here while a worker has lane 0's buffers.
    spare_out: Vec<u8>,
}

impl EventLoop {
    fn new<H: Handler>(driver: &Driver<'_>, app: &mut App<H>) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let mut signals = app.signals.take().map(UnixStream::from_std);
        if let Some(s) = signals.as_mut() {
            poll.registry().register(s, SIGNALS, Interest::READABLE)?;
        }
        #[cfg(feature = "workers")]
        let waker = if driver.invocation_lanes() > 1 {
            Some(Arc::new(Waker::new(poll.registry(), WAKER)?))
        } else {
            None
        };
        let mut slots = Vec::new();
        slots.resize_with(driver.lanes(), || Slot {
            buf: Some(Box::new(LaneBuf::new(driver))),
            sock: Sock::default(),
        });
        Ok(EventLoop {
            events: Events::with_capacity(driver.lanes() + 4),
            poll,
            slots,
            #[cfg(feature = "workers")]
            pool: None,
            #[cfg(feature = "workers")]
            waker,
            signals,
            spare_out: Vec::new(),
        })
    }

    fn run<H: Handler>(&mut self, driver: &mut Driver<'_>, app: &mut App<H>) -> i32 {
        // The clocks are read once per wake-up, and again after a handler ran.
        let mut now = clock();
        loop {
            match self.act(driver, app) {
                Acted::Exit(code) => return code,
                Acted::Invoked => now = clock(),
                Acted::Nothing => {}
            }
            // Move every lane as far as it goes without waiting; again while that changed
            // something (a reply read whole makes new actions and requests).
            let mut progressed = false;
            for lane in 0..self.slots.len() {
                progressed |= self.advance(driver, app, lane, now);
            }
            if progressed {
                continue;
            }
            let due = driver.poll_timeout();
            let timeout = due.map(|t| t.duration_from(now));
            if let Err(e) = self.poll.poll(&mut self.events, timeout)
                && !interrupted(&e)
            {
                lamina_std::rt_log!(Error, "poll failed: {e}");
                return 1;
            }
            let mut finished = false;
            let mut terminated = false;
            for event in self.events.iter() {
                match event.token() {
                    WAKER => finished = true,
                    SIGNALS => terminated = true,
                    Token(lane) => {
                        if let Some(slot) = self.slots.get_mut(lane) {
                            if event.is_readable() || event.is_read_closed() || event.is_error() {
                                slot.sock.readable = true;
                            }
                            if event.is_writable() || event.is_error() {
                                slot.sock.writable = true;
                            }
                        }
                    }
                }
            }
            now = clock();
            if terminated && self.drain_signals() {
                driver.shutdown(now);
            }
            #[cfg(feature = "workers")]
            if finished {
                self.collect(driver, app);
            }
            #[cfg(not(feature = "workers"))]
            let _ = finished;
            // Only a timer that was set before the wait can be due now: what the steps above
            // set is looked at by the next `poll_timeout`, before the next wait.
            if due.is_some_and(|t| t <= now.instant) {
                driver.handle_timeout(now);
            }
        }
    }

    /// Carries out the driver's actions.
    fn act<H: Handler>(&mut self, driver: &mut Driver<'_>, app: &mut App<H>) -> Acted {
        let mut acted = Acted::Nothing;
        while let Some(action) = driver.poll_action() {
            match action {
                Action::Invoke { lane, event } => {
                    self.invoke(driver, app, lane, event);
                    acted = Acted::Invoked;
                }
                action => {
                    let out = match self.slots.first_mut().and_then(|s| s.buf.as_mut()) {
                        Some(buf) => &mut buf.out,
                        None => &mut self.spare_out,
                    };
                    if let Some(code) = app.act(driver, action, out) {
                        return Acted::Exit(code);
                    }
                }
            }
        }
        acted
    }

    fn invoke<H: Handler>(
        &mut self,
        driver: &mut Driver<'_>,
        app: &App<H>,
        lane: usize,
        event: std::ops::Range<usize>,
    ) {
        let Some(mut buf) = self.slots.get_mut(lane).and_then(|s| s.buf.take()) else {
            return;
        };
        #[cfg(feature = "workers")]
        {
            buf = match self.dispatch(driver, app, lane, event.clone(), buf) {
                Ok(()) => return,
                Err(buf) => buf,
            };
        }
        app.invoke(driver, lane, event, &mut buf);
        if let Some(slot) = self.slots.get_mut(lane) {
            Self::after_handler(&self.poll, lane, &mut slot.sock, &mut buf);
            slot.buf = Some(buf);
        }
    }

    /// Hands the invocation to lane `lane`'s worker when several run at once (the pool starts
    /// at the first); the buffers come back when it runs inline.
    #[cfg(feature = "workers")]
    fn dispatch<H: Handler>(
        &mut self,
        driver: &mut Driver<'_>,
        app: &App<H>,
        lane: usize,
        event: std::ops::Range<usize>,
        mut buf: Box<LaneBuf>,
    ) -> Result<(), Box<LaneBuf>> {
        if driver.invocation_lanes() < 2 {
            return Err(buf);
        }
        if self.pool.is_none()
            && let (Some(h), Some(waker)) = (app.handler(), self.waker.clone())
        {
            let (n, endpoint) = (driver.invocation_lanes(), driver.config().endpoint.clone());
            match Pool::start(n, h.clone(), waker, endpoint) {
                Ok(pool) => self.pool = Some(pool),
                Err(e) => lamina_std::rt_log!(Warn, "no worker threads ({e}): handlers run inline"),
            }
        }
        let (Some(pool), Some(handler), Some(ctx)) = (
            self.pool.as_ref().filter(|p| lane < p.len()),
            app.handler(),
            driver.context(lane),
        ) else {
            return Err(buf);
        };
        buf.ctx.clone_from(ctx);
        let stream = if handler.streams() {
            driver.start_stream(lane).ok()
        } else {
            None
        };
        pool.submit(lane, Job { buf, event, stream });
        Ok(())
    }

    /// Takes back the buffers workers are done with.
    #[cfg(feature = "workers")]
    fn collect<H: Handler>(&mut self, driver: &mut Driver<'_>, app: &App<H>) {
        let Some(pool) = self.pool.as_ref() else {
            return;
        };
        for (lane, slot) in self.slots.iter_mut().enumerate() {
            if slot.buf.is_some() {
                continue;
            }
            if let Some((mut buf, outcome)) = pool.take_done(lane) {
                app.finish(driver, lane, outcome, &mut buf);
                Self::after_handler(&self.poll, lane, &mut slot.sock, &mut buf);
                slot.buf = Some(buf);
            }
        }
    }

    /// A streaming handler may have left its socket blocking, or opened a new one: put it back
    /// under the poll, and look for a reply that arrived meanwhile.
    fn after_handler(poll: &Poll, lane: usize, slot: &mut Sock, buf: &mut LaneBuf) {
        let Some(conn) = buf.conn.as_ref() else {
            slot.registered = None;
            return;
        };
        let fd = conn.as_raw_fd();
        if slot.registered != Some(fd) {
            Self::register(poll, lane, slot, buf, fd);
        } else if buf.streamed {
            // The stream made the socket blocking for its writes; a reply may have come
            // meanwhile, its readiness already reported: look once.
            buf.streamed = false;
            if conn.set_nonblocking(true).is_err() {
                buf.conn = None;
                slot.registered = None;
            }
            slot.readable = true;
        }
    }

    /// Puts `buf`'s socket (`fd`) under the poll as lane `lane`, non-blocking.
    fn register(poll: &Poll, lane: usize, slot: &mut Sock, buf: &mut LaneBuf, fd: RawFd) {
        let registered = buf
            .conn
            .as_ref()
            .is_some_and(|c| c.set_nonblocking(true).is_ok())
            && poll
                .registry()
                .register(
                    &mut SourceFd(&fd),
                    Token(lane),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_ok();
        if registered {
            slot.registered = Some(fd);
            slot.writable = true;
        } else {
            buf.conn = None;
            slot.registered = None;
        }
    }

    /// Moves `lane` forward without waiting: reads what was signalled, writes what is due.
    /// Whether anything changed.
    fn advance<H: Handler>(
        &mut self,
        driver: &mut Driver<'_>,
        app: &mut App<H>,
        lane: usize,
        now: Now,
    ) -> bool {
        let poll = &self.poll;
        let Some(Slot {
            buf: Some(buf),
            sock: slot,
        }) = self.slots.get_mut(lane)
        else {
            return false;
        };
        let mut progressed = false;
        if slot.readable {
            let fed = if buf.conn.is_some() {
                read_some(driver, lane, buf, || now)
            } else {
                Fed::Closed
            };
            slot.readable = false;
            if fed != Fed::Pending {
                progressed = true;
            }
            if buf.conn.is_none() {
                // The driver closed it (or the peer did): stop writing there.
                slot.registered = None;
                slot.writing = None;
            }
        }
        loop {
            let (t, done) = match slot.writing.take() {
                // Go on only once the socket said it can take more.
                Some(w) if !slot.writable => {
                    slot.writing = Some(w);
                    break;
                }
                Some(w) => w,
                None => match encode(&mut buf.out, |o| {
                    driver.poll_transmit(lane, now, o).map_err(grow)
                }) {
                    Some(Some(t)) => (t, 0),
                    _ => break,
                },
            };
            progressed = true;
            if t.connection == Connection::New || buf.conn.is_none() {
                buf.conn = None;
                buf.filled = 0;
                slot.registered = None;
                match connect(&driver.config().endpoint) {
                    Ok(s) => {
                        let fd = s.as_raw_fd();
                        buf.conn = Some(s);
                        Self::register(poll, lane, slot, buf, fd);
                        if buf.conn.is_none() {
                            driver.connect_failed(lane, now);
                            continue;
                        }
                    }
                    Err(e) => {
                        app.last_error = Some(e);
                        driver.connect_failed(lane, now);
                        continue;
                    }
                }
            }
            let mut done = done;
            match buf.write_request(t.len, t.body, &mut done) {
                Ok(true) => driver.transmitted(lane, now),
                Ok(false) => {
                    // The socket's buffer is full: go on at its writable edge.
                    slot.writable = false;
                    slot.writing = Some((t, done));
                    break;
                }
                Err(_) => {
                    buf.conn = None;
                    slot.registered = None;
                    driver.connection_lost(lane, now);
                }
            }
        }
        progressed
    }

    /// Empties the SIGTERM pipe; whether anything was in it.
    fn drain_signals(&mut self) -> bool {
        let Some(pipe) = self.signals.as_mut() else {
            return false;
        };
        let mut got = false;
        let mut buf = [0u8; 16];
        while let Ok(1..) = pipe.read(&mut buf) {
            got = true;
        }
        got
    }
}
