//! The driver: every protocol rule of a Lambda runtime, as a state machine a transport drives.
//!
//! A transport owns sockets, buffers, threads and clocks; the [`Driver`] owns every decision.
//! The transport's loop is a handful of verbs, in the style of `quinn-proto`:
//!
//! - [`poll_action`](Driver::poll_action): what to do next: run init or a lifecycle hook,
//!   invoke the handler, log a line, exit;
//! - [`poll_transmit`](Driver::poll_transmit): the next request to write on a lane (and whether
//!   on a new connection), then [`transmitted`](Driver::transmitted) once it is written;
//! - [`handle_input`](Driver::handle_input) / [`handle_eof`](Driver::handle_eof) /
//!   [`connection_lost`](Driver::connection_lost) / [`connect_failed`](Driver::connect_failed):
//!   what came back, or did not;
//! - [`submit`](Driver::submit) (or [`start_stream`](Driver::start_stream) and
//!   [`stream_done`](Driver::stream_done)) after the handler ran;
//! - [`poll_timeout`](Driver::poll_timeout) / [`handle_timeout`](Driver::handle_timeout):
//!   time, passed in as a value;
//! - [`shutdown`](Driver::shutdown) on SIGTERM.
//!
//! A **lane** is one Runtime API connection carrying at most one outstanding request.
//! Invocation lanes `0..invocation_lanes()` each serve one invocation at a time (several run
//! in flight when `AWS_LAMBDA_MAX_CONCURRENCY` asks and the transport allows); lane 0 also
//! carries the init-time requests. With graceful shutdown one more lane, the
//! [`extension_lane`](Driver::extension_lane), keeps the internal extension's `event/next`
//! pending: write it, keep the connection open, never wait on it.
//!
//! The transport keeps, per lane, one output buffer (`out`, passed to every verb that encodes
//! for that lane and left untouched between them: a resend writes its bytes again), an event
//! buffer ([`event_buffer_size`](Driver::event_buffer_size)) and a reply buffer
//! ([`reply_buffer_size`](Driver::reply_buffer_size)); [`reading`](Driver::reading) says which
//! one the bytes read next belong in.
//!
//! Nothing here panics, allocates or reads a clock; bytes from the network never cause an
//! `Err`, only actions.

use core::ops::Range;

use heapless::{Deque, String};

use crate::buf::{BufferTooSmall, Writer, eq_ignore_case};
use crate::config::{Config, InitType};
use crate::context::{Context, InvalidInvocation, Warnings, salvage_into};
use crate::endpoint::Endpoint;
use crate::error_type;
use crate::id::Id;
use crate::notice::{Exit, Notice, RequestKind};
use crate::request::{self, EncodeError, ErrorTarget};
use crate::response::{DecodeError, Decoder, Limits, Message, OnHead, Status};
use crate::time::{Instant, Now};

/// How long a reply may take at least (and beyond the invocation's deadline), in ms.
const REPLY_GRACE_MS: u64 = 10_000;
/// After SIGTERM, how long a reply to an answer already written is still waited for, in ms.
const SHUTDOWN_GRACE_MS: u64 = 400;
/// First pause after a failure; doubled after each further one, up to [`MAX_PAUSE_MS`].
const FIRST_PAUSE_MS: u64 = 10;
/// Longest pause between two attempts.
const MAX_PAUSE_MS: u64 = 1_000;
/// Unusable `/next` responses are logged at most this often, in ms.
const UNUSABLE_REPORT_MS: u64 = 1_000;
/// The name the internal extension registers under.
pub const EXTENSION_NAME: &str = "lamina";
/// Longest extension identifier kept.
const MAX_EXTENSION_ID: usize = 256;
/// Notices queued before the oldest are dropped (the transport drains them after each verb).
const NOTICES: usize = 16;

/// What a transport can do, given to [`Driver::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Most invocations it can have in flight at once (1 for a blocking, single-threaded
    /// transport). `AWS_LAMBDA_MAX_CONCURRENCY` is honoured up to this.
    pub max_lanes: usize,
    /// Register an internal extension at init so that Lambda sends SIGTERM at shutdown (then
    /// call [`Driver::shutdown`]).
    pub graceful_shutdown: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_lanes: 1,
            graceful_shutdown: false,
        }
    }
}

/// One lane's state: storage the transport provides ([`Lane::default`]) and never looks into.
#[derive(Debug, Clone, Default)]
pub struct Lane {
    step: Step,
    link: Link,
    decoder: Decoder,
    ctx: Context,
    /// What the `/next` head said, from the read that completed the head until the message is
    /// complete (the body may take further reads).
    decoded: Option<Result<Warnings, InvalidInvocation>>,
    /// Failures in a row on this lane (for the pause before the next attempt).
    failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Link {
    /// No connection, or one that must not carry another request: the next request goes out
    /// on a new one.
    #[default]
    Closed,
    /// A connection that can carry the next request.
    Open,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Step {
    /// Nothing to do yet.
    #[default]
    Idle,
    /// `request` goes out once `at` has come (at once for `None`).
    Queued {
        request: Request,
        at: Option<Instant>,
    },
    /// `request` was handed out; `written` is when the transport said it was written whole.
    /// `timeout`: when to stop waiting for its reply.
    Awaiting {
        request: Request,
        written: Option<Instant>,
        timeout: Option<Instant>,
    },
    /// The handler has the invocation whose event is `event` in the lane's event buffer.
    Invoking {
        event: Range<usize>,
        announced: bool,
    },
    /// The handler streams its answer on the lane's connection.
    Streaming { event: Range<usize> },
    /// Done for good (after SIGTERM).
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// `GET /next`.
    Next,
    /// The handler's answer, encoded by `submit` as the lane's `out[..len]`, followed by the
    /// response body when `body`.
    Answer {
        len: usize,
        body: bool,
        resent: bool,
    },
    /// A streamed answer (written by the stream, never resent).
    Stream,
    /// An `/error` (or `/init/error`) the driver writes itself.
    Report { report: Report, resent: bool },
    /// `/init/error` or `/restore/error` with the user's error, encoded as `out[..len]`.
    PhaseError { len: usize, resent: bool },
    /// `GET /restore/next`.
    RestoreNext,
    /// `POST /extension/register`.
    Register { resent: bool },
    /// `GET /extension/event/next`, kept pending.
    ExtensionNext,
}

impl Request {
    fn resent(self) -> Option<Request> {
        match self {
            Request::Answer {
                len,
                body,
                resent: false,
            } => Some(Request::Answer {
                len,
                body,
                resent: true,
            }),
            Request::Report {
                report,
                resent: false,
            } => Some(Request::Report {
                report,
                resent: true,
            }),
            Request::PhaseError { len, resent: false } => {
                Some(Request::PhaseError { len, resent: true })
            }
            Request::Register { resent: false } => Some(Request::Register { resent: true }),
            _ => None,
        }
    }

    fn was_resent(self) -> bool {
        matches!(
            self,
            Request::Answer { resent: true, .. }
                | Request::Report { resent: true, .. }
                | Request::PhaseError { resent: true, .. }
        )
    }

    /// Whether this is one invocation's answer (its reply decides what comes next).
    fn answers_invocation(self) -> bool {
        match self {
            Request::Answer { .. } | Request::Stream => true,
            Request::Report { report, .. } => report.is_invocation(),
            _ => false,
        }
    }
}

/// Error reports the driver writes itself. What the config says (the maximum response, the
/// invalid setting) is read from it when the report is encoded, not carried here: a smaller
/// `Report` makes every `Request` and `Step` smaller, and they are copied all over the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    InvalidInvocation(InvalidInvocation),
    /// 413 to the response.
    TooLarge,
    /// The response's length, over `Config::max_response`.
    OverMax {
        len: u64,
    },
    InvalidContentType,
    StreamLost,
    /// `Config::invalid`.
    InvalidConfig,
    Extension(Option<u16>),
}

impl Report {
    fn is_invocation(self) -> bool {
        !matches!(self, Report::InvalidConfig | Report::Extension(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The transport runs the user's initialisation.
    Init { announced: bool },
    /// Registering the internal extension (lane 0).
    Registering,
    /// The transport runs the before-snapshot hooks.
    BeforeSnapshot { announced: bool },
    /// `GET /restore/next` on lane 0.
    Restoring,
    /// The transport runs the after-restore hooks.
    AfterRestore { announced: bool },
    /// An init-time failure is being reported on lane 0; then exit.
    Failing(Exit),
    /// Serving invocations.
    Serving,
    /// SIGTERM: finishing what is in flight.
    ShuttingDown,
    /// Stopped; the exit was handed out once `announced`.
    Exited { exit: Exit, announced: bool },
}

/// What the transport must do, from [`Driver::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Run the user's initialisation, then call [`Driver::phase_done`] or
    /// [`Driver::phase_failed`].
    Init,
    /// SnapStart: run the before-snapshot hooks (last registered first), then `phase_done` or
    /// `phase_failed`.
    BeforeSnapshot,
    /// SnapStart: the snapshot was restored and every connection is to be reopened (the
    /// driver's next requests say so). Run the after-restore hooks (first registered first),
    /// then `phase_done` or `phase_failed`.
    AfterRestore,
    /// Run the handler on `lane`'s invocation: the event is `event_buffer[event]`, the
    /// context is [`Driver::context`]. Then [`Driver::submit`] its answer (or stream it).
    Invoke {
        /// The lane.
        lane: usize,
        /// Where the event is in the lane's event buffer.
        event: Range<usize>,
    },
    /// Log this line.
    Log(Notice),
    /// Stop: log the reason (when the code is not 0) and exit with [`Exit::code`]. On
    /// [`Exit::Shutdown`] run the shutdown hook first.
    Exit(Exit),
}

/// Which connection a request goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// The lane's open connection.
    Reuse,
    /// A new one: drop the lane's connection, if any, and open another.
    New,
}

/// A request to write, from [`Driver::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Write `out[..len]` (the lane's output buffer)…
    pub len: usize,
    /// …followed by the response body the handler produced, when set.
    pub body: bool,
    /// On which connection.
    pub connection: Connection,
}

/// What the bytes read next on a lane are, from [`Driver::reading`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Nothing is outstanding: bytes that arrive are unsolicited (feed them anyway: the driver
    /// has the connection closed).
    Nothing,
    /// The `/next` response: read into the lane's event buffer.
    Event,
    /// A reply to any other request: read into the lane's reply buffer.
    Reply,
    /// A streamed answer is being written: leave what arrives until
    /// [`Driver::stream_done`].
    Later,
}

/// What [`Driver::handle_input`] made of the bytes read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Input {
    /// Keep `buf[..keep]` (the driver may have moved bytes within it), read more after it.
    NeedMore {
        /// Bytes to keep at the front.
        keep: usize,
    },
    /// The reply is complete; the connection stays open for the next request.
    Done,
    /// Drop the connection (and anything left in the buffer): the reply is complete and the
    /// connection cannot be reused, or the bytes were not asked for. If a request is still
    /// being written, stop writing it.
    Close,
}

/// An invocation's answer, for [`Driver::submit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// A response of `len` bytes that the transport writes after the head.
    Response {
        /// Its `Content-Type` (an invalid one is reported as an error instead).
        content_type: &'a str,
        /// Its length.
        len: u64,
    },
    /// An error: `errorType` (replaced by [`error_type::FALLBACK`] when it cannot be a header
    /// value) and `errorMessage`.
    Error {
        /// `errorType`.
        error_type: &'a str,
        /// `errorMessage`.
        message: &'a str,
    },
}

/// How a streamed answer ended, for [`Driver::stream_done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Nothing was written (the handler failed first): [`Driver::submit`] its answer now.
    NotStarted,
    /// The final chunk (or the error trailers) was written whole: the reply is read on the
    /// stream's connection, as any other.
    Finished,
    /// The connection broke; `delivered` when some bytes had been written before.
    Broken {
        /// Whether any bytes went out.
        delivered: bool,
    },
}

/// A verb called when it makes no sense (wrong lane or state); nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongState;

impl core::fmt::Display for WrongState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("not allowed in this state")
    }
}

impl core::error::Error for WrongState {}

/// Why [`Driver::submit`] or [`Driver::phase_failed`] did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubmitError {
    /// No invocation (or phase) to answer on that lane.
    WrongState,
    /// `out` is too small: grow it to `required` bytes and call again.
    BufferTooSmall {
        /// Bytes needed.
        required: usize,
    },
}

impl core::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SubmitError::WrongState => f.write_str("not allowed in this state"),
            SubmitError::BufferTooSmall { required } => {
                write!(f, "buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for SubmitError {}

/// [`Driver::new`] was given fewer lanes than [`lanes_needed`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFewLanes {
    /// Lanes needed.
    pub needed: usize,
}

impl core::fmt::Display for TooFewLanes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} lanes are needed", self.needed)
    }
}

impl core::error::Error for TooFewLanes {}

/// How many invocation lanes serve `config` on a transport with `options`.
fn invocation_lanes(config: &Config, options: &Options) -> usize {
    (config.max_concurrency.max(1) as usize).min(options.max_lanes.max(1))
}

