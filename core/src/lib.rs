#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod base64;
mod buf;
pub mod config;
pub mod context;
pub mod driver;
pub mod endpoint;
pub mod error_type;
#[cfg(feature = "serde")]
pub mod event;
pub mod id;
mod json;
mod jsonread;
pub mod notice;
pub mod request;
pub mod response;
pub mod time;

pub use buf::BufferTooSmall;
pub use config::{Config, InitType, Invalid, LogFormat, LogLevel, StartError};
pub use context::{Context, InvalidInvocation, Warnings};
pub use driver::{
    Action, Answer, Connection, Driver, Input, Lane, Options, Reading, Stream, StreamEnd,
    StreamError, SubmitError, TooFewLanes, Transmit, WrongState, lanes_needed,
};
pub use endpoint::{Endpoint, EndpointError};
pub use id::Id;
pub use json::{MAX_ERROR_MESSAGE, MAX_XRAY_MESSAGE};
pub use notice::{Exit, Notice, RequestKind};
pub use response::{DecodeError, Decoder, Limits};
pub use time::{Instant, Now};
