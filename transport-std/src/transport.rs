//! Building blocks for a transport on std: what both of lamina's std transports (this crate's
//! blocking one and `lamina-mio`) share, so that each is only its IO loop.
//!
//! A transport implements [`Transport`]: it drives a [`Driver`] (from lamina-core, which makes
//! every protocol decision) over its sockets, hands every action but `Invoke` to
//! [`App::act`], and runs invocations with [`App::invoke`] (or, on worker threads,
//! [`call`] then [`App::finish`]). Per lane it keeps a [`LaneBuf`]; [`write_some`] and
//! [`read_some`] move the bytes, [`encode`] grows a buffer the driver finds too small.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::ops::Range;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use lamina_core::{
    Action, Answer, BufferTooSmall, Config, Context, Driver, Endpoint, Exit, Input, LogLevel, Now,
    Reading, Stream, StreamEnd, SubmitError, error_type,
};

use crate::handler::{Handler, Output, Reply, log_failure};
use crate::stream::ResponseStream;
use crate::{log, panic, rt_log, trace};

/// An IO loop around a [`Driver`].
pub trait Transport {
    /// Most invocations it serves at once under `config`.
    fn max_lanes(config: &Config) -> usize;

    /// Drives `driver` until it says exit; returns the process exit code.
    fn drive<H: Handler>(driver: &mut Driver<'_>, app: &mut App<H>) -> i32;
}

/// A lifecycle hook: `Err` carries the error type and message to report.
pub(crate) type Hook = Box<dyn FnOnce() -> Result<(), Output> + Send>;
/// The user's initialisation, building the handler.
pub(crate) type Init<H> = Box<dyn FnOnce(&Config) -> Result<H, Output>>;

/// The user's side of the runtime: initialisation, hooks and handler, and how each action the
/// driver asks for is carried out.
pub struct App<H> {
    init: Option<Init<H>>,
    handler: Option<Arc<H>>,
    before_snapshot: Vec<Hook>,
    after_restore: Vec<Hook>,
    on_shutdown: Option<Box<dyn FnOnce() + Send>>,
    /// Why the last connection attempt failed, for the give-up line.
    pub last_error: Option<io::Error>,
    /// Readable once SIGTERM arrived (for an event loop to watch), when it could be set up.
    pub signals: Option<UnixStream>,
}

impl<H> std::fmt::Debug for App<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("initialised", &self.handler.is_some())
            .field("before_snapshot", &self.before_snapshot.len())
            .field("after_restore", &self.after_restore.len())
            .finish()
    }
}

impl<H: Handler> App<H> {
    pub(crate) fn new(
        init: Init<H>,
        before_snapshot: Vec<Hook>,
        after_restore: Vec<Hook>,
        on_shutdown: Option<Box<dyn FnOnce() + Send>>,
        signals: Option<UnixStream>,
    ) -> App<H> {
        // Both run by popping: `after_restore` comes first registered last in the vector (the
        // builder inserts each at the front; a `reverse` here cost bounds checks and their
        // panic locations in every bootstrap, hooks or not).
        App {
            init: Some(init),
            handler: None,
            before_snapshot,
            after_restore,
            on_shutdown,
            last_error: None,
            signals,
        }
    }

    /// The handler, once initialisation built it.
    pub fn handler(&self) -> Option<&Arc<H>> {
        self.handler.as_ref()
    }