/// How many [`Lane`]s the transport must give [`Driver::new`] for `config` and `options`.
pub fn lanes_needed(config: &Config, options: &Options) -> usize {
    invocation_lanes(config, options) + usize::from(options.graceful_shutdown)
}

/// Unusable `/next` responses in a row, for the pause and the log's rate limit.
#[derive(Debug, Clone, Copy, Default)]
struct Unusable {
    streak: u32,
    unreported: u32,
    last_report: Option<Instant>,
}

/// The runtime's protocol state. See the module docs.
#[derive(Debug)]
pub struct Driver<'l> {
    config: Config,
    lanes: &'l mut [Lane],
    invocation_lanes: usize,
    graceful_shutdown: bool,
    phase: Phase,
    notices: Deque<Notice, NOTICES>,
    /// Lanes with an invocation not yet handed out.
    unannounced: usize,
    unusable: Unusable,
    /// When the current run of failures to reach the Runtime API began.
    failing_since: Option<Instant>,
    extension_id: Option<String<MAX_EXTENSION_ID>>,
    /// `GET /next`, encoded once: it never changes, and goes out with every invocation.
    next_request: heapless::Vec<u8, NEXT_REQUEST>,
}

/// Room for the encoded `GET /next`: the fixed text, the path prefix and the `Host`.
const NEXT_REQUEST: usize = 128 + crate::endpoint::MAX_PREFIX + crate::endpoint::MAX_HOST;

impl<'l> Driver<'l> {
    /// A driver for `config` (from [`Config::from_lookup`]) on a transport with `options`,
    /// keeping its lanes in `lanes` (at least [`lanes_needed`] of them).
    ///
    /// ```
    /// use lamina_core::{Config, Driver, Lane, Options, lanes_needed};
    ///
    /// let config = Config::from_lookup(|name| {
    ///     (name == "AWS_LAMBDA_RUNTIME_API").then_some("127.0.0.1:9001")
    /// })
    /// .unwrap();
    /// // A transport that can run 4 invocations at once, with graceful shutdown.
    /// let options = Options { max_lanes: 4, graceful_shutdown: true };
    /// let mut lanes = vec![Lane::default(); lanes_needed(&config, &options)];
    /// let driver = Driver::new(config, options, &mut lanes).unwrap();
    /// // AWS_LAMBDA_MAX_CONCURRENCY is 1 unless set; the extension has a lane of its own.
    /// assert_eq!(driver.invocation_lanes(), 1);
    /// assert!(driver.extension_lane().is_some());
    /// ```
    pub fn new(
        config: Config,
        options: Options,
        lanes: &'l mut [Lane],
    ) -> Result<Driver<'l>, TooFewLanes> {
        let needed = lanes_needed(&config, &options);
        let lanes = match lanes.get_mut(..needed) {
            Some(l) if needed > 0 => l,
            _ => return Err(TooFewLanes { needed }),
        };
        for lane in lanes.iter_mut() {
            *lane = Lane::default();
        }
        let invocation_lanes = invocation_lanes(&config, &options);
        // Encoded straight into the Vec's storage, then cut to its length (empty if it fails).
        let mut next_request = heapless::Vec::new();
        let _ = next_request.resize(NEXT_REQUEST, 0);
        let n = request::next(&config.endpoint, &mut next_request).unwrap_or(0);
        next_request.truncate(n);
        let mut driver = Driver {
            next_request,
            invocation_lanes,
            graceful_shutdown: options.graceful_shutdown,
            phase: Phase::Init { announced: false },
            notices: Deque::new(),
            unannounced: 0,
            unusable: Unusable::default(),
            failing_since: None,
            extension_id: None,
            lanes,
            config,
        };
        if let Some(ignored) = driver.config.ignored() {
            driver.notice(Notice::IgnoredSetting(ignored));
        }
        if invocation_lanes < driver.config.max_concurrency as usize {
            driver.notice(Notice::ConcurrencyLimited {
                requested: driver.config.max_concurrency,
                serving: invocation_lanes,
            });
        }
        if let Some(invalid) = driver.config.invalid() {
            driver.fail(Exit::InvalidConfig(invalid), Report::InvalidConfig);
        }
        Ok(driver)
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many lanes there are (invocation lanes and the extension lane).
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// How many lanes serve invocations (lanes `0..n`).
    pub fn invocation_lanes(&self) -> usize {
        self.invocation_lanes
    }

    /// The lane that keeps the shutdown extension's `event/next` pending, with graceful
    /// shutdown: write what it is given and keep its connection; never wait on it.
    pub fn extension_lane(&self) -> Option<usize> {
        self.graceful_shutdown.then_some(self.invocation_lanes)
    }

    /// Whether the transport sets `_X_AMZN_TRACE_ID` for each invocation: only when one
    /// invocation runs at a time (with several, the trace id lives in the context alone).
    pub fn sets_trace_env(&self) -> bool {
        self.invocation_lanes == 1
    }

    /// Size of each lane's event buffer: holds any `/next` response the limits accept.
    pub fn event_buffer_size(&self) -> usize {
        self.config.next_limits().buffer_size()
    }

    /// Size of each lane's reply buffer.
    pub fn reply_buffer_size(&self) -> usize {
        Limits::REPLY.buffer_size()
    }

    /// The context of `lane`'s invocation, while the handler has it.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// # let mut next = *b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\n\
    /// #     Lambda-Runtime-Deadline-Ms: 1700000003000\r\nContent-Length: 2\r\n\r\nhi";
    /// # assert_eq!(driver.handle_input(0, &mut next, now), Input::Done);
    /// # assert!(matches!(driver.poll_action(), Some(Action::Invoke { lane: 0, .. })));
    /// let ctx = driver.context(0).expect("lane 0 has an invocation");
    /// assert_eq!(ctx.request_id.as_str(), "id-1");
    /// assert_eq!(ctx.deadline_ms, 1_700_000_003_000);
    /// ```
    pub fn context(&self, lane: usize) -> Option<&Context> {
        let l = self.lanes.get(lane)?;
        match l.step {
            Step::Invoking { .. } | Step::Streaming { .. } => Some(&l.ctx),
            _ => None,
        }
    }

    /// What the bytes read next on `lane` are.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// // After `/next` went out, what comes back is an event: read it into the event buffer.
    /// assert_eq!(driver.reading(0), Reading::Event);
    /// ```
    pub fn reading(&self, lane: usize) -> Reading {
        match self.lanes.get(lane).map(|l| &l.step) {
            Some(Step::Awaiting {
                request: Request::Next,
                ..
            }) => Reading::Event,
            Some(Step::Awaiting { .. }) => Reading::Reply,
            Some(Step::Streaming { .. }) => Reading::Later,
            _ => Reading::Nothing,
        }
    }

