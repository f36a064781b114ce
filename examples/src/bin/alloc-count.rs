//! `echo` on the mio transport with a counting global allocator: a test binary for the
//! "no allocation per warm invocation" promise.
//!
//! The event `count` answers with the number of heap allocations the process has made so far
//! (written into the runtime's reused output buffer, so answering allocates nothing once warm);
//! any other event is echoed back borrowed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use lamina_mio::{Context, Handler, Output, Reply};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
// SAFETY: every call is forwarded to `System` with the same arguments; only a counter is
// touched besides (thread-local, never allocating).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller\'s contract for this method is passed on to `System` unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller\'s contract for this method is passed on to `System` unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller\'s contract for this method is passed on to `System` unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller\'s contract for this method is passed on to `System` unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct CountingEcho;

impl Handler for CountingEcho {
    fn call<'a>(&self, _ctx: &Context, event: &'a [u8], out: &mut Output) -> Reply<'a> {
        if event != b"count" {
            return Reply::Body(event);
        }
        let n = ALLOCATIONS.load(Ordering::Relaxed);
        out.body.clear();
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        out.body.extend_from_slice(&digits[i..]);
        Reply::Output
    }

    fn content_type(&self) -> &'static str {
        "text/plain"
    }
}

fn main() {
    lamina_mio::Runtime::from_env().run(CountingEcho)
}