    /// Carries out any action but [`Action::Invoke`]. `out` is lane 0's output buffer (an init
    /// failure is encoded into it). `Some(code)` when the process is to exit with it.
    // Not inlined: once out of line it is one copy the event loop calls (-288 B stable).
    #[inline(never)]
    pub fn act(
        &mut self,
        driver: &mut Driver<'_>,
        action: Action,
        out: &mut Vec<u8>,
    ) -> Option<i32> {
        // Initialisation and the hooks end alike: the phase is done, or reported failed.
        let (what, result) = match action {
            Action::Log(notice) => {
                log::notice(&notice);
                return None;
            }
            Action::Exit(exit) => return Some(self.exit(exit)),
            // Transports run invocations themselves (inline or on workers).
            Action::Invoke { .. } => return None,
            Action::Init => {
                let result = match self.init.take() {
                    Some(init) => init(driver.config()).map(|h| self.handler = Some(Arc::new(h))),
                    None => Err(Output::error_of("Runtime.InitTwice", "init ran already")),
                };
                ("init failed", result)
            }
            Action::BeforeSnapshot => (
                "a before-snapshot hook failed",
                run_hooks(&mut self.before_snapshot, false),
            ),
            Action::AfterRestore => (
                "an after-restore hook failed",
                run_hooks(&mut self.after_restore, true),
            ),
        };
        match result {
            Ok(()) => {
                let _ = driver.phase_done();
            }
            Err(e) => self.phase_failed(driver, what, &e, out),
        }
        None
    }

    fn phase_failed(&self, driver: &mut Driver<'_>, what: &str, e: &Output, out: &mut Vec<u8>) {
        rt_log!(Error, "{what}: {}: {}", e.error_type, e.message);
        let _ = encode(out, |o| {
            driver
                .phase_failed(&e.error_type, &e.message, o)
                .map_err(too_small)
        });
    }

    fn exit(&mut self, exit: Exit) -> i32 {
        let level = if matches!(exit, Exit::Shutdown) {
            if let Some(hook) = self.on_shutdown.take() {
                hook();
            }
            LogLevel::Info
        } else {
            LogLevel::Error
        };
        // One line either way: `{exit}`, and why the endpoint was unreachable when known.
        let why = match (&exit, &self.last_error) {
            (Exit::Unreachable { .. }, Some(e)) => Some(e),
            _ => None,
        };
        match why {
            Some(e) => log::log(level, format_args!("lamina: {exit}: {e}")),
            None => log::log(level, format_args!("lamina: {exit}")),
        }
        exit.code()
    }

    /// Runs the handler on `lane`'s invocation on this thread and submits its answer (or
    /// streams it on `lane.conn`).
    pub fn invoke(
        &self,
        driver: &mut Driver<'_>,
        lane: usize,
        event: Range<usize>,
        buf: &mut LaneBuf,
    ) {
        let Some(handler) = self.handler.as_deref() else {
            return;
        };
        let stream = if handler.streams() {
            driver.start_stream(lane).ok()
        } else {
            None
        };
        let set_trace = driver.sets_trace_env();
        let endpoint = &driver.config().endpoint;
        let outcome = match driver.context(lane) {
            Some(ctx) => call(handler, ctx, event, buf, stream, set_trace, endpoint),
            None => return,
        };
        self.finish(driver, lane, outcome, buf);
    }

    /// Hands what [`call`] returned for `lane` to the driver.
    pub fn finish(
        &self,
        driver: &mut Driver<'_>,
        lane: usize,
        outcome: Outcome,
        buf: &mut LaneBuf,
    ) {
        match outcome {
            Outcome::Answer => {}
            // A stream's end starts the wait for its reply: the clocks are read for it (an
            // ordinary answer's wait starts when it is written).
            Outcome::Streamed(StreamEnd::NotStarted) => {
                driver.stream_done(lane, StreamEnd::NotStarted, clock());
            }
            Outcome::Streamed(end) => {
                driver.stream_done(lane, end, clock());
                return;
            }
        }
        let content_type = self
            .handler
            .as_deref()
            .map_or("application/json", |h| h.content_type());
        let LaneBuf {
            out, output, body, ..
        } = buf;
        let answer = match body {
            Body::Error => Answer::Error {
                error_type: &output.error_type,
                message: &output.message,
            },
            _ => Answer::Response {
                content_type,
                len: buf_body_len(body, output, &buf.event, &buf.copy) as u64,
            },
        };
        let _ = encode(out, |o| driver.submit(lane, answer, o).map_err(too_small));
    }
}