    /// The next thing to do, if any. Call it after every other verb until it returns `None`.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// // A transport's loop starts by carrying out every action.
    /// while let Some(action) = driver.poll_action() {
    ///     match action {
    ///         // The user's initialisation would run here.
    ///         Action::Init => driver.phase_done().unwrap(),
    ///         Action::Log(notice) => eprintln!("{notice}"),
    ///         Action::Exit(exit) => std::process::exit(exit.code()),
    ///         _ => {}
    ///     }
    /// }
    /// // Initialised: the first `/next` is due.
    /// assert!(driver.poll_transmit(0, now, &mut out).unwrap().is_some());
    /// ```
    // Out of line (as `sendable` and the response's `find_head_end`): measured one by one,
    // each takes 16 to 80 bytes off the size build (inlined, it was pasted into more than one
    // caller); a few instructions a warm invocation.
    #[inline(never)]
    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(n) = self.notices.pop_front() {
            return Some(Action::Log(n));
        }
        match &mut self.phase {
            Phase::Exited { exit, announced } if !*announced => {
                *announced = true;
                return Some(Action::Exit(*exit));
            }
            Phase::Exited { .. } => return None,
            Phase::Init { announced } if !*announced => {
                *announced = true;
                return Some(Action::Init);
            }
            Phase::BeforeSnapshot { announced } if !*announced => {
                *announced = true;
                return Some(Action::BeforeSnapshot);
            }
            Phase::AfterRestore { announced } if !*announced => {
                *announced = true;
                return Some(Action::AfterRestore);
            }
            _ => {}
        }
        if self.unannounced == 0 {
            return None;
        }
        for (i, l) in self.lanes.iter_mut().enumerate() {
            if let Step::Invoking { event, announced } = &mut l.step
                && !*announced
            {
                *announced = true;
                self.unannounced -= 1;
                return Some(Action::Invoke {
                    lane: i,
                    event: event.clone(),
                });
            }
        }
        self.unannounced = 0;
        None
    }

    /// The next request to write on `lane`, encoded into `out` (the lane's output buffer), if
    /// one is due at `now`. Write it, then call [`transmitted`](Driver::transmitted).
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// let t = driver.poll_transmit(0, now, &mut out).unwrap().expect("/next is due");
    /// assert_eq!(t.connection, Connection::New); // open a connection, then write out[..t.len]
    /// assert!(out[..t.len].starts_with(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"));
    /// assert!(!t.body);
    /// driver.transmitted(0, now);
    /// // One outstanding request per connection: nothing more until the reply.
    /// assert!(driver.poll_transmit(0, now, &mut out).unwrap().is_none());
    /// ```
    pub fn poll_transmit(
        &mut self,
        lane: usize,
        now: Now,
        out: &mut [u8],
    ) -> Result<Option<Transmit>, BufferTooSmall> {
        if matches!(self.phase, Phase::Exited { .. }) {
            return Ok(None);
        }
        let Some(l) = self.lanes.get_mut(lane) else {
            return Ok(None);
        };
        let request = match l.step {
            Step::Queued { request, at } if at.is_none_or(|t| t <= now.instant) => request,
            _ => return Ok(None),
        };
        let (len, body) = match request {
            Request::Next => {
                let n = self.next_request.len();
                crate::buf::copy(
                    out.get_mut(..n).ok_or(BufferTooSmall { required: n })?,
                    &self.next_request,
                );
                (n, false)
            }
            Request::Answer { len, body, .. } => (len, body),
            Request::PhaseError { len, .. } => (len, false),
            Request::Report { report, .. } => {
                (encode_report(&self.config, &l.ctx, report, out)?, false)
            }
            Request::RestoreNext => (request::restore_next(&self.config.endpoint, out)?, false),
            Request::Register { .. } => (
                fits(request::extension_register(
                    &self.config.endpoint,
                    EXTENSION_NAME,
                    out,
                ))?,
                false,
            ),
            Request::ExtensionNext => {
                let id = self.extension_id.as_deref().unwrap_or_default();
                (
                    fits(request::extension_next(&self.config.endpoint, id, out))?,
                    false,
                )
            }
            Request::Stream => return Ok(None),
        };
        let connection = match l.link {
            Link::Open => Connection::Reuse,
            Link::Closed => Connection::New,
        };
        l.link = Link::Open;
        let limits = match request {
            Request::Next => self.config.next_limits(),
            _ => Limits::REPLY,
        };
        l.decoder.reset(limits);
        l.decoded = None;
        l.step = Step::Awaiting {
            request,
            written: None,
            timeout: None,
        };
        Ok(Some(Transmit {
            len,
            body,
            connection,
        }))
    }

    /// The request [`poll_transmit`](Driver::poll_transmit) handed out on `lane` is written
    /// whole at `now`: the wait for its reply begins.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// let t = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// // ... out[..t.len] written whole (and the body, when `t.body`):
    /// driver.transmitted(0, now);
    /// // The long poll for `/next` is never timed out.
    /// assert_eq!(driver.poll_timeout(), None);
    /// ```
    pub fn transmitted(&mut self, lane: usize, now: Now) {
        let shutting_down = matches!(self.phase, Phase::ShuttingDown);
        let Some(l) = self.lanes.get_mut(lane) else {
            return;
        };
        if let Step::Awaiting {
            request,
            written: written @ None,
            timeout,
        } = &mut l.step
        {
            *written = Some(now.instant);
            *timeout = reply_timeout(*request, &l.ctx, now, shutting_down);
        }
    }

    /// Feeds the bytes read so far on `lane` (`buf[0]` is the first byte read since the
    /// request was handed out, or since the last `NeedMore` kept what it kept).
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// // The reply comes in pieces: feed what was read so far, keep what the driver says.
    /// let reply = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\n\
    ///     Lambda-Runtime-Deadline-Ms: 1700000003000\r\nContent-Length: 2\r\n\r\nhi";
    /// let (first, rest) = reply.split_at(30);
    /// let mut buf = [0u8; 256];
    /// buf[..first.len()].copy_from_slice(first);
    /// let Input::NeedMore { keep } = driver.handle_input(0, &mut buf[..first.len()], now) else {
    ///     panic!("a head cut in two is not complete");
    /// };
    /// // The first `keep` bytes stay; what is read next goes after them.
    /// buf[keep..keep + rest.len()].copy_from_slice(rest);
    /// assert_eq!(driver.handle_input(0, &mut buf[..keep + rest.len()], now), Input::Done);
    /// assert!(matches!(driver.poll_action(), Some(Action::Invoke { lane: 0, .. })));
    /// ```
    pub fn handle_input(&mut self, lane: usize, buf: &mut [u8], now: Now) -> Input {
        self.input(lane, buf, now, false)
    }

    /// The connection of `lane` reached EOF, or was reset, with `buf` read and not consumed:
    /// completes a reply delimited by the close, or treats the connection as lost. Drop the
    /// connection afterwards.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// // The Runtime API closed the connection before answering `/next`: drop it. The driver
    /// // asks again, on a new connection.
    /// driver.handle_eof(0, &mut [], now);
    /// let later = Now { instant: Instant::from_millis(2_000), unix_ms: now.unix_ms + 2_000 };
    /// driver.handle_timeout(later);
    /// let t = driver.poll_transmit(0, later, &mut out).unwrap().expect("/next again");
    /// assert_eq!(t.connection, Connection::New);
    /// ```
    pub fn handle_eof(&mut self, lane: usize, buf: &mut [u8], now: Now) {
        let _ = self.input(lane, buf, now, true);
        if let Some(l) = self.lanes.get_mut(lane) {
            l.link = Link::Closed;
        }
    }

    /// Opening a connection for `lane` failed at `now`.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// // Connecting was refused: said at once, then retried after a pause (backoff).
    /// driver.connect_failed(0, now);
    /// assert!(matches!(driver.poll_action(), Some(Action::Log(Notice::Unreachable { .. }))));
    /// let retry = driver.poll_timeout().expect("a retry is scheduled");
    /// let then = Now { instant: retry, unix_ms: now.unix_ms + 10 };
    /// driver.handle_timeout(then);
    /// assert!(driver.poll_transmit(0, then, &mut out).unwrap().is_some());
    /// ```
    pub fn connect_failed(&mut self, lane: usize, now: Now) {
        if self.failing_since.is_none() {
            self.notice(Notice::Unreachable {
                retry_for_ms: self.config.reconnect_timeout_ms,
            });
        }
        self.lost(lane, now, false);
    }

    /// Writing on `lane` failed, or its connection broke with nothing read: the request may
    /// not have arrived. Drop the connection.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// // Writing `/next` failed: drop the connection; the request goes again on a new one.
    /// driver.connection_lost(0, now);
    /// let later = Now { instant: Instant::from_millis(2_000), unix_ms: now.unix_ms + 2_000 };
    /// driver.handle_timeout(later);
    /// let t = driver.poll_transmit(0, later, &mut out).unwrap().expect("/next again");
    /// assert_eq!(t.connection, Connection::New);
    /// ```
    pub fn connection_lost(&mut self, lane: usize, now: Now) {
        self.lost(lane, now, true);
    }

    /// Answers an [`Action::Invoke`] on `lane`: encodes the `/response` head (the transport
    /// writes the body after it) or the whole `/error` into `out`, to go out with the next
    /// [`poll_transmit`](Driver::poll_transmit). A response over the configured maximum or
    /// with a `Content-Type` that cannot be sent is reported as an error instead.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// # let mut next = *b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\n\
    /// #     Lambda-Runtime-Deadline-Ms: 1700000003000\r\nContent-Length: 2\r\n\r\nhi";
    /// # assert_eq!(driver.handle_input(0, &mut next, now), Input::Done);
    /// # assert!(matches!(driver.poll_action(), Some(Action::Invoke { lane: 0, .. })));
    /// let response = br#""Hello!""#;
    /// let answer = Answer::Response { content_type: "application/json", len: response.len() as u64 };
    /// driver.submit(0, answer, &mut out).unwrap();
    /// let t = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// assert!(out[..t.len].starts_with(b"POST /2018-06-01/runtime/invocation/id-1/response"));
    /// assert!(t.body); // write out[..t.len], then the response's bytes
    /// // An error is `Answer::Error { error_type: "MyError", message: "it failed" }`: the driver
    /// // encodes its whole JSON body into `out`.
    /// ```
    pub fn submit(
        &mut self,
        lane: usize,
        answer: Answer<'_>,
        out: &mut [u8],
    ) -> Result<(), SubmitError> {
        let max_response = self.config.max_response;
        let Some(l) = self.lanes.get_mut(lane) else {
            return Err(SubmitError::WrongState);
        };
        let Step::Invoking { announced, .. } = l.step else {
            return Err(SubmitError::WrongState);
        };
        let endpoint = &self.config.endpoint;
        let ctx = &l.ctx;
        let request = match answer {
            Answer::Response { content_type, len } => {
                if !request::is_header_value(content_type) {
                    Request::Report {
                        report: Report::InvalidContentType,
                        resent: false,
                    }
                } else if len > max_response {
                    self.lane_notice(
                        lane,
                        Notice::ResponseOverMax {
                            request_id: Id::EMPTY,
                            len,
                            max: max_response,
                        },
                    );
                    Request::Report {
                        report: Report::OverMax { len },
                        resent: false,
                    }
                } else {
                    let n = request::response_head_of_checked(
                        endpoint,
                        &ctx.request_id,
                        ctx.invocation_id.as_ref(),
                        content_type,
                        len,
                        out,
                    )
                    .map_err(|e| submit_error(e.into()))?;
                    Request::Answer {
                        len: n,
                        body: true,
                        resent: false,
                    }
                }
            }
            Answer::Error {
                error_type,
                message,
            } => {
                let target = ErrorTarget::Invocation {
                    request_id: &ctx.request_id,
                    invocation_id: ctx.invocation_id.as_ref(),
                };
                let n = request::error(endpoint, target, sendable(error_type), message, out)
                    .map_err(submit_error)?;
                Request::Answer {
                    len: n,
                    body: false,
                    resent: false,
                }
            }
        };
        if !announced {
            self.unannounced = self.unannounced.saturating_sub(1);
        }
        if let Some(l) = self.lanes.get_mut(lane) {
            l.step = Step::Queued { request, at: None };
        }
        Ok(())
    }

    /// Starts a streamed answer for `lane`'s invocation: the returned [`Stream`] encodes its
    /// head, chunks and end, on any thread; the transport writes them on the connection
    /// [`Stream::connection`] names and then calls [`stream_done`](Driver::stream_done).
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// # let mut next = *b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\n\
    /// #     Lambda-Runtime-Deadline-Ms: 1700000003000\r\nContent-Length: 2\r\n\r\nhi";
    /// # assert_eq!(driver.handle_input(0, &mut next, now), Input::Done);
    /// # assert!(matches!(driver.poll_action(), Some(Action::Invoke { lane: 0, .. })));
    /// let mut stream = driver.start_stream(0).unwrap();
    /// let mut buf = [0u8; 1024];
    /// let _ = stream.connection(); // which connection to write on
    /// let n = stream.start("text/plain", &mut buf).unwrap(); // the head: write buf[..n]
    /// assert!(buf[..n].starts_with(b"POST /2018-06-01/runtime/invocation/id-1/response"));
    /// let n = stream.chunk(5, &mut buf).unwrap(); // a chunk's size line: write buf[..n], the
    /// assert_eq!(&buf[..n], b"5\r\n"); // 5 bytes, then CRLF
    /// let n = stream.finish(&mut buf).unwrap(); // the last chunk: write buf[..n]
    /// assert!(n > 0);
    /// driver.stream_done(0, StreamEnd::Finished, now);
    /// ```
    pub fn start_stream(&mut self, lane: usize) -> Result<Stream, WrongState> {
        let l = self.lanes.get_mut(lane).ok_or(WrongState)?;
        let Step::Invoking { event, announced } = &l.step else {
            return Err(WrongState);
        };
        if !announced {
            self.unannounced = self.unannounced.saturating_sub(1);
        }
        let stream = Stream {
            endpoint: self.config.endpoint.clone(),
            request_id: l.ctx.request_id.clone(),
            invocation_id: l.ctx.invocation_id.clone(),
            connection: match l.link {
                Link::Open => Connection::Reuse,
                Link::Closed => Connection::New,
            },
            state: StreamState::Unstarted,
        };
        l.step = Step::Streaming {
            event: event.clone(),
        };
        l.link = Link::Open;
        Ok(stream)
    }

    /// The streamed answer on `lane` ended at `now`, as `end` says.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// # let mut next = *b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\n\
    /// #     Lambda-Runtime-Deadline-Ms: 1700000003000\r\nContent-Length: 2\r\n\r\nhi";
    /// # assert_eq!(driver.handle_input(0, &mut next, now), Input::Done);
    /// # assert!(matches!(driver.poll_action(), Some(Action::Invoke { lane: 0, .. })));
    /// let mut stream = driver.start_stream(0).unwrap();
    /// let mut head = [0u8; 1024];
    /// let _ = stream.start("text/plain", &mut head).unwrap();
    /// // ... the connection broke after some chunks were written:
    /// driver.stream_done(0, StreamEnd::Broken { delivered: true }, now);
    /// // Never resent; the next `/next` goes out on a clean connection.
    /// let later = Now { instant: Instant::from_millis(2_000), unix_ms: now.unix_ms + 2_000 };
    /// driver.handle_timeout(later);
    /// let t = driver.poll_transmit(0, later, &mut out).unwrap().expect("/next");
    /// assert_eq!(t.connection, Connection::New);
    /// ```
    pub fn stream_done(&mut self, lane: usize, end: StreamEnd, now: Now) {
        let shutting_down = matches!(self.phase, Phase::ShuttingDown);
        let Some(l) = self.lanes.get_mut(lane) else {
            return;
        };
        let Step::Streaming { event } = &l.step else {
            return;
        };
        match end {
            StreamEnd::NotStarted => {
                l.step = Step::Invoking {
                    event: event.clone(),
                    announced: true,
                };
            }
            StreamEnd::Finished => {
                l.decoder.reset(Limits::REPLY);
                l.step = Step::Awaiting {
                    request: Request::Stream,
                    written: Some(now.instant),
                    timeout: reply_timeout(Request::Stream, &l.ctx, now, shutting_down),
                };
            }
            StreamEnd::Broken { delivered: false } => {
                l.link = Link::Closed;
                l.step = Step::Queued {
                    request: Request::Report {
                        report: Report::StreamLost,
                        resent: false,
                    },
                    at: None,
                };
            }
            StreamEnd::Broken { delivered: true } => {
                l.link = Link::Closed;
                self.lane_notice(
                    lane,
                    Notice::AnswerLost {
                        request_id: Id::EMPTY,
                    },
                );
                self.after_answer(lane);
            }
        }
    }

    /// Answers [`Action::Init`], [`Action::BeforeSnapshot`] or [`Action::AfterRestore`]: the
    /// phase went well.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// assert_eq!(driver.poll_action(), Some(Action::Init));
    /// // ... the user's initialisation went well:
    /// driver.phase_done().unwrap();
    /// let t = driver.poll_transmit(0, now, &mut out).unwrap().expect("the first /next");
    /// assert!(out[..t.len].starts_with(b"GET /2018-06-01/runtime/invocation/next"));
    /// ```
    pub fn phase_done(&mut self) -> Result<(), WrongState> {
        match self.phase {
            Phase::Init { announced: true } => {
                if self.graceful_shutdown {
                    self.set_phase(Phase::Registering);
                    self.queue(0, Request::Register { resent: false });
                } else {
                    self.after_registration();
                }
            }
            Phase::BeforeSnapshot { announced: true } => {
                self.set_phase(Phase::Restoring);
                self.queue(0, Request::RestoreNext);
            }
            Phase::AfterRestore { announced: true } => self.serve(),
            _ => return Err(WrongState),
        }
        Ok(())
    }

    /// Answers [`Action::Init`], [`Action::BeforeSnapshot`] or [`Action::AfterRestore`]: the
    /// phase failed with this error. Encodes `/init/error` (or `/restore/error` after a
    /// restore) into lane 0's `out`; the runtime exits once it is reported.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// assert_eq!(driver.poll_action(), Some(Action::Init));
    /// driver.phase_failed("Init.Failed", "no database", &mut out).unwrap();
    /// let t = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// assert!(out[..t.len].starts_with(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\n"));
    /// ```
    pub fn phase_failed(
        &mut self,
        error_type: &str,
        message: &str,
        out: &mut [u8],
    ) -> Result<(), SubmitError> {
        let (target, exit) = match self.phase {
            Phase::Init { announced: true } | Phase::BeforeSnapshot { announced: true } => {
                (ErrorTarget::Init, Exit::InitFailed)
            }
            Phase::AfterRestore { announced: true } => (ErrorTarget::Restore, Exit::RestoreFailed),
            _ => return Err(SubmitError::WrongState),
        };
        let n = request::error(
            &self.config.endpoint,
            target,
            sendable(error_type),
            message,
            out,
        )
        .map_err(submit_error)?;
        self.set_phase(Phase::Failing(exit));
        self.queue(
            0,
            Request::PhaseError {
                len: n,
                resent: false,
            },
        );
        Ok(())
    }

    /// SIGTERM arrived at `now`: no new invocation is asked for; those in hand are finished
    /// (a reply already awaited is given a short grace); then [`Exit::Shutdown`].
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// # let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// # driver.transmitted(0, now);
    /// // SIGTERM while waiting on `/next`, no handler running: exit at once.
    /// driver.shutdown(now);
    /// let exit = std::iter::from_fn(|| driver.poll_action())
    ///     .find_map(|a| match a { Action::Exit(e) => Some(e), _ => None });
    /// assert_eq!(exit, Some(Exit::Shutdown));
    /// assert_eq!(Exit::Shutdown.code(), 0);
    /// ```
    pub fn shutdown(&mut self, now: Now) {
        match self.phase {
            Phase::Exited { .. } | Phase::ShuttingDown => return,
            Phase::Serving => {}
            _ => {
                self.exit(Exit::Shutdown);
                return;
            }
        }
        self.set_phase(Phase::ShuttingDown);
        self.notice(Notice::ShuttingDown);
        let grace = now.instant.plus(SHUTDOWN_GRACE_MS);
        for l in self.lanes.iter_mut() {
            match &mut l.step {
                Step::Idle
                | Step::Queued {
                    request: Request::Next | Request::ExtensionNext,
                    ..
                }
                | Step::Awaiting {
                    request: Request::Next | Request::ExtensionNext,
                    ..
                } => l.step = Step::Closed,
                Step::Awaiting {
                    written: Some(_),
                    timeout,
                    ..
                } => *timeout = Some(timeout.map_or(grace, |t| t.min(grace))),
                _ => {}
            }
        }
        self.check_shut_down();
    }

    /// When [`handle_timeout`](Driver::handle_timeout) is next due, if ever.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// driver.connect_failed(0, now);
    /// // A transport waits for its sockets at most until then (mio: the poll's timeout).
    /// let at = driver.poll_timeout().expect("a retry is due");
    /// let wait_ms = now.instant.millis_until(at); // `at.duration_from(now)` with `std`
    /// assert!(wait_ms <= 1_000);
    /// ```
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Exited { .. }) {
            return None;
        }
        // A plain loop: an iterator chain left its closure out of line (code and an unwind
        // entry of its own).
        let mut next: Option<Instant> = None;
        for l in self.lanes.iter() {
            let due = match l.step {
                Step::Queued { at, .. } => at,
                Step::Awaiting {
                    timeout,
                    written: Some(_),
                    ..
                } => timeout,
                _ => None,
            };
            if let Some(t) = due
                && next.is_none_or(|n| t < n)
            {
                next = Some(t);
            }
        }
        next
    }

    /// Time passed: pauses that are over let their request go out (ask
    /// [`poll_transmit`](Driver::poll_transmit)); replies that did not come in time are given
    /// up on.
    ///
    /// ```
    /// # use lamina_core::*;
    /// # let env = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
    /// # let config =
    /// #     Config::from_lookup(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
    /// # let mut lanes = [Lane::default()];
    /// # let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    /// # let now = Now { instant: Instant::from_millis(0), unix_ms: 1_700_000_000_000 };
    /// # let mut out = [0u8; 1024];
    /// # assert_eq!(driver.poll_action(), Some(Action::Init));
    /// # driver.phase_done().unwrap();
    /// let _ = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
    /// driver.connect_failed(0, now);
    /// let at = driver.poll_timeout().unwrap();
    /// // Too early: nothing changes.
    /// driver.handle_timeout(now);
    /// assert!(driver.poll_transmit(0, now, &mut out).unwrap().is_none());
    /// // Due: the retry goes out.
    /// let then = Now { instant: at, unix_ms: now.unix_ms + 10 };
    /// driver.handle_timeout(then);
    /// assert!(driver.poll_transmit(0, then, &mut out).unwrap().is_some());
    /// ```
    pub fn handle_timeout(&mut self, now: Now) {
        for lane in 0..self.lanes.len() {
            let Some(l) = self.lanes.get_mut(lane) else {
                continue;
            };
            match l.step {
                Step::Queued {
                    request,
                    at: Some(t),
                } if t <= now.instant => {
                    l.step = Step::Queued { request, at: None };
                }
                Step::Awaiting {
                    request,
                    written: Some(written),
                    timeout: Some(t),
                } if t <= now.instant => {
                    l.link = Link::Closed;
                    self.reply_timed_out(lane, request, written.millis_until(now.instant));
                }
                _ => {}
            }
        }
    }

    // ----------------------------------------------------------------------------------------

    fn notice(&mut self, notice: Notice) {
        if self.notices.is_full() {
            let _ = self.notices.pop_front();
        }
        let _ = self.notices.push_back(notice);
    }

    /// `notice` about `lane`'s invocation: its request id is filled in here, in one place.
    #[inline(never)]
    fn lane_notice(&mut self, lane: usize, mut notice: Notice) {
        if let (Some(l), Some(id)) = (self.lanes.get(lane), notice.request_id_mut()) {
            id.clone_from(&l.ctx.request_id);
        }
        self.notice(notice);
    }

    /// Moves to `phase`, unless the driver has exited: exit is final, whatever arrives after it.
    fn set_phase(&mut self, phase: Phase) {
        if !matches!(self.phase, Phase::Exited { .. }) {
            self.phase = phase;
        }
    }

    // Out of line: called from a score of places, each a rare path.
    #[inline(never)]
    fn exit(&mut self, exit: Exit) {
        if !matches!(self.phase, Phase::Exited { .. }) {
            self.phase = Phase::Exited {
                exit,
                announced: false,
            };
        }
    }

    /// An init-time failure's report is done with (or lost): exit as the failure said. Whether
    /// the driver was failing. (Out of line: five callers, all rare paths.)
    #[inline(never)]
    fn exit_failing(&mut self) -> bool {
        if let Phase::Failing(exit) = self.phase {
            self.exit(exit);
            true
        } else {
            false
        }
    }

    // Out of line too: a dozen callers, none on a warm invocation's path.
    #[inline(never)]
    fn queue(&mut self, lane: usize, request: Request) {
        if let Some(l) = self.lanes.get_mut(lane) {
            l.step = Step::Queued { request, at: None };
        }
    }

    /// An init-time failure: report it on lane 0, then exit.
    fn fail(&mut self, exit: Exit, report: Report) {
        self.set_phase(Phase::Failing(exit));
        self.queue(
            0,
            Request::Report {
                report,
                resent: false,
            },
        );
    }

    fn after_registration(&mut self) {
        if self.config.init_type == InitType::SnapStart {
            self.set_phase(Phase::BeforeSnapshot { announced: false });
        } else {
            self.serve();
        }
    }

    fn serve(&mut self) {
        self.set_phase(Phase::Serving);
        for l in self.lanes.iter_mut().take(self.invocation_lanes) {
            l.step = Step::Queued {
                request: Request::Next,
                at: None,
            };
        }
    }

    /// An invocation's answer is done with: poll again, or close the lane when shutting down.
    fn after_answer(&mut self, lane: usize) {
        let shutting_down = matches!(self.phase, Phase::ShuttingDown);
        if let Some(l) = self.lanes.get_mut(lane) {
            l.step = if shutting_down {
                Step::Closed
            } else {
                Step::Queued {
                    request: Request::Next,
                    at: None,
                }
            };
        }
        self.check_shut_down();
    }

    fn check_shut_down(&mut self) {
        if matches!(self.phase, Phase::ShuttingDown)
            && self.lanes.iter().all(|l| matches!(l.step, Step::Closed))
        {
            self.exit(Exit::Shutdown);
        }
    }

    fn pause_ms(failures: u32) -> u64 {
        (FIRST_PAUSE_MS << failures.saturating_sub(1).min(16)).min(MAX_PAUSE_MS)
    }

    /// The connection of `lane` is gone with its request's reply unknown; `connected`: it had
    /// been open (a request handed out may have gone out, in part or whole).
    fn lost(&mut self, lane: usize, now: Now, connected: bool) {
        let timeout = self.config.reconnect_timeout_ms;
        let Some(l) = self.lanes.get_mut(lane) else {
            return;
        };
        l.link = Link::Closed;
        let (request, sent) = match l.step {
            Step::Queued { request, .. } => (request, false),
            Step::Awaiting { request, .. } => (request, connected),
            // An idle connection (the handler runs, or a stream owns it) went away: nothing
            // was outstanding on it.
            _ => return,
        };
        l.failures = l.failures.saturating_add(1);
        let pause = Some(now.instant.plus(Self::pause_ms(l.failures)));
        let since = *self.failing_since.get_or_insert(now.instant);
        let elapsed = since.millis_until(now.instant);
        if elapsed >= timeout {
            self.exit(Exit::Unreachable { after_ms: elapsed });
            return;
        }
        let next = match (sent, request.resent()) {
            // Not sent (the connection could not be opened): try again after the pause.
            (false, _) => request,
            // Sent, and its reply unknown: send it again, once.
            (true, Some(again)) => again,
            (true, None) => match request {
                Request::Next | Request::RestoreNext | Request::ExtensionNext => request,
                Request::Register { .. } => request,
                Request::PhaseError { .. } => {
                    self.exit_failing();
                    return;
                }
                Request::Answer { .. } | Request::Report { .. } | Request::Stream => {
                    if request.answers_invocation() {
                        self.lane_notice(
                            lane,
                            Notice::AnswerLost {
                                request_id: Id::EMPTY,
                            },
                        );
                        self.after_answer(lane);
                    } else if self.exit_failing() {
                        return;
                    }
                    if let Some(Step::Queued { at, .. }) =
                        self.lanes.get_mut(lane).map(|l| &mut l.step)
                    {
                        *at = pause;
                    }
                    return;
                }
            },
        };
        if let Some(l) = self.lanes.get_mut(lane) {
            l.step = Step::Queued {
                request: next,
                at: pause,
            };
        }
    }

    fn input(&mut self, lane: usize, buf: &mut [u8], now: Now, eof: bool) -> Input {
        let exited = matches!(self.phase, Phase::Exited { .. });
        let extension_id = &mut self.extension_id;
        let Some(l) = self.lanes.get_mut(lane) else {
            return Input::Close;
        };
        // Exit is final: a reply that arrives after it (read in the same loop turn, before the
        // transport carried out the exit) is dropped unread, never acted on.
        if exited {
            l.link = Link::Closed;
            return Input::Close;
        }
        let (request, written) = match l.step {
            Step::Awaiting {
                request, written, ..
            } => (request, written),
            // A stream owns the connection: its reply is read once it ends.
            Step::Streaming { .. } if !eof => return Input::NeedMore { keep: buf.len() },
            Step::Streaming { .. } => {
                l.link = Link::Closed;
                return Input::Close;
            }
            _ => {
                l.link = Link::Closed;
                if !buf.is_empty() && !matches!(l.step, Step::Closed) {
                    self.notice(Notice::Unsolicited);
                }
                return Input::Close;
            }
        };
        let head = l.decoder.head();
        let Lane {
            decoder,
            ctx,
            decoded,
            ..
        } = l;
        // The head may be read in an earlier call than the one that completes the message:
        // what it said is kept in the lane (and the driver) until then.
        let mut on_head = |status: u16, headers: &[httparse::Header<'_>]| match request {
            Request::Next if (200..300).contains(&status) => {
                *decoded = Some(ctx.decode_fields(headers));
            }
            Request::Register { .. } => {
                // Written in place (an identifier is built in the driver, not moved in).
                let value = headers
                    .iter()
                    .find(|h| eq_ignore_case(h.name.as_bytes(), b"lambda-extension-identifier"))
                    .and_then(|h| core::str::from_utf8(h.value).ok())
                    .filter(|v| request::is_header_value(v));
                let id = extension_id.insert(String::new());
                if value.is_none_or(|v| id.as_mut_view().push_str(v).is_err()) {
                    *extension_id = None;
                }
            }
            _ => {}
        };
        // Only `/next` and the registration read their reply's fields; the other replies (the
        // `202` to every answer) go through the decoder's memo of the last such head.
        let fields = matches!(request, Request::Next | Request::Register { .. });
        let on_head: Option<OnHead<'_>> = if fields { Some(&mut on_head) } else { None };
        match decoder.drive(buf, on_head, eof) {
            // At EOF: no message begun (what `Decoder::finish` calls `Ok(None)`).
            Ok(Status::NeedMore { .. }) if eof => {
                self.lost(lane, now, true);
                Input::Close
            }
            Ok(Status::NeedMore { keep }) => Input::NeedMore { keep },
            Ok(Status::Complete(msg)) => {
                let extra = msg.consumed < buf.len();
                if extra {
                    self.notice(Notice::Unsolicited);
                }
                let close = msg.close || extra || written.is_none() || eof;
                let decoded = self.lanes.get_mut(lane).and_then(|l| l.decoded.take());
                let reuse = self.complete(lane, request, &msg, decoded, now);
                if let Some(l) = self.lanes.get_mut(lane) {
                    l.failures = 0;
                    if close || !reuse {
                        l.link = Link::Closed;
                    }
                }
                self.failing_since = None;
                if close || !reuse {
                    Input::Close
                } else {
                    Input::Done
                }
            }
            Err(error) => {
                if let Some(l) = self.lanes.get_mut(lane) {
                    l.link = Link::Closed;
                }
                if matches!(request, Request::Next) {
                    let head = match head {
                        Some(h) => buf.get(h).unwrap_or_default(),
                        None => buf.get(..Limits::NEXT.max_head).unwrap_or(buf),
                    };
                    self.next_unusable(lane, head, InvalidInvocation::Http(error), now);
                } else if eof && error == DecodeError::UnexpectedEof {
                    self.lost(lane, now, true);
                } else {
                    self.reply_unreadable(lane, request, error);
                }
                Input::Close
            }
        }
    }

    /// A whole reply to `request` on `lane`; whether the connection may carry the next request.
    fn complete(
        &mut self,
        lane: usize,
        request: Request,
        msg: &Message,
        decoded: Option<Result<Warnings, InvalidInvocation>>,
        now: Now,
    ) -> bool {
        let status = msg.status;
        let ok = (200..300).contains(&status);
        match request {
            Request::Next => {
                if !ok {
                    self.exit(Exit::Status {
                        request: RequestKind::Next,
                        status,
                    });
                    return false;
                }
                let decoded = match decoded {
                    Some(Ok(_)) if msg.body_too_large => Err(InvalidInvocation::EventTooLarge),
                    Some(d) => d,
                    None => Err(InvalidInvocation::Http(DecodeError::InvalidHead)),
                };
                match decoded {
                    Ok(warnings) => {
                        self.unusable.streak = 0;
                        let Some(l) = self.lanes.get_mut(lane) else {
                            return false;
                        };
                        l.step = Step::Invoking {
                            event: msg.body.clone(),
                            announced: false,
                        };
                        if !warnings.is_empty() {
                            self.lane_notice(
                                lane,
                                Notice::Warnings {
                                    request_id: Id::EMPTY,
                                    warnings,
                                },
                            );
                        }
                        self.unannounced += 1;
                        true
                    }
                    Err(reason) => {
                        if self
                            .lanes
                            .get(lane)
                            .is_some_and(|l| !l.ctx.request_id.is_empty())
                        {
                            self.unusable.streak = 0;
                            self.invalid_invocation(lane, reason);
                            true
                        } else {
                            self.unusable(lane, reason, now);
                            false
                        }
                    }
                }
            }
            _ if request.answers_invocation() => {
                let resent = request.was_resent();
                let id = Id::EMPTY;
                match status {
                    _ if ok => {}
                    // After a resend, a refusal means the first copy was delivered.
                    400 | 403 | 410 if resent => {}
                    410 => self.lane_notice(lane, Notice::TimedOut { request_id: id }),
                    413 if matches!(
                        request,
                        Request::Answer { body: true, .. } | Request::Stream
                    ) =>
                    {
                        self.lane_notice(lane, Notice::TooLarge { request_id: id });
                        self.queue(
                            lane,
                            Request::Report {
                                report: Report::TooLarge,
                                resent: false,
                            },
                        );
                        return !matches!(request, Request::Stream);
                    }
                    500..=599 => {
                        self.exit(Exit::Status {
                            request: RequestKind::Answer,
                            status,
                        });
                        return false;
                    }
                    _ => self.lane_notice(
                        lane,
                        Notice::Refused {
                            request_id: id,
                            status,
                        },
                    ),
                }
                self.after_answer(lane);
                // A stream's connection is not reused: the next request goes on a clean one.
                !matches!(request, Request::Stream)
            }
            // Always an invocation's answer (above).
            Request::Answer { .. } | Request::Stream => false,
            Request::Report {
                report: Report::Extension(_),
                ..
            } => {
                self.exit(Exit::ExtensionFailed);
                false
            }
            Request::Report { report, .. } => {
                if let (Report::InvalidConfig, Some(invalid)) = (report, self.config.invalid()) {
                    self.exit(Exit::InvalidConfig(invalid));
                }
                false
            }
            Request::PhaseError { .. } => {
                self.exit_failing();
                false
            }
            Request::RestoreNext => {
                if !ok {
                    self.exit(Exit::Status {
                        request: RequestKind::RestoreNext,
                        status,
                    });
                    return false;
                }
                // Sockets do not survive a restore: every lane reconnects.
                for l in self.lanes.iter_mut() {
                    l.link = Link::Closed;
                }
                if let Some(l) = self.lanes.get_mut(0) {
                    l.step = Step::Idle;
                }
                self.set_phase(Phase::AfterRestore { announced: false });
                false
            }
            Request::Register { .. } => {
                if ok && self.extension_id.is_some() {
                    if let Some(l) = self.lanes.get_mut(0) {
                        l.step = Step::Idle;
                    }
                    let ext = self.invocation_lanes;
                    self.queue(ext, Request::ExtensionNext);
                    self.after_registration();
                } else {
                    let status = (!ok).then_some(status);
                    self.fail(Exit::ExtensionFailed, Report::Extension(status));
                }
                true
            }
            Request::ExtensionNext => {
                // An event for an extension that asked for none: keep one request pending.
                self.queue(lane, Request::ExtensionNext);
                true
            }
        }
    }

    /// `lane`'s invocation (its context holds the request id) cannot be served: report it.
    fn invalid_invocation(&mut self, lane: usize, reason: InvalidInvocation) {
        self.lane_notice(
            lane,
            Notice::InvalidInvocation {
                request_id: Id::EMPTY,
                reason,
            },
        );
        self.queue(
            lane,
            Request::Report {
                report: Report::InvalidInvocation(reason),
                resent: false,
            },
        );
    }

    /// A `/next` response that cannot be decoded; answered when its request id can be read
    /// from `head`.
    fn next_unusable(&mut self, lane: usize, head: &[u8], reason: InvalidInvocation, now: Now) {
        let Some(l) = self.lanes.get_mut(lane) else {
            return;
        };
        l.ctx.clear();
        if salvage_into(head, &mut l.ctx.request_id) {
            self.unusable.streak = 0;
            self.invalid_invocation(lane, reason);
        } else {
            self.unusable(lane, reason, now);
        }
    }

    /// No invocation can be answered: poll again after a pause that grows while this goes
    /// on, logging at most one line a second.
    fn unusable(&mut self, lane: usize, reason: InvalidInvocation, now: Now) {
        let u = &mut self.unusable;
        u.streak = u.streak.saturating_add(1);
        u.unreported = u.unreported.saturating_add(1);
        let report = u
            .last_report
            .is_none_or(|t| t.millis_until(now.instant) >= UNUSABLE_REPORT_MS);
        let count = u.unreported;
        if report {
            u.unreported = 0;
            u.last_report = Some(now.instant);
        }
        let pause = now.instant.plus(Self::pause_ms(u.streak));
        if report {
            self.notice(Notice::Unusable { reason, count });
        }
        if let Some(l) = self.lanes.get_mut(lane) {
            l.link = Link::Closed;
            l.step = if matches!(self.phase, Phase::ShuttingDown) {
                Step::Closed
            } else {
                Step::Queued {
                    request: Request::Next,
                    at: Some(pause),
                }
            };
        }
        self.check_shut_down();
    }

    fn reply_unreadable(&mut self, lane: usize, request: Request, error: DecodeError) {
        match request {
            _ if request.answers_invocation() => {
                self.lane_notice(
                    lane,
                    Notice::ReplyUnreadable {
                        request_id: Id::EMPTY,
                        error,
                    },
                );
                self.after_answer(lane);
            }
            Request::Report {
                report: Report::InvalidConfig,
                ..
            } => {
                if let Some(invalid) = self.config.invalid() {
                    self.exit(Exit::InvalidConfig(invalid));
                }
            }
            Request::Report { .. } | Request::Register { .. } => self.exit(Exit::ExtensionFailed),
            // Answers were handled above.
            Request::Answer { .. } | Request::Stream => self.after_answer(lane),
            Request::PhaseError { .. } => {
                self.exit_failing();
            }
            Request::RestoreNext => self.exit(Exit::Status {
                request: RequestKind::RestoreNext,
                status: 0,
            }),
            _ => self.queue(lane, request),
        }
    }

    fn reply_timed_out(&mut self, lane: usize, request: Request, waited_ms: u64) {
        if request.answers_invocation() {
            self.lane_notice(
                lane,
                Notice::ReplyTimedOut {
                    request_id: Id::EMPTY,
                    waited_ms,
                },
            );
            self.after_answer(lane);
            return;
        }
        match request {
            Request::PhaseError { .. } | Request::Report { .. } => {
                self.exit_failing();
            }
            Request::Register { .. } => {
                self.fail(Exit::ExtensionFailed, Report::Extension(None));
            }
            _ => self.queue(lane, request),
        }
    }
}

