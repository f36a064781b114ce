#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
#[allow(unused_extern_crates)]
extern crate alloc;
#[cfg(feature = "std")]
#[allow(unused_extern_crates)]
extern crate std;

mod base64;
mod buf;
pub mod context;
pub mod endpoint;
#[cfg(feature = "serde")]
pub mod event;
pub mod id;
mod json;
pub mod machine;
pub mod request;
pub mod response;

pub use buf::BufferTooSmall;
pub use context::{Context, InvalidInvocation, Warnings};
pub use endpoint::{Endpoint, EndpointError};
pub use id::Id;
pub use json::{MAX_ERROR_MESSAGE, MAX_XRAY_MESSAGE};
pub use machine::{Config, Event, Input, Machine, MachineError, Recovery, State, error_type};
pub use response::{DecodeError, Decoder, Limits};