/// Runs `hooks` from the last in the vector (the before-snapshot hooks' last registered, the
/// after-restore hooks' first: see [`App::new`]) until one fails; its error. After a failure
/// the rest are run no more, and dropped at once when `drop_rest`.
fn run_hooks(hooks: &mut Vec<Hook>, drop_rest: bool) -> Result<(), Output> {
    while let Some(hook) = hooks.pop() {
        if let Err(e) = hook() {
            if drop_rest {
                hooks.clear();
            }
            return Err(e);
        }
    }
    Ok(())
}

fn buf_body_len(body: &Body, output: &Output, event: &[u8], copy: &[u8]) -> usize {
    match body {
        Body::Event(r) => event.get(r.clone()).map_or(0, <[u8]>::len),
        Body::Output => output.body.len(),
        Body::Copy => copy.len(),
        Body::Error => 0,
    }
}

fn too_small(e: SubmitError) -> Option<usize> {
    match e {
        SubmitError::BufferTooSmall { required } => Some(required),
        _ => None,
    }
}

/// Encodes with `f` into `buf`, growing it to what `f` says it needs (`Err(Some(required))`)
/// and trying again; `None` when it failed for another reason.
// Not inlined: the retry loop and its `resize` stay one out-of-line copy per closure rather
// than being pasted into each caller (-128 B stable with `call` out of line).
#[inline(never)]
pub fn encode<T>(
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&mut [u8]) -> Result<T, Option<usize>>,
) -> Option<T> {
    loop {
        match f(buf) {
            Ok(t) => return Some(t),
            Err(Some(required)) if required > buf.len() => buf.resize(required, 0),
            Err(_) => return None,
        }
    }
}

/// [`encode`]'s error for the driver's `BufferTooSmall`.
pub fn grow(e: BufferTooSmall) -> Option<usize> {
    Some(e.required)
}

/// What follows the head of the lane's next request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Body {
    /// The answer is an error (its body is in the head the driver encoded).
    #[default]
    Error,
    /// A slice of the event buffer (a raw handler that answered with part of its event).
    Event(Range<usize>),
    /// `output.body`.
    Output,
    /// `copy` (a response borrowed from elsewhere, copied).
    Copy,
}

/// One lane's connection and buffers, all allocated once.
#[derive(Debug)]
pub struct LaneBuf {
    /// The lane's connection.
    pub conn: Option<TcpStream>,
    /// The driver's output buffer for this lane (passed to every verb that encodes for it).
    pub out: Vec<u8>,
    /// `/next` responses are read here; the event is a slice of it.
    pub event: Box<[u8]>,
    /// Replies to everything else are read here; empty until the first reply is read (see
    /// [`LaneBuf::new`]).
    pub reply: Box<[u8]>,
    /// Bytes read into the current buffer and not yet consumed.
    pub filled: usize,
    /// Handler scratch.
    pub output: Output,
    /// What follows the head of the answer.
    pub body: Body,
    /// A response that was neither the event nor `output.body`, copied.
    pub copy: Vec<u8>,
    /// The invocation's context, for a handler on another thread than the driver's.
    pub ctx: Context,
    /// A stream wrote on `conn` in blocking mode since the transport last looked.
    pub streamed: bool,
}

impl LaneBuf {
    /// Buffers sized for `driver`'s lanes. The reply buffer is allocated when [`read_some`]
    /// first reads a reply: the allocator zeroes its ~100 KB page by page (too small for a
    /// fresh mapping), which cost the cold start ~24 page faults before the first `GET /next`,
    /// while the first reply is only read after the first answer is out. (The event buffer is
    /// large enough to be a fresh, lazily mapped zero mapping.)
    pub fn new(driver: &Driver<'_>) -> LaneBuf {
        LaneBuf {
            conn: None,
            out: vec![0; 1024],
            event: vec![0; driver.event_buffer_size()].into_boxed_slice(),
            reply: Box::default(),
            filled: 0,
            output: Output::default(),
            body: Body::Error,
            copy: Vec::new(),
            ctx: Context::default(),
            streamed: false,
        }
    }