/// When to stop waiting for the reply to `request` written at `now`: answers get until the
/// invocation's deadline plus 10 s (at least 10 s), other short requests 10 s, long polls
/// forever.
fn reply_timeout(
    request: Request,
    ctx: &Context,
    now: Now,
    shutting_down: bool,
) -> Option<Instant> {
    let ms = match request {
        Request::Next | Request::RestoreNext | Request::ExtensionNext => return None,
        _ if request.answers_invocation() => REPLY_GRACE_MS.max(
            ctx.deadline_ms
                .saturating_add(REPLY_GRACE_MS)
                .saturating_sub(now.unix_ms),
        ),
        _ => REPLY_GRACE_MS,
    };
    let ms = if shutting_down {
        ms.min(SHUTDOWN_GRACE_MS)
    } else {
        ms
    };
    Some(now.instant.plus(ms))
}

#[inline(never)]
fn sendable(error_type: &str) -> &str {
    if request::is_header_value(error_type) {
        error_type
    } else {
        error_type::FALLBACK
    }
}

fn submit_error(e: EncodeError) -> SubmitError {
    match e {
        EncodeError::BufferTooSmall { required } => SubmitError::BufferTooSmall { required },
        // Every header value was made sendable before encoding.
        EncodeError::InvalidHeaderValue => SubmitError::WrongState,
    }
}

