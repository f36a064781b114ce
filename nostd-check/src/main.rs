//! A no_std, no_main program that drives lamina-core through one invocation in memory.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

use lamina_core::{Config, Endpoint, Event, Input, Machine};

// The C library provides the process entry point and memcpy & co; std does not come with it.
#[link(name = "c")]
unsafe extern "C" {}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {}
}

const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\n\
Lambda-Runtime-Deadline-Ms: 1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";

fn run() -> Option<()> {
    let ep = Endpoint::parse("127.0.0.1:9001").ok()?;
    let mut m = Machine::new(ep, Config::default());
    let mut out = [0u8; 512];
    let mut buf = [0u8; 512];
    m.poll_next(&mut out).ok()?;
    buf.get_mut(..NEXT.len())?.copy_from_slice(NEXT);
    let Input::Complete { event: Event::Invocation { body, .. }, .. } =
        m.handle(buf.get_mut(..NEXT.len())?).ok()?
    else {
        return None;
    };
    let len = body.len() as u64;
    m.respond(&mut out, "application/octet-stream", len).ok()?;
    buf.get_mut(..ACCEPTED.len())?.copy_from_slice(ACCEPTED);
    match m.handle(buf.get_mut(..ACCEPTED.len())?).ok()? {
        Input::Complete { event: Event::Accepted, .. } => Some(()),
        _ => None,
    }
}

/// The C runtime's entry point calls this; exit status 0 when the round trip worked.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    match run() {
        Some(()) => 0,
        None => 1,
    }
}