    /// Writes the rest of the request the driver handed out (`out[..len]`, then the body when
    /// `with_body`) after the first `*done` bytes, as [`write_some`] does.
    pub fn write_request(
        &mut self,
        len: usize,
        with_body: bool,
        done: &mut usize,
    ) -> io::Result<bool> {
        let LaneBuf {
            conn,
            out,
            event,
            output,
            body,
            copy,
            ..
        } = self;
        let head = out.get(..len).unwrap_or_default();
        let body: &[u8] = match (with_body, &*body) {
            (false, _) | (true, Body::Error) => &[],
            (true, Body::Event(r)) => event.get(r.clone()).unwrap_or_default(),
            (true, Body::Output) => &output.body,
            (true, Body::Copy) => copy,
        };
        match conn {
            Some(conn) => write_some(conn, [head, body], done),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// How a handler call ended, for [`App::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The answer is in the lane's buffers (`body`, `output`).
    Answer,
    /// The answer was streamed (or, `NotStarted`, failed before its first byte: the error is
    /// in `output`).
    Streamed(StreamEnd),
}

/// Calls `handler` on the event `buf.event[event]` with `ctx`, on this thread: panics are
/// caught (unwind builds) and reported as `Handler.Panic`, `_X_AMZN_TRACE_ID` is set when
/// `set_trace`, and the answer is left in `buf` (or streamed, given `stream`).
// Not inlined: pasted into `App::invoke` it made the serve function ~800 B larger on stable
// (LLVM duplicated the handler's paths); one call per invocation costs nothing that counts.
#[inline(never)]
pub fn call<H: Handler>(
    handler: &H,
    ctx: &Context,
    event: Range<usize>,
    buf: &mut LaneBuf,
    stream: Option<Stream>,
    set_trace: bool,
    endpoint: &Endpoint,
) -> Outcome {
    if set_trace && !trace::set(ctx.xray_trace_id.as_deref()) {
        rt_log!(
            Warn,
            "invocation {}: _X_AMZN_TRACE_ID not set",
            ctx.request_id
        );
    }
    let LaneBuf {
        conn,
        out,
        event: event_buf,
        output,
        body,
        copy,
        streamed,
        ..
    } = buf;
    output.clear();
    let event_bytes = event_buf.get(event).unwrap_or_default();
    // Before `panic::enter`: leaving the span puts back the request id it found.
    #[cfg(feature = "tracing")]
    let _span = crate::subscriber::enter(ctx);
    panic::enter(ctx);
    // Only a streaming handler is ever given a stream; testing it here (a constant per
    // handler type) keeps `ResponseStream` out of the binaries of handlers that do not stream.
    if let Some(stream) = stream.filter(|_| handler.streams()) {
        let mut rs = ResponseStream::new(stream, conn, out, endpoint);
        let result = catch_unwind(AssertUnwindSafe(|| {
            handler.call_streaming(ctx, event_bytes, &mut rs, output)
        }));
        panic::leave();
        let ok = match result {
            Ok(Reply::Error) => false,
            Ok(_) => true,
            Err(payload) => {
                let _ = output.error(error_type::PANIC, panic::message(&*payload));
                false
            }
        };
        if !ok {
            log_failure(ctx, output);
        }
        let end = rs.end((!ok).then_some((output.error_type.as_str(), output.message.as_str())));
        buf_streamed_flag(end, streamed);
        if end == StreamEnd::NotStarted {
            *body = Body::Error;
        }
        return Outcome::Streamed(end);
    }
    let result = catch_unwind(AssertUnwindSafe(|| handler.call(ctx, event_bytes, output)));
    panic::leave();
    *body = match result {
        Ok(Reply::Body(b)) => match in_buffer(b, event_buf) {
            Some(range) => Body::Event(range),
            None => {
                copy.clear();
                copy.extend_from_slice(b);
                Body::Copy
            }
        },
        Ok(Reply::Output) => Body::Output,
        Ok(Reply::Error) => Body::Error,
        Err(payload) => {
            let _ = output.error(error_type::PANIC, panic::message(&*payload));
            Body::Error
        }
    };
    if matches!(body, Body::Error) {
        log_failure(ctx, output);
    }
    Outcome::Answer
}

fn buf_streamed_flag(end: StreamEnd, streamed: &mut bool) {
    if end != StreamEnd::NotStarted {
        *streamed = true;
    }
}

/// Where `b` is inside `buf`, if it is (a raw handler echoing part of its event).
fn in_buffer(b: &[u8], buf: &[u8]) -> Option<Range<usize>> {
    let start = (b.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
    let end = start.checked_add(b.len())?;
    (end <= buf.len()).then_some(start..end)
}

/// Opens a connection to `endpoint` with `TCP_NODELAY` (a head and a body on a keep-alive
/// connection must never wait on Nagle and delayed ACK). Lambda gives an IP literal, connected
/// to without name resolution; a name is resolved and each address tried in turn.
pub fn connect(endpoint: &Endpoint) -> io::Result<TcpStream> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    let stream = crate::resolve::connect(endpoint.host(), endpoint.port())?;
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    let stream = TcpStream::connect((endpoint.host(), endpoint.port()))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Starts a detached worker thread running `main`, named `lamina-worker-{index}`, with std's
/// stack size (`RUST_MIN_STACK`, else 2 MiB); a panic that escapes `main` ends the thread
/// only. On 64-bit x86 and Arm Linux it is a plain `pthread_create`, without std's thread
/// machinery (~15 KB of a bootstrap): the OS knows the name, std's handle of the thread does
/// not (the default panic hook says `<unnamed>`), and a stack overflow is a plain `SIGSEGV`.
pub fn spawn_worker(index: usize, main: Box<dyn FnOnce() + Send>) -> io::Result<()> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    return crate::thread::spawn(index, main);
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    std::thread::Builder::new()
        .name(format!("lamina-worker-{index}"))
        .spawn(main)
        .map(drop)
}

/// Writes what is left of `parts` after the first `*done` bytes, with `write_vectored`;
/// `Ok(true)` once all is written, `Ok(false)` when a non-blocking socket would block.
pub fn write_some(conn: &mut impl Write, parts: [&[u8]; 2], done: &mut usize) -> io::Result<bool> {
    let [head, body] = parts;
    let total = head.len() + body.len();
    while *done < total {
        let (a, b) = match head.get(*done..) {
            Some(rest) if !rest.is_empty() => (rest, body),
            _ => (body.get(*done - head.len()..).unwrap_or_default(), &[][..]),
        };
        match conn.write_vectored(&[IoSlice::new(a), IoSlice::new(b)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *done += n,
            Err(e) if is_errno(&e, EAGAIN, io::ErrorKind::WouldBlock) => return Ok(false),
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

// errno values (Linux), to tell IO errors apart without `io::Error::kind`, whose table of
// every errno is 400 bytes that no bootstrap otherwise links.
const EINTR: i32 = 4;
const EAGAIN: i32 = 11;
const ETIMEDOUT: i32 = 110;

/// Whether `e` is the system error `errno` (on Linux), or of `kind` (elsewhere). Every error a
/// socket or the poll returns is a system error.
fn is_errno(e: &io::Error, errno: i32, kind: io::ErrorKind) -> bool {
    if cfg!(target_os = "linux") {
        e.raw_os_error() == Some(errno)
    } else {
        e.kind() == kind
    }
}

/// Whether `e` says the call was interrupted by a signal (try it again).
pub fn interrupted(e: &io::Error) -> bool {
    is_errno(e, EINTR, io::ErrorKind::Interrupted)
}

/// What [`read_some`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// The reply is not complete yet (a non-blocking socket has nothing more now, or a
    /// blocking read timed out: see the error kinds `WouldBlock` / `TimedOut`).
    Pending,
    /// The reply is complete; the connection stays.
    Done,
    /// The connection is gone (closed by the driver's word, by the peer, or broken).
    Closed,
}

/// Reads from `lane`'s connection into the buffer the driver says, feeding the driver, until
/// the reply is complete or the socket has nothing more for now.
/// `clock` gives the time after each read (a blocking read may have waited).
pub fn read_some(
    driver: &mut Driver<'_>,
    lane: usize,
    buf: &mut LaneBuf,
    clock: impl Fn() -> Now,
) -> Fed {
    let LaneBuf {
        conn,
        event,
        reply,
        filled,
        ..
    } = buf;
    let Some(stream) = conn.as_mut() else {
        return Fed::Closed;
    };
    let target: &mut [u8] = match driver.reading(lane) {
        Reading::Event => event,
        Reading::Later => return Fed::Pending,
        Reading::Reply | Reading::Nothing => {
            if reply.is_empty() {
                *reply = vec![0; driver.reply_buffer_size()].into_boxed_slice();
            }
            reply
        }
    };
    loop {
        let read = match target.get_mut(*filled..) {
            Some(room) if !room.is_empty() => stream.read(room),
            _ => Err(io::ErrorKind::OutOfMemory.into()),
        };
        let input = match read {
            Ok(0) => {
                driver.handle_eof(lane, target.get_mut(..*filled).unwrap_or_default(), clock());
                Input::Close
            }
            Ok(n) => {
                *filled += n;
                driver.handle_input(lane, target.get_mut(..*filled).unwrap_or_default(), clock())
            }
            Err(e) if interrupted(&e) => continue,
            Err(e)
                if is_errno(&e, EAGAIN, io::ErrorKind::WouldBlock)
                    || is_errno(&e, ETIMEDOUT, io::ErrorKind::TimedOut) =>
            {
                return Fed::Pending;
            }
            // A reset ends the reply like an EOF does: what was read before it still counts
            // (a `/next` cut after its request id is answered, not dropped).
            Err(_) => {
                driver.handle_eof(lane, target.get_mut(..*filled).unwrap_or_default(), clock());
                Input::Close
            }
        };
        match input {
            Input::NeedMore { keep } => *filled = keep,
            Input::Done => {
                *filled = 0;
                return Fed::Done;
            }
            Input::Close => {
                *filled = 0;
                *conn = None;
                return Fed::Closed;
            }
        }
    }
}

/// Reads the clocks the driver wants (its `Now`). On 64-bit Linux straight from
/// `clock_gettime` (the vDSO: no system call, and a third of std's conversions), which matters
/// on a path taken twice per invocation; elsewhere through std.
pub fn clock() -> Now {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        unsafe extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        const CLOCK_REALTIME: i32 = 0;
        const CLOCK_MONOTONIC: i32 = 1;
        let read = |clock| {
            let mut ts = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: a valid clock id and a `struct timespec` (two i64 on 64-bit Linux) that
            // outlives the call. It cannot fail for these clocks; a failure would leave 0.
            unsafe { clock_gettime(clock, &mut ts) };
            (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
        };
        Now {
            instant: lamina_core::Instant::from_millis(read(CLOCK_MONOTONIC)),
            unix_ms: read(CLOCK_REALTIME),
        }
    }
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    Now::system()
}

/// Logs an unexpected failure to encode (the driver's own requests always fit a grown
/// buffer): a bug, reported rather than hidden.
pub(crate) fn encode_bug(what: &str) {
    rt_log!(
        Error,
        "internal error: could not encode {what}; please report this"
    );
}
