//! A no_std, no_main program that drives lamina-core through one invocation in memory.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

use lamina_core::{Action, Answer, Config, Driver, Input, Instant, Lane, Now, Options};

// The C library provides the process entry point and memcpy & co; std does not come with it.
#[link(name = "c")]
unsafe extern "C" {}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {}
}

const NEXT: &[u8] =
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: id-1\r\n\
Lambda-Runtime-Deadline-Ms: 1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";

/// One invocation through the driver, in memory: init, `/next`, the event, the answer, its
/// reply, and the next `/next` due.
fn run() -> Option<()> {
    let config =
        Config::from_lookup(|name| (name == "AWS_LAMBDA_RUNTIME_API").then_some("127.0.0.1:9001"))
            .ok()?;
    let mut lanes = [Lane::default()];
    let mut d = Driver::new(config, Options::default(), &mut lanes).ok()?;
    let now = Now {
        instant: Instant::from_millis(0),
        unix_ms: 0,
    };
    let mut out = [0u8; 512];
    let mut buf = [0u8; 512];
    if d.poll_action()? != Action::Init {
        return None;
    }
    d.phase_done().ok()?;
    let _ = d.poll_transmit(0, now, &mut out).ok()??;
    d.transmitted(0, now);
    buf.get_mut(..NEXT.len())?.copy_from_slice(NEXT);
    if d.handle_input(0, buf.get_mut(..NEXT.len())?, now) != Input::Done {
        return None;
    }
    let Action::Invoke { lane: 0, event } = d.poll_action()? else {
        return None;
    };
    let len = event.len() as u64;
    let answer = Answer::Response {
        content_type: "application/octet-stream",
        len,
    };
    d.submit(0, answer, &mut out).ok()?;
    let t = d.poll_transmit(0, now, &mut out).ok()??;
    if !t.body {
        return None;
    }
    d.transmitted(0, now);
    buf.get_mut(..ACCEPTED.len())?.copy_from_slice(ACCEPTED);
    if d.handle_input(0, buf.get_mut(..ACCEPTED.len())?, now) != Input::Done {
        return None;
    }
    d.poll_transmit(0, now, &mut out).ok()?.map(drop)
}

/// The C runtime's entry point calls this; exit status 0 when the round trip worked.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    match run() {
        Some(()) => 0,
        None => 1,
    }
}
