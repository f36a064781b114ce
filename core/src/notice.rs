//! What the driver asks the transport to log, and why the runtime stops.
//!
//! Both implement `Display` (the line to log) so every transport writes the same words; the
//! transport's logger adds the timestamp, the level and the request id.

use core::fmt;

use crate::config::{Invalid, LogLevel};
use crate::context::{InvalidInvocation, Warnings};
use crate::id::Id;
use crate::response::DecodeError;

/// Something worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// Optional fields of an invocation's context were dropped; it runs without them.
    Warnings {
        /// The invocation.
        request_id: Id,
        /// What was dropped.
        warnings: Warnings,
    },
    /// A `/next` response that cannot be served but whose request id is known: it is answered
    /// with `/error` ([`error_type::INVALID_INVOCATION`](crate::error_type::INVALID_INVOCATION)).
    InvalidInvocation {
        /// The invocation.
        request_id: Id,
        /// What was wrong.
        reason: InvalidInvocation,
    },
    /// Unusable `/next` responses with no request id: nothing can be answered, `/next` is polled
    /// again with a growing pause. Logged at most once a second.
    Unusable {
        /// What was wrong with the latest one.
        reason: InvalidInvocation,
        /// How many since the last line.
        count: u32,
    },
    /// The Runtime API refused an answer (400, 403 or another 4xx).
    Refused {
        /// The invocation.
        request_id: Id,
        /// The status.
        status: u16,
    },
    /// 410 Gone: the invocation had already timed out.
    TimedOut {
        /// The invocation.
        request_id: Id,
    },
    /// 413: the response was too large for the Runtime API; reported with `/error` instead.
    TooLarge {
        /// The invocation.
        request_id: Id,
    },
    /// The handler's response is over the configured maximum; reported with `/error` instead.
    ResponseOverMax {
        /// The invocation.
        request_id: Id,
        /// The response's length.
        len: u64,
        /// The maximum.
        max: u64,
    },
    /// The reply to an answer could not be read; whether it was accepted is unknown.
    ReplyUnreadable {
        /// The invocation.
        request_id: Id,
        /// Why.
        error: DecodeError,
    },
    /// No reply came to an answer in time: it is counted as delivered.
    ReplyTimedOut {
        /// The invocation.
        request_id: Id,
        /// How long the runtime waited.
        waited_ms: u64,
    },
    /// The connection broke twice while answering (or a stream broke after its first bytes):
    /// the answer may be lost.
    AnswerLost {
        /// The invocation.
        request_id: Id,
    },
    /// Bytes arrived on a connection with no request outstanding; it was closed.
    Unsolicited,
    /// The Runtime API cannot be reached; the runtime keeps trying for a while.
    Unreachable {
        /// For how long it keeps trying.
        retry_for_ms: u64,
    },
    /// `AWS_LAMBDA_MAX_CONCURRENCY` asks for more invocations in flight than the transport
    /// serves.
    ConcurrencyLimited {
        /// What was asked for.
        requested: u32,
        /// What is served.
        serving: usize,
    },
    /// A log setting was not understood and kept its default.
    IgnoredSetting(Invalid),
    /// SIGTERM: in-flight invocations are finished, then the runtime exits.
    ShuttingDown,
}

/// The variants that carry the invocation's id, in one place for [`Notice::request_id`] and
/// [`Notice::request_id_mut`] (the match binds by reference or by mutable reference as `$n` is).
macro_rules! request_id_of {
    ($n:expr) => {
        match $n {
            Notice::Warnings { request_id, .. }
            | Notice::InvalidInvocation { request_id, .. }
            | Notice::Refused { request_id, .. }
            | Notice::TimedOut { request_id }
            | Notice::TooLarge { request_id }
            | Notice::ResponseOverMax { request_id, .. }
            | Notice::ReplyUnreadable { request_id, .. }
            | Notice::ReplyTimedOut { request_id, .. }
            | Notice::AnswerLost { request_id } => Some(request_id),
            _ => None,
        }
    };
}

impl Notice {
    /// The level to log it at.
    pub fn level(&self) -> LogLevel {
        match self {
            Notice::ShuttingDown => LogLevel::Info,
            _ => LogLevel::Warn,
        }
    }

    /// The invocation it is about, if any.
    pub fn request_id(&self) -> Option<&Id> {
        request_id_of!(self)
    }

    /// The invocation's id, for the driver to fill in.
    pub(crate) fn request_id_mut(&mut self) -> Option<&mut Id> {
        request_id_of!(self)
    }
}