/// Encoders that can only fail for want of room (their header values are the driver's own).
fn fits(r: Result<usize, EncodeError>) -> Result<usize, BufferTooSmall> {
    match r {
        Ok(n) => Ok(n),
        Err(EncodeError::BufferTooSmall { required }) => Err(BufferTooSmall { required }),
        // The extension name is a constant and its identifier was checked when received.
        Err(EncodeError::InvalidHeaderValue) => Ok(0),
    }
}

fn encode_report(
    config: &Config,
    ctx: &Context,
    report: Report,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    // The texts with values are written with the request encoder's `Writer` (not
    // `core::fmt`): `message` is empty for those, and the text is in `text`.
    let mut text = [0u8; 256];
    let mut w = Writer::new(&mut text);
    let (error_type, message): (&str, &str) = match report {
        Report::InvalidInvocation(reason) => (error_type::INVALID_INVOCATION, reason.as_str()),
        Report::TooLarge => (
            error_type::RESPONSE_TOO_LARGE,
            "the Runtime API refused the response as too large (413)",
        ),
        Report::OverMax { len } => {
            w.put(b"the response is ");
            w.dec(len);
            w.put(b" bytes, over the maximum of ");
            w.dec(config.max_response);
            w.put(b" bytes");
            (error_type::RESPONSE_TOO_LARGE, "")
        }
        Report::InvalidContentType => (
            error_type::INVALID_RESPONSE,
            "the handler's Content-Type cannot be sent as a header value",
        ),
        Report::StreamLost => (
            error_type::STREAM_LOST,
            "the connection was lost before the response stream reached the Runtime API",
        ),
        Report::InvalidConfig => {
            if let Some(invalid) = config.invalid() {
                w.put(invalid.name.as_bytes());
                w.put(b" is invalid: expected ");
                w.put(invalid.expected.as_bytes());
            }
            (error_type::INVALID_CONFIG, "")
        }
        Report::Extension(Some(status)) => {
            w.put(b"the extension registration was answered ");
            w.dec(u64::from(status));
            (error_type::EXTENSION_REGISTRATION, "")
        }
        Report::Extension(None) => (
            error_type::EXTENSION_REGISTRATION,
            "the extension registration returned no valid Lambda-Extension-Identifier",
        ),
    };
    let n = w.finish().unwrap_or(0);
    let message = if message.is_empty() {
        core::str::from_utf8(text.get(..n).unwrap_or_default()).unwrap_or_default()
    } else {
        message
    };
    let target = if report.is_invocation() {
        ErrorTarget::Invocation {
            request_id: &ctx.request_id,
            invocation_id: ctx.invocation_id.as_ref(),
        }
    } else {
        ErrorTarget::Init
    };
    fits(request::error(
        &config.endpoint,
        target,
        error_type,
        message,
        out,
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    Unstarted,
    Open,
    Ended,
}

/// Encodes one invocation's streamed answer (from [`Driver::start_stream`]): the head at the
/// first bytes, one size line per chunk, then the end, or the error in trailers. It needs no
/// driver, so the handler's thread can use it.
#[derive(Debug, Clone)]
pub struct Stream {
    endpoint: Endpoint,
    request_id: Id,
    invocation_id: Option<Id>,
    connection: Connection,
    state: StreamState,
}

/// A [`Stream`] verb that could not be encoded; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamError {
    /// Not in this order: `start`, then chunks, then `finish` or `fail`.
    WrongState,
    /// The `Content-Type` cannot be sent as a header value.
    InvalidContentType,
    /// `out` is too small: grow it to `required` bytes and call again.
    BufferTooSmall {
        /// Bytes needed.
        required: usize,
    },
}

impl core::fmt::Display for StreamError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StreamError::WrongState => f.write_str("the stream has not started or has ended"),
            StreamError::InvalidContentType => {
                f.write_str("the Content-Type cannot be sent as a header value")
            }
            StreamError::BufferTooSmall { required } => {
                write!(f, "buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for StreamError {}

impl From<BufferTooSmall> for StreamError {
    fn from(e: BufferTooSmall) -> Self {
        StreamError::BufferTooSmall {
            required: e.required,
        }
    }
}

impl Stream {
    /// The connection the stream goes out on: the lane's own, or a new one.
    pub fn connection(&self) -> Connection {
        self.connection
    }

    /// Whether the head was encoded.
    pub fn is_started(&self) -> bool {
        self.state != StreamState::Unstarted
    }

    /// The head: `POST .../response`, chunked, response mode `streaming`, the error trailers
    /// declared.
    pub fn start(&mut self, content_type: &str, out: &mut [u8]) -> Result<usize, StreamError> {
        if self.state != StreamState::Unstarted {
            return Err(StreamError::WrongState);
        }
        let n = request::stream_head(
            &self.endpoint,
            &self.request_id,
            self.invocation_id.as_ref(),
            content_type,
            out,
        )
        .map_err(|e| match e {
            EncodeError::BufferTooSmall { required } => StreamError::BufferTooSmall { required },
            EncodeError::InvalidHeaderValue => StreamError::InvalidContentType,
        })?;
        self.state = StreamState::Open;
        Ok(n)
    }

    /// The size line of a chunk of `len` bytes; the data and [`request::CHUNK_END`] follow it.
    /// A zero length encodes nothing: an empty chunk would end the stream.
    pub fn chunk(&self, len: usize, out: &mut [u8]) -> Result<usize, StreamError> {
        if self.state != StreamState::Open {
            return Err(StreamError::WrongState);
        }
        Ok(request::chunk_head(len, out)?)
    }

    /// The end of a stream that went well.
    pub fn finish(&mut self, out: &mut [u8]) -> Result<usize, StreamError> {
        if self.state != StreamState::Open {
            return Err(StreamError::WrongState);
        }
        let n = request::stream_end(out)?;
        self.state = StreamState::Ended;
        Ok(n)
    }

    /// The end of a stream that failed after it began: the error in trailers.
    pub fn fail(
        &mut self,
        error_type: &str,
        message: &str,
        out: &mut [u8],
    ) -> Result<usize, StreamError> {
        if self.state != StreamState::Open {
            return Err(StreamError::WrongState);
        }
        let n =
            request::stream_error_end(sendable(error_type), message, out).map_err(|e| match e {
                EncodeError::BufferTooSmall { required } => {
                    StreamError::BufferTooSmall { required }
                }
                EncodeError::InvalidHeaderValue => StreamError::WrongState,
            })?;
        self.state = StreamState::Ended;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String as StdString;
    use std::vec::Vec;
    use std::{format, vec};

    const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-1\r\n\
Lambda-Runtime-Deadline-Ms: 1000000\r\nContent-Length: 7\r\n\r\n{\"a\":1}";

    fn next_for(id: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
             Lambda-Runtime-Deadline-Ms: 1000000\r\nContent-Length: 2\r\n\r\nhi"
        )
        .into_bytes()
    }

    fn reply(status: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").into_bytes()
    }

    fn at(ms: u64) -> Now {
        Now {
            instant: Instant::from_millis(ms),
            unix_ms: 1_000_000 + ms,
        }
    }

    fn config(env: &[(&str, &str)]) -> Config {
        let mut all = vec![("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
        all.extend_from_slice(env);
        Config::from_lookup(|n| all.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap()
    }

    /// A transport in memory: the driver, its lanes' output buffers, and what was written.
    struct Sim<'l> {
        d: Driver<'l>,
        out: Vec<Vec<u8>>,
        now: Now,
    }

    impl<'l> Sim<'l> {
        fn new(lanes: &'l mut [Lane], config: Config, options: Options) -> Sim<'l> {
            let d = Driver::new(config, options, lanes).unwrap();
            let n = d.lanes();
            Sim {
                d,
                out: vec![vec![0u8; 4096]; n],
                now: at(0),
            }
        }

        fn actions(&mut self) -> Vec<Action> {
            core::iter::from_fn(|| self.d.poll_action()).collect()
        }

        /// The action list without log lines.
        fn acts(&mut self) -> Vec<Action> {
            self.actions()
                .into_iter()
                .filter(|a| !matches!(a, Action::Log(_)))
                .collect()
        }

        fn notices(&mut self) -> Vec<Notice> {
            self.actions()
                .into_iter()
                .filter_map(|a| match a {
                    Action::Log(n) => Some(n),
                    _ => None,
                })
                .collect()
        }

        /// The next request on `lane`, written whole: its text and how it went out.
        fn send(&mut self, lane: usize) -> Option<(StdString, Transmit)> {
            let t = self
                .d
                .poll_transmit(lane, self.now, &mut self.out[lane])
                .unwrap()?;
            self.d.transmitted(lane, self.now);
            let text = StdString::from_utf8_lossy(&self.out[lane][..t.len]).into_owned();
            Some((text, t))
        }

        /// Sends the next request on `lane`, which must be due.
        fn put(&mut self, lane: usize) {
            let _ = self.send(lane).expect("a request");
        }

        fn feed(&mut self, lane: usize, bytes: &[u8]) -> Input {
            let mut buf = bytes.to_vec();
            self.d.handle_input(lane, &mut buf, self.now)
        }

        /// Init done, serving: the first `/next` is out on lane 0.
        fn serving(&mut self) {
            assert_eq!(self.acts(), [Action::Init]);
            self.d.phase_done().unwrap();
        }

        /// Serves one invocation on `lane` up to its `Invoke`.
        fn invoke(&mut self, lane: usize, next: &[u8]) -> Range<usize> {
            let (text, _) = self.send(lane).expect("a /next");
            assert!(
                text.starts_with("GET /2018-06-01/runtime/invocation/next "),
                "{text}"
            );
            assert_eq!(self.feed(lane, next), Input::Done);
            match self.acts().as_slice() {
                [Action::Invoke { lane: l, event }] if *l == lane => event.clone(),
                other => panic!("{other:?}"),
            }
        }

        fn respond(&mut self, lane: usize, len: u64) {
            let answer = Answer::Response {
                content_type: "application/json",
                len,
            };
            self.d.submit(lane, answer, &mut self.out[lane]).unwrap();
        }
    }

    fn lanes<const N: usize>() -> [Lane; N] {
        core::array::from_fn(|_| Lane::default())
    }

    // Exit is final (found by the state_machine fuzz target): a reply read after it, before the
    // transport carried the exit out, neither restarts the driver nor loses the exit.
    #[test]
    fn a_reply_after_exit_does_not_bring_the_driver_back() {
        let mut l = lanes::<1>();
        let env = [("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")];
        let mut s = Sim::new(&mut l, config(&env), Options::default());
        s.serving();
        assert_eq!(s.acts(), [Action::BeforeSnapshot]);
        s.d.phase_done().unwrap();
        s.put(0); // GET /restore/next
        assert_eq!(s.feed(0, &reply("403 Forbidden")), Input::Close);
        assert!(matches!(s.acts()[..], [Action::Exit(Exit::Status { .. })]));
        assert_eq!(s.feed(0, &reply("200 OK")), Input::Close);
        assert_eq!(s.acts(), [], "nothing after Exit");
        assert!(s.send(0).is_none());
        assert_eq!(s.d.poll_timeout(), None);
    }

    #[test]
    fn a_registration_reply_after_a_sigterm_exit_does_not_serve() {
        let mut l = lanes::<2>();
        let options = Options {
            graceful_shutdown: true,
            ..Options::default()
        };
        let mut s = Sim::new(&mut l, config(&[]), options);
        s.serving();
        s.put(0); // POST /extension/register
        s.d.shutdown(s.now); // SIGTERM during init
        let ok =
            b"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext-1\r\nContent-Length: 0\r\n\r\n";
        // Read in the same loop turn, before the transport took the actions.
        assert_eq!(s.feed(0, ok), Input::Close);
        assert_eq!(s.acts(), [Action::Exit(Exit::Shutdown)]);
        assert!(s.send(0).is_none() && s.send(1).is_none());
    }

    #[test]
    fn one_invocation_end_to_end() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        assert_eq!(s.d.reading(0), Reading::Nothing);
        assert!(s.send(0).is_none(), "nothing before init is done");
        s.serving();
        let (text, t) = s.send(0).unwrap();
        assert_eq!(t.connection, Connection::New);
        assert!(!t.body);
        assert_eq!(
            text,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\
             User-Agent: lamina/0.1.0\r\n\r\n"
        );
        assert_eq!(s.d.reading(0), Reading::Event);
        let mut buf = NEXT.to_vec();
        assert_eq!(s.d.handle_input(0, &mut buf, s.now), Input::Done);
        let acts = s.acts();
        let [Action::Invoke { lane: 0, event }] = &acts[..] else {
            panic!("{acts:?}")
        };
        let event = event.clone();
        assert_eq!(&buf[event], b"{\"a\":1}");
        assert_eq!(s.d.context(0).unwrap().request_id.as_str(), "req-1");
        assert_eq!(s.d.reading(0), Reading::Nothing);
        s.respond(0, 2);
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("POST /2018-06-01/runtime/invocation/req-1/response "));
        assert!(text.ends_with("Content-Length: 2\r\n\r\n"));
        assert_eq!((t.body, t.connection), (true, Connection::Reuse));
        assert_eq!(s.d.reading(0), Reading::Reply);
        assert!(s.d.context(0).is_none());
        assert_eq!(s.feed(0, &reply("202 Accepted")), Input::Done);
        assert!(s.actions().is_empty());
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("GET /2018-06-01/runtime/invocation/next "));
        assert_eq!(t.connection, Connection::Reuse);
    }

    #[test]
    fn verbs_out_of_turn_change_nothing() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        let mut out = [0u8; 512];
        let answer = Answer::Error {
            error_type: "E",
            message: "m",
        };
        assert_eq!(
            s.d.submit(0, answer, &mut out),
            Err(SubmitError::WrongState)
        );
        assert_eq!(
            s.d.submit(7, answer, &mut out),
            Err(SubmitError::WrongState)
        );
        assert_eq!(s.d.phase_done(), Err(WrongState), "Init not handed out yet");
        assert!(s.d.start_stream(0).is_err());
        s.serving();
        assert_eq!(s.d.phase_done(), Err(WrongState));
        assert_eq!(s.feed(3, b"x"), Input::Close);
        assert_eq!(s.d.poll_transmit(3, s.now, &mut out), Ok(None));
        // A buffer too small leaves the request queued.
        let Err(BufferTooSmall { required }) = s.d.poll_transmit(0, s.now, &mut out[..10]) else {
            panic!()
        };
        assert!(required > 10);
        assert!(s.send(0).is_some());
    }

    #[test]
    fn submit_into_a_small_buffer_is_retried() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        let long = "x".repeat(5000);
        let answer = Answer::Error {
            error_type: "Big",
            message: &long,
        };
        let Err(SubmitError::BufferTooSmall { required }) = s.d.submit(0, answer, &mut s.out[0])
        else {
            panic!()
        };
        assert!(s.d.context(0).is_some(), "still invoking");
        s.out[0].resize(required, 0);
        s.d.submit(0, answer, &mut s.out[0]).unwrap();
        let (text, _) = s.send(0).unwrap();
        assert!(text.starts_with("POST /2018-06-01/runtime/invocation/req-1/error "));
        assert!(text.contains(&long));
    }

    #[test]
    fn replies_to_answers_by_status() {
        let cases: &[(&str, Option<&str>, bool)] = &[
            ("202 Accepted", None, false),
            ("200 OK", None, false),
            ("400 Bad Request", Some("refused with status 400"), false),
            ("403 Forbidden", Some("refused with status 403"), false),
            ("404 Not Found", Some("refused with status 404"), false),
            ("410 Gone", Some("timed out (410 Gone)"), false),
            ("500 Oops", None, true),
            ("503 Busy", None, true),
        ];
        for (status, notice, exits) in cases {
            let mut l = lanes::<1>();
            let mut s = Sim::new(&mut l, config(&[]), Options::default());
            s.serving();
            s.invoke(0, NEXT);
            s.respond(0, 1);
            s.put(0);
            let _ = s.feed(0, &reply(status));
            let actions = s.actions();
            let logged: Vec<StdString> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Log(n) => Some(format!("{n}")),
                    _ => None,
                })
                .collect();
            match notice {
                Some(n) => assert!(logged.len() == 1 && logged[0].contains(n), "{logged:?}"),
                None => assert!(logged.is_empty(), "{status}: {logged:?}"),
            }
            if *exits {
                assert!(
                    actions.iter().any(|a| matches!(
                        a,
                        Action::Exit(Exit::Status {
                            request: RequestKind::Answer,
                            ..
                        })
                    )),
                    "{status}"
                );
                assert!(s.send(0).is_none());
            } else {
                let (text, _) = s.send(0).unwrap();
                assert!(text.starts_with("GET "), "{status}: {text}");
            }
        }
    }

    #[test]
    fn payload_too_large_becomes_an_error_report() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        s.respond(0, 1);
        s.put(0);
        assert_eq!(s.feed(0, &reply("413 Payload Too Large")), Input::Done);
        assert!(matches!(s.notices()[..], [Notice::TooLarge { .. }]));
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("POST /2018-06-01/runtime/invocation/req-1/error "));
        assert!(text.contains("Lambda-Runtime-Function-Error-Type: Function.ResponseSizeTooLarge"));
        assert!(!t.body);
        // A 413 to the error report is only logged.
        let _ = s.feed(0, &reply("413 Payload Too Large"));
        assert!(matches!(
            s.notices()[..],
            [Notice::Refused { status: 413, .. }]
        ));
        assert!(s.send(0).unwrap().0.starts_with("GET "));
    }

    #[test]
    fn responses_over_the_maximum_or_with_a_bad_content_type_are_errors() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(
            &mut l,
            config(&[("LAMINA_MAX_RESPONSE_BYTES", "10")]),
            Options::default(),
        );
        s.serving();
        s.invoke(0, NEXT);
        s.respond(0, 11);
        let (text, t) = s.send(0).unwrap();
        assert!(!t.body);
        assert!(text.contains("Function.ResponseSizeTooLarge"), "{text}");
        assert!(text.contains("the response is 11 bytes, over the maximum of 10 bytes"));
        let _ = s.feed(0, &reply("202 Accepted"));
        s.invoke(0, NEXT);
        let answer = Answer::Response {
            content_type: "text/plain\r\nX-Evil: 1",
            len: 1,
        };
        s.d.submit(0, answer, &mut s.out[0]).unwrap();
        let (text, _) = s.send(0).unwrap();
        assert!(text.contains("Lambda-Runtime-Function-Error-Type: InvalidResponse"));
        assert!(!text.contains("X-Evil"));
    }

    #[test]
    fn error_types_that_cannot_be_headers_fall_back() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        let answer = Answer::Error {
            error_type: "Evil\r\nX-Injected: 1",
            message: "m",
        };
        s.d.submit(0, answer, &mut s.out[0]).unwrap();
        let (text, _) = s.send(0).unwrap();
        assert!(!text.contains("X-Injected"));
        assert!(text.contains("Lambda-Runtime-Function-Error-Type: Handler.Error\r\n"));
    }

    #[test]
    fn invalid_invocation_with_an_id_is_answered() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.put(0);
        let bad = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r2\r\n\
