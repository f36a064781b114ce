//! The driver's hot path allocates nothing: encoding `/next`, decoding a typical `/next` response
//! into a `Context`, encoding the response head and decoding the reply, counted by a global
//! allocator that records every allocation made on this thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lamina_core::{Action, Answer, Config, Driver, Input, Instant, Lane, Now, Options};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to `System` with the same arguments; only a counter is
// touched besides (thread-local, never allocating).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller\'s contract for this method is passed on to `System` unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller\'s contract for this method is passed on to `System` unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller\'s contract for this method is passed on to `System` unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: application/json\r\n\
Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
Lambda-Runtime-Deadline-Ms: 1542409706888\r\n\
Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:custom-runtime\r\n\
Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
Lambda-Runtime-Client-Context: {\"client\":{\"app_title\":\"t\"},\"custom\":{\"k\":\"v\"}}\r\n\
Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"id\",\"cognitoIdentityPoolId\":\"pool\"}\r\n\
Content-Length: 17\r\n\r\n{\"name\":\"World\"}\n";

const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";

#[test]
fn hot_path_allocates_nothing() {
    // Everything the loop needs is set up before counting starts, as a transport would.
    let config =
        Config::from_lookup(|n| (n == "AWS_LAMBDA_RUNTIME_API").then_some("127.0.0.1:9001"))
            .unwrap();
    let mut lanes = [Lane::default()];
    let mut driver = Driver::new(config, Options::default(), &mut lanes).unwrap();
    assert_eq!(driver.poll_action(), Some(Action::Init));
    driver.phase_done().unwrap();
    let mut out = vec![0u8; 4096];
    let mut next = NEXT.to_vec();
    let mut accepted = ACCEPTED.to_vec();
    let now = Now {
        instant: Instant::from_millis(1),
        unix_ms: 1_542_409_700_000,
    };

    let before = ALLOCS.with(Cell::get);
    for _ in 0..100 {
        let t = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
        assert!(out[..t.len].starts_with(b"GET "));
        driver.transmitted(0, now);
        // Fed in two pieces, as reads arrive.
        let Input::NeedMore { keep } = driver.handle_input(0, &mut next[..40], now) else {
            panic!("expected need-more")
        };
        assert_eq!(keep, 40);
        assert_eq!(driver.handle_input(0, &mut next, now), Input::Done);
        let Some(Action::Invoke { lane: 0, event }) = driver.poll_action() else {
            panic!("expected an invocation")
        };
        assert_eq!(&next[event], b"{\"name\":\"World\"}\n");
        assert!(driver.context(0).unwrap().client_context.is_some());
        let answer = Answer::Response {
            content_type: "application/json",
            len: 14,
        };
        driver.submit(0, answer, &mut out).unwrap();
        let t = driver.poll_transmit(0, now, &mut out).unwrap().unwrap();
        assert!(t.body);
        driver.transmitted(0, now);
        assert_eq!(driver.handle_input(0, &mut accepted, now), Input::Done);
        assert_eq!(driver.poll_action(), None);
    }
    let after = ALLOCS.with(Cell::get);
    assert_eq!(after - before, 0, "allocations on the hot path");
}