// Numbers are written as `u64` (or `usize`) whatever their type: each integer type's
// `Display` is code of its own, and those two are linked anyway.
impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Warnings { warnings, .. } => {
                for (i, w) in warnings.messages().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    f.write_str(w)?;
                }
                Ok(())
            }
            // Inner values as `&str`: their own `Display` would be code of its own. The error
            // types are spelt out in the text (a test checks them against `error_type`): as
            // arguments, each would be a static `&str` with a relocation in a PIE.
            Notice::InvalidInvocation { reason, .. } => write!(
                f,
                "invalid invocation ({}); reporting Runtime.InvalidInvocation",
                reason.as_str(),
            ),
            Notice::Unusable { reason, count } => write!(
                f,
                "malformed /next response without a request id ({}); polling again \
                 ({} since the last report)",
                reason.as_str(),
                u64::from(*count)
            ),
            Notice::Refused { status, .. } => {
                write!(
                    f,
                    "the answer was refused with status {}",
                    u64::from(*status)
                )
            }
            Notice::TimedOut { .. } => {
                f.write_str("invocation timed out (410 Gone); serving the next one")
            }
            Notice::TooLarge { .. } => f.write_str(
                "the Runtime API refused the response as too large (413); reporting \
                 Function.ResponseSizeTooLarge",
            ),
            Notice::ResponseOverMax { len, max, .. } => write!(
                f,
                "the response is {len} bytes, over the maximum of {max}; reporting \
                 Function.ResponseSizeTooLarge"
            ),
            Notice::ReplyUnreadable { error, .. } => {
                write!(
                    f,
                    "the reply to the answer could not be read ({})",
                    error.as_str()
                )
            }
            Notice::ReplyTimedOut { waited_ms, .. } => write!(
                f,
                "no reply to the answer after {waited_ms} ms; counting it as delivered"
            ),
            Notice::AnswerLost { .. } => {
                f.write_str("the connection was lost while answering; the answer may be lost")
            }
            Notice::Unsolicited => f.write_str(
                "bytes nobody asked for arrived on a Runtime API connection; closing it",
            ),
            Notice::Unreachable { retry_for_ms } => write!(
                f,
                "cannot reach the Runtime API; retrying for up to {retry_for_ms} ms"
            ),
            Notice::ConcurrencyLimited { requested, serving } => write!(
                f,
                "AWS_LAMBDA_MAX_CONCURRENCY={}: this transport serves {serving} at a time",
                u64::from(*requested)
            ),
            Notice::IgnoredSetting(invalid) => write!(
                f,
                "{} is invalid: expected {}; using the default",
                invalid.name, invalid.expected
            ),
            Notice::ShuttingDown => {
                f.write_str("SIGTERM: finishing in-flight invocations, then exiting")
            }
        }
    }
}

/// Which request a status was the reply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// `GET /next`.
    Next,
    /// `/response` or `/error`.
    Answer,
    /// `GET /restore/next`.
    RestoreNext,
}

impl RequestKind {
    fn as_str(self) -> &'static str {
        match self {
            RequestKind::Next => "/next",
            RequestKind::Answer => "an answer",
            RequestKind::RestoreNext => "/restore/next",
        }
    }
}

/// Why the runtime stops; the transport logs it (unless it is empty) and exits with
/// [`code`](Exit::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// SIGTERM, and everything in flight was answered: run the shutdown hook, exit 0.
    Shutdown,
    /// A setting was invalid; it was reported on `/init/error`.
    InvalidConfig(Invalid),
    /// Initialisation (or a before-snapshot hook) failed; it was reported on `/init/error`.
    InitFailed,
    /// An after-restore hook failed; it was reported on `/restore/error`.
    RestoreFailed,
    /// Registering the shutdown extension failed (reported on `/init/error`).
    ExtensionFailed,
    /// The Runtime API answered with a status that means stop (500, or a refusal of `/next`).
    Status {
        /// The request.
        request: RequestKind,
        /// The status.
        status: u16,
    },
    /// The Runtime API could not be reached for longer than the reconnect timeout.
    Unreachable {
        /// How long the failures lasted.
        after_ms: u64,
    },
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            Exit::Shutdown => 0,
            _ => 1,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Shutdown => f.write_str("shut down after SIGTERM"),
            Exit::InvalidConfig(invalid) => {
                write!(
                    f,
                    "init failed: Runtime.InvalidConfig: {} is invalid: expected {}",
                    invalid.name, invalid.expected
                )
            }
            Exit::InitFailed => f.write_str("exiting: initialisation failed (reported)"),
            Exit::RestoreFailed => f.write_str("exiting: an after-restore hook failed (reported)"),
            Exit::ExtensionFailed => {
                f.write_str("exiting: the shutdown extension could not be registered (reported)")
            }
            Exit::Status { request, status } => write!(
                f,
                "the Runtime API answered {} with {}; exiting",
                request.as_str(),
                u64::from(*status)
            ),
            Exit::Unreachable { after_ms } => write!(
                f,
                "cannot reach the Runtime API (gave up after {after_ms} ms)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::error_type;
    use std::format;

    #[test]
    fn texts_name_the_error_types_reported() {
        let id = Id::EMPTY;
        let reason = InvalidInvocation::MissingDeadline;
        let invalid = Invalid {
            name: "X",
            expected: "y",
        };
        let texts = [
            (
                format!(
                    "{}",
                    Notice::InvalidInvocation {
                        request_id: id.clone(),
                        reason
                    }
                ),
                error_type::INVALID_INVOCATION,
            ),
            (
                format!(
                    "{}",
                    Notice::TooLarge {
                        request_id: id.clone()
                    }
                ),
                error_type::RESPONSE_TOO_LARGE,
            ),
            (
                format!(
                    "{}",
                    Notice::ResponseOverMax {
                        request_id: id,
                        len: 2,
                        max: 1
                    }
                ),
                error_type::RESPONSE_TOO_LARGE,
            ),
            (
                format!("{}", Exit::InvalidConfig(invalid)),
                error_type::INVALID_CONFIG,
            ),
        ];
        for (text, error_type) in texts {
            assert!(text.contains(error_type), "{text}");
        }
        assert_eq!(
            format!("{}", Exit::InvalidConfig(invalid)),
            "init failed: Runtime.InvalidConfig: X is invalid: expected y"
        );
    }
}