Lambda-Runtime-Deadline-Ms: soon\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(s.feed(0, bad), Input::Done);
        let acts = s.actions();
        assert!(matches!(
            acts[..],
            [Action::Log(Notice::InvalidInvocation {
                reason: InvalidInvocation::InvalidDeadline,
                ..
            })]
        ));
        let (text, _) = s.send(0).unwrap();
        assert!(text.starts_with("POST /2018-06-01/runtime/invocation/r2/error "));
        assert!(text.contains("Runtime.InvalidInvocation"));
        let _ = s.feed(0, &reply("202 Accepted"));
        assert!(s.send(0).unwrap().0.starts_with("GET "));
    }

    #[test]
    fn event_over_the_maximum_is_drained_and_answered() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(
            &mut l,
            config(&[("LAMINA_MAX_EVENT_BYTES", "3")]),
            Options::default(),
        );
        s.serving();
        s.put(0);
        assert_eq!(s.feed(0, NEXT), Input::Done, "the connection stays usable");
        assert!(matches!(
            s.notices()[..],
            [Notice::InvalidInvocation {
                reason: InvalidInvocation::EventTooLarge,
                ..
            }]
        ));
        let (text, t) = s.send(0).unwrap();
        assert!(text.contains("/invocation/req-1/error "));
        assert_eq!(t.connection, Connection::Reuse);
    }

    #[test]
    fn unusable_next_without_an_id_backs_off_and_logs_once_a_second() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        let mut pauses = Vec::new();
        let mut logged = 0;
        for _ in 0..12 {
            let (_, t) = s.send(0).unwrap();
            assert_eq!(
                t.connection,
                Connection::New,
                "a fresh connection after garbage"
            );
            assert_eq!(s.feed(0, b"SSH-2.0-OpenSSH\r\n\r\n"), Input::Close);
            logged += s.notices().len();
            assert!(s.send(0).is_none(), "not before the pause");
            let due = s.d.poll_timeout().unwrap();
            pauses.push(s.now.instant.millis_until(due));
            s.now = Now {
                instant: due,
                unix_ms: s.now.unix_ms,
            };
            s.d.handle_timeout(s.now);
        }
        assert_eq!(
            pauses,
            [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000, 1000]
        );
        // 12 answers over ~6.3 s: the first, then about one line a second.
        assert!((5..=8).contains(&logged), "{logged}");
        // A good one resets the pause.
        s.invoke(0, NEXT);
        s.respond(0, 1);
        s.put(0);
        let _ = s.feed(0, &reply("202 Accepted"));
        s.put(0);
        let _ = s.feed(0, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(s.now.instant.millis_until(s.d.poll_timeout().unwrap()), 10);
    }

    #[test]
    fn next_refused_or_500_exits() {
        for status in [
            "403 Forbidden",
            "500 Internal Server Error",
            "404 Not Found",
        ] {
            let mut l = lanes::<1>();
            let mut s = Sim::new(&mut l, config(&[]), Options::default());
            s.serving();
            s.put(0);
            let _ = s.feed(0, &reply(status));
            assert!(
                matches!(
                    s.acts()[..],
                    [Action::Exit(Exit::Status {
                        request: RequestKind::Next,
                        ..
                    })]
                ),
                "{status}"
            );
            assert!(s.send(0).is_none());
            assert_eq!(s.d.poll_timeout(), None);
        }
    }

    #[test]
    fn interim_responses_before_the_final_one() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        let mut next =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n".to_vec();
        next.extend_from_slice(NEXT);
        let event = s.invoke(0, &next);
        assert_eq!(event.len(), 7);
        s.respond(0, 1);
        s.put(0);
        let mut r = reply("100 Continue");
        r.extend_from_slice(&reply("202 Accepted"));
        assert_eq!(s.feed(0, &r), Input::Done);
        assert!(s.notices().is_empty());
    }

    #[test]
    fn bytes_nobody_asked_for_close_the_connection() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        // Before any request.
        assert_eq!(s.d.reading(0), Reading::Nothing);
        assert_eq!(s.feed(0, &next_for("fake")), Input::Close);
        assert!(matches!(s.notices()[..], [Notice::Unsolicited]));
        // While the handler runs.
        s.invoke(0, NEXT);
        assert_eq!(s.feed(0, &next_for("fake")), Input::Close);
        assert!(matches!(s.notices()[..], [Notice::Unsolicited]));
        s.respond(0, 1);
        let (_, t) = s.send(0).unwrap();
        assert_eq!(t.connection, Connection::New);
        // After a complete reply, in the same read: the reply counts, the rest does not.
        let mut r = reply("202 Accepted");
        r.extend_from_slice(&next_for("fake"));
        assert_eq!(s.feed(0, &r), Input::Close);
        assert!(matches!(s.notices()[..], [Notice::Unsolicited]));
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("GET "));
        assert_eq!(t.connection, Connection::New);
        // An EOF on an idle lane is no failure.
        assert_eq!(s.feed(0, NEXT), Input::Done);
        assert!(matches!(s.acts()[..], [Action::Invoke { .. }]));
        s.d.handle_eof(0, &mut [], s.now);
        assert!(s.notices().is_empty());
        assert_eq!(s.d.poll_timeout(), None);
    }

    #[test]
    fn an_early_reply_stops_the_write_and_the_connection() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        s.respond(0, 5_000_000);
        let t = s.d.poll_transmit(0, s.now, &mut s.out[0]).unwrap().unwrap();
        assert!(t.body);
        // The reply arrives while the body is still being written.
        assert_eq!(s.feed(0, &reply("202 Accepted")), Input::Close);
        s.d.transmitted(0, s.now);
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("GET "));
        assert_eq!(t.connection, Connection::New);
    }

    #[test]
    fn a_lost_answer_is_resent_once() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        // /next lost: poll again, on a new connection, after a pause.
        s.put(0);
        s.d.handle_eof(0, &mut [], s.now);
        assert!(s.send(0).is_none());
        s.now = at(10);
        s.d.handle_timeout(s.now);
        s.invoke(0, NEXT);
        s.respond(0, 1);
        let (first, _) = s.send(0).unwrap();
        s.d.connection_lost(0, s.now);
        s.now = at(20);
        s.d.handle_timeout(s.now);
        let t = s.d.poll_transmit(0, s.now, &mut s.out[0]).unwrap().unwrap();
        assert_eq!((t.connection, t.body), (Connection::New, true));
        assert_eq!(&s.out[0][..t.len], first.as_bytes(), "the same bytes again");
        s.d.transmitted(0, s.now);
        // The first copy had arrived: a refusal of the resend counts as delivered.
        let _ = s.feed(0, &reply("400 Bad Request"));
        assert!(s.notices().is_empty());
        assert!(s.send(0).unwrap().0.starts_with("GET "));
        let _ = s.feed(0, NEXT);
        let _ = s.acts();
        s.d.submit(
            0,
            Answer::Error {
                error_type: "E",
                message: "m",
            },
            &mut s.out[0],
        )
        .unwrap();
        s.put(0);
        s.d.handle_eof(0, &mut b"HTTP/1.1 20".to_vec(), s.now);
        s.now = at(100);
        s.d.handle_timeout(s.now);
        s.put(0);
        s.d.connection_lost(0, s.now);
        assert!(matches!(s.notices()[..], [Notice::AnswerLost { .. }]));
        s.now = at(200);
        s.d.handle_timeout(s.now);
        assert!(s.send(0).unwrap().0.starts_with("GET "));
    }

    /// Found by the shared suite: an event whose body came in a later read than its head was
    /// refused as an invalid head (what the head said was lost between the two reads).
    #[test]
    fn a_body_read_after_its_head_is_served() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.put(0);
        let head_end = NEXT.len() - 7;
        let mut buf = NEXT.to_vec();
        let Input::NeedMore { keep } = s.d.handle_input(0, &mut buf[..head_end + 2], s.now) else {
            panic!("the body is not all there")
        };
        assert_eq!(keep, head_end + 2);
        assert_eq!(s.d.handle_input(0, &mut buf, s.now), Input::Done);
        let acts = s.actions();
        assert!(matches!(acts[..], [Action::Invoke { .. }]), "{acts:?}");
        assert_eq!(s.d.context(0).unwrap().request_id.as_str(), "req-1");
    }

    /// Found by the tokio transport: a failed connect spent the single resend, so two failed
    /// connects lost an answer that was never sent.
    #[test]
    fn a_failed_connect_is_no_send() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        s.respond(0, 1);
        for t in [0, 10, 30, 70] {
            s.now = at(t);
            s.d.handle_timeout(s.now);
            let t = s.d.poll_transmit(0, s.now, &mut s.out[0]).unwrap().unwrap();
            assert!(t.body, "still the answer");
            s.d.connect_failed(0, s.now);
            assert!(
                !s.notices()
                    .iter()
                    .any(|n| matches!(n, Notice::AnswerLost { .. }))
            );
        }
        s.now = at(200);
        s.d.handle_timeout(s.now);
        let (text, _) = s.send(0).unwrap();
        assert!(text.contains("/invocation/req-1/response "));
        // Once it went out and the connection broke, it is resent once, then given up.
        s.d.connection_lost(0, s.now);
        s.now = at(400);
        s.d.handle_timeout(s.now);
        s.put(0);
        s.d.connection_lost(0, s.now);
        assert!(matches!(s.notices()[..], [Notice::AnswerLost { .. }]));
    }

    #[test]
    fn next_cut_short_after_its_id_is_answered() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.put(0);
        let mut cut = NEXT[..NEXT.len() - 3].to_vec();
        assert!(matches!(s.feed(0, &cut), Input::NeedMore { .. }));
        s.d.handle_eof(0, &mut cut, s.now);
        assert!(matches!(
            s.notices()[..],
            [Notice::InvalidInvocation {
                reason: InvalidInvocation::Http(DecodeError::UnexpectedEof),
                ..
            }]
        ));
        let (text, t) = s.send(0).unwrap();
        assert!(text.contains("/invocation/req-1/error "));
        assert_eq!(t.connection, Connection::New);
        let _ = s.feed(0, &reply("202 Accepted"));
        // A body line that looks like a header is not taken for the id.
        s.put(0);
        let mut cut =
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nLambda-Runtime-Aws-Request-Id: x\r\n"
                .to_vec();
        let _ = s.feed(0, &cut);
        s.d.handle_eof(0, &mut cut, s.now);
        assert!(matches!(s.notices()[..], [Notice::Unusable { .. }]));
    }

    #[test]
    fn a_reply_that_never_comes_is_given_up_on() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        // The deadline (unix 1,000,000 ms) is 5 s away: the wait is bounded by 10 s anyway.
        s.now = Now {
            instant: Instant::from_millis(1000),
            unix_ms: 995_000,
        };
        s.respond(0, 1);
        s.put(0);
        assert_eq!(
            s.d.poll_timeout(),
            Some(Instant::from_millis(1000 + 15_000))
        );
        s.now.instant = Instant::from_millis(15_999);
        s.d.handle_timeout(s.now);
        assert!(s.notices().is_empty());
        s.now.instant = Instant::from_millis(16_000);
        s.d.handle_timeout(s.now);
        assert!(matches!(
            s.notices()[..],
            [Notice::ReplyTimedOut {
                waited_ms: 15_000,
                ..
            }]
        ));
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("GET "));
        assert_eq!(
            t.connection,
            Connection::New,
            "never on the connection that owes a reply"
        );
        // The late reply, if it comes, is not taken for anything.
        assert_eq!(s.d.reading(0), Reading::Event);
    }

    #[test]
    fn unreachable_gives_up_after_the_timeout() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(
            &mut l,
            config(&[("LAMINA_RECONNECT_TIMEOUT_MS", "1000")]),
            Options::default(),
        );
        s.serving();
        let mut t = 0;
        loop {
            let Ok(Some(_)) = s.d.poll_transmit(0, at(t), &mut s.out[0]) else {
                panic!("no retry at {t}")
            };
            s.d.connect_failed(0, at(t));
            let acts = s.actions();
            if t == 0 {
                assert!(matches!(
                    acts[..],
                    [Action::Log(Notice::Unreachable { retry_for_ms: 1000 })]
                ));
            }
            if let Some(Action::Exit(e)) = acts.last() {
                assert!(matches!(e, Exit::Unreachable { after_ms } if *after_ms >= 1000));
                assert!(t >= 1000);
                break;
            }
            t = s.d.poll_timeout().unwrap().as_millis();
            s.d.handle_timeout(at(t));
        }
    }

    #[test]
    fn invalid_settings_are_reported_then_exit() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(
            &mut l,
            config(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")]),
            Options::default(),
        );
        assert!(s.acts().is_empty(), "no init with invalid settings");
        let (text, t) = s.send(0).unwrap();
        assert_eq!(t.connection, Connection::New);
        assert!(text.starts_with("POST /2018-06-01/runtime/init/error "));
        assert!(text.contains("Lambda-Runtime-Function-Error-Type: Runtime.InvalidConfig"));
        assert!(text.contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE is invalid"));
        let _ = s.feed(0, &reply("202 Accepted"));
        let acts = s.acts();
        let [Action::Exit(exit)] = acts[..] else {
            panic!("{acts:?}")
        };
        assert_eq!(exit.code(), 1);
        assert!(format!("{exit}").contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
    }

    #[test]
    fn init_failure_is_reported_then_exit() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        assert_eq!(s.acts(), [Action::Init]);
        s.d.phase_failed("Init.Failed", "no config", &mut s.out[0])
            .unwrap();
        let (text, _) = s.send(0).unwrap();
        assert!(text.starts_with("POST /2018-06-01/runtime/init/error "));
        assert!(text.contains("no config"));
        s.d.connection_lost(0, s.now);
        s.now = at(10);
        s.d.handle_timeout(s.now);
        let (again, _) = s.send(0).unwrap();
        assert_eq!(again, text, "resent once");
        let _ = s.feed(0, &reply("500 Oops"));
        assert_eq!(s.acts(), [Action::Exit(Exit::InitFailed)]);
    }

    #[test]
    fn snap_start_restores_on_new_connections() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(
            &mut l,
            config(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")]),
            Options::default(),
        );
        s.serving();
        assert_eq!(s.acts(), [Action::BeforeSnapshot]);
        assert!(s.send(0).is_none());
        s.d.phase_done().unwrap();
        let (text, _) = s.send(0).unwrap();
        assert!(text.starts_with("GET /2018-06-01/runtime/restore/next "));
        assert_eq!(s.d.poll_timeout(), None, "a long poll");
        assert_eq!(s.feed(0, &reply("200 OK")), Input::Close);
        assert_eq!(s.acts(), [Action::AfterRestore]);
        assert!(s.send(0).is_none());
        s.d.phase_done().unwrap();
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("GET /2018-06-01/runtime/invocation/next "));
        assert_eq!(t.connection, Connection::New);
        // An after-restore failure goes to /restore/error.
        let mut l = lanes::<1>();
        let mut s = Sim::new(
            &mut l,
            config(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")]),
            Options::default(),
        );
        s.serving();
        let _ = s.acts();
        s.d.phase_done().unwrap();
        s.put(0);
        let _ = s.feed(0, &reply("200 OK"));
        let _ = s.acts();
        s.d.phase_failed("Hook", "bad", &mut s.out[0]).unwrap();
        let (text, _) = s.send(0).unwrap();
        assert!(text.starts_with("POST /2018-06-01/runtime/restore/error "));
        let _ = s.feed(0, &reply("202 Accepted"));
        assert_eq!(s.acts(), [Action::Exit(Exit::RestoreFailed)]);
    }

    #[test]
    fn graceful_shutdown_registers_and_keeps_event_next_pending() {
        let mut l = lanes::<2>();
        let options = Options {
            graceful_shutdown: true,
            ..Options::default()
        };
        let mut s = Sim::new(&mut l, config(&[]), options);
        assert_eq!((s.d.lanes(), s.d.extension_lane()), (2, Some(1)));
        s.serving();
        let (text, _) = s.send(0).unwrap();
        assert!(text.starts_with("POST /2020-01-01/extension/register "));
        assert!(text.contains("Lambda-Extension-Name: lamina\r\n"));
        let ok = b"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext-42\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(s.feed(0, ok), Input::Done);
        let (text, t) = s.send(1).unwrap();
        assert!(text.starts_with("GET /2020-01-01/extension/event/next "));
        assert!(text.contains("Lambda-Extension-Identifier: ext-42\r\n"));
        assert_eq!(t.connection, Connection::New);
        assert_eq!(s.d.poll_timeout(), None);
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("GET /2018-06-01/runtime/invocation/next "));
        assert_eq!(t.connection, Connection::Reuse);
        // SIGTERM while waiting on /next: exit at once.
        s.d.shutdown(s.now);
        assert_eq!(s.acts(), [Action::Exit(Exit::Shutdown)]);
        // Registration refused: /init/error, exit.
        let mut l = lanes::<2>();
        let mut s = Sim::new(&mut l, config(&[]), options);
        s.serving();
        s.put(0);
        let _ = s.feed(0, &reply("403 Forbidden"));
        let (text, _) = s.send(0).unwrap();
        assert!(text.starts_with("POST /2018-06-01/runtime/init/error "));
        assert!(text.contains("Runtime.ExtensionRegistration"));
        let _ = s.feed(0, &reply("202 Accepted"));
        assert_eq!(s.acts(), [Action::Exit(Exit::ExtensionFailed)]);
    }

    #[test]
    fn shutdown_finishes_the_invocation_in_hand() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        s.d.shutdown(s.now);
        assert!(matches!(
            s.actions()[..],
            [Action::Log(Notice::ShuttingDown)]
        ));
        s.respond(0, 1);
        s.put(0);
        assert_eq!(
            s.d.poll_timeout(),
            Some(Instant::from_millis(SHUTDOWN_GRACE_MS))
        );
        let _ = s.feed(0, &reply("202 Accepted"));
        assert_eq!(s.acts(), [Action::Exit(Exit::Shutdown)]);
        assert!(s.send(0).is_none());
        // A reply that does not come is waited for only briefly.
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        s.respond(0, 1);
        s.put(0);
        s.d.shutdown(s.now);
        let _ = s.actions();
        s.d.handle_timeout(at(SHUTDOWN_GRACE_MS));
        assert!(s.acts().contains(&Action::Exit(Exit::Shutdown)));
    }

    #[test]
    fn concurrency_up_to_what_the_transport_serves() {
        let mut l = lanes::<3>();
        let options = Options {
            max_lanes: 2,
            ..Options::default()
        };
        let cfg = config(&[("AWS_LAMBDA_MAX_CONCURRENCY", "3")]);
        assert_eq!(lanes_needed(&cfg, &options), 2);
        let mut s = Sim::new(&mut l, cfg, options);
        assert!(matches!(
            s.actions()[..],
            [
                Action::Log(Notice::ConcurrencyLimited {
                    requested: 3,
                    serving: 2
                }),
                Action::Init
            ]
        ));
        assert!(!s.d.sets_trace_env());
        s.d.phase_done().unwrap();
        s.put(0);
        s.put(1);
        let _ = s.feed(1, &next_for("b"));
        let _ = s.feed(0, &next_for("a"));
        let acts = s.acts();
        assert_eq!(acts.len(), 2);
        assert_eq!(s.d.context(0).unwrap().request_id.as_str(), "a");
        assert_eq!(s.d.context(1).unwrap().request_id.as_str(), "b");
    }

    #[test]
    fn streams_end_on_their_own_connection() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        let mut st = s.d.start_stream(0).unwrap();
        assert_eq!(st.connection(), Connection::Reuse);
        assert_eq!(s.d.reading(0), Reading::Later);
        let mut out = [0u8; 1024];
        assert_eq!(st.chunk(3, &mut out), Err(StreamError::WrongState));
        assert_eq!(
            st.start("bad\r\n", &mut out),
            Err(StreamError::InvalidContentType)
        );
        let n = st.start("text/plain", &mut out).unwrap();
        let head = core::str::from_utf8(&out[..n]).unwrap();
        assert!(head.starts_with("POST /2018-06-01/runtime/invocation/req-1/response "));
        assert!(head.contains("Lambda-Runtime-Function-Response-Mode: streaming\r\n"));
        assert_eq!(st.chunk(0, &mut out), Ok(0), "an empty write sends nothing");
        assert_eq!(
            st.chunk(16, &mut out).map(|n| &out[..n]),
            Ok(&b"10\r\n"[..])
        );
        let n = st.finish(&mut out).unwrap();
        assert_eq!(&out[..n], b"0\r\n\r\n");
        assert_eq!(st.finish(&mut out), Err(StreamError::WrongState));
        // An early reply held while the stream is written is read after it.
        let mut early = reply("202 Accepted");
        assert_eq!(
            s.d.handle_input(0, &mut early, s.now),
            Input::NeedMore { keep: early.len() }
        );
        s.d.stream_done(0, StreamEnd::Finished, s.now);
        assert_eq!(s.d.reading(0), Reading::Reply);
        assert_eq!(
            s.feed(0, &early),
            Input::Close,
            "a stream's connection is not reused"
        );
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("GET "));
        assert_eq!(t.connection, Connection::New);
    }

    #[test]
    fn streams_refused_or_broken() {
        // 413: /error on a new connection.
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        s.invoke(0, NEXT);
        let _ = s.d.start_stream(0).unwrap();
        s.d.stream_done(0, StreamEnd::Finished, s.now);
        assert_eq!(s.feed(0, &reply("413 Too Large")), Input::Close);
        let (text, t) = s.send(0).unwrap();
        assert!(text.contains("/invocation/req-1/error "));
        assert!(text.contains("Function.ResponseSizeTooLarge"));
        assert_eq!(t.connection, Connection::New);
        let _ = s.feed(0, &reply("202 Accepted"));
        // Broken before any byte: /error.
        s.invoke(0, NEXT);
        let _ = s.d.start_stream(0).unwrap();
        s.d.stream_done(0, StreamEnd::Broken { delivered: false }, s.now);
        let (text, t) = s.send(0).unwrap();
        assert!(text.contains("Runtime.ResponseStreamLost"));
        assert_eq!(t.connection, Connection::New);
        let _ = s.feed(0, &reply("202 Accepted"));
        // Broken after some: logged, the next /next on a new connection.
        s.invoke(0, NEXT);
        let _ = s.d.start_stream(0).unwrap();
        s.d.stream_done(0, StreamEnd::Broken { delivered: true }, s.now);
        assert!(matches!(s.notices()[..], [Notice::AnswerLost { .. }]));
        let (text, t) = s.send(0).unwrap();
        assert!(text.starts_with("GET "));
        assert_eq!(t.connection, Connection::New);
        // Not started: an ordinary answer.
        let _ = s.feed(0, NEXT);
        let _ = s.acts();
        let _ = s.d.start_stream(0).unwrap();
        s.d.stream_done(0, StreamEnd::NotStarted, s.now);
        s.d.submit(
            0,
            Answer::Error {
                error_type: "E",
                message: "before the first byte",
            },
            &mut s.out[0],
        )
        .unwrap();
        assert!(s.send(0).unwrap().0.contains("/invocation/req-1/error "));
    }

    #[test]
    fn invocation_id_is_echoed() {
        let mut l = lanes::<1>();
        let mut s = Sim::new(&mut l, config(&[]), Options::default());
        s.serving();
        let next = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\n\
Lambda-Runtime-Invocation-Id: inv-9\r\nLambda-Runtime-Deadline-Ms: 5\r\nContent-Length: 0\r\n\r\n";
        s.invoke(0, next);
        s.respond(0, 0);
        let (text, _) = s.send(0).unwrap();
        assert!(text.contains("Lambda-Runtime-Invocation-Id: inv-9\r\n"));
    }
}
