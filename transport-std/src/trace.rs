//! `_X_AMZN_TRACE_ID`, set for each invocation without growing memory.
//!
//! `std::env::set_var` calls glibc's `setenv`, which keeps every distinct value ever set: with a
//! new trace id per invocation that leaks about 116 bytes each time (the official runtime grows
//! from 4 MB to 12.6 MB of RSS over 60,000 invocations). Instead, the runtime owns one
//! fixed-size buffer, `_X_AMZN_TRACE_ID=<value>\0`, rewrites it in place and hands the same
//! pointer to `putenv`, which stores the pointer itself and allocates nothing when the variable
//! already exists.
//!
//! The variable is only set when one invocation runs at a time, from the thread that runs the
//! handler; with several in flight the trace id lives in the `Context` alone. Code that reads the
//! variable from another thread while an invocation starts may see a value being rewritten, as
//! with any environment update.

use std::cell::UnsafeCell;
use std::ffi::c_char;
use std::sync::atomic::{AtomicBool, Ordering};

use lamina_core::context::MAX_TRACE_ID;

const NAME: &[u8] = b"_X_AMZN_TRACE_ID=";
const SIZE: usize = NAME.len() + MAX_TRACE_ID + 1;

unsafe extern "C" {
    fn putenv(string: *mut c_char) -> i32;
    fn unsetenv(name: *const c_char) -> i32;
    static environ: *const *const c_char;
}

/// Whether the environment holds `entry` itself (the pointer, not a copy of it).
fn attached(entry: *const c_char) -> bool {
    // SAFETY: `environ` is the C library's NULL-terminated array of entries; it is only read
    // here, from the thread that runs handlers while one invocation runs at a time (see the
    // module docs), like every other environment access of the runtime.
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return false;
        }
        while !(*p).is_null() {
            if *p == entry {
                return true;
            }
            p = p.add(1);
        }
    }
    false
}

/// The buffer handed to `putenv` (in the binary's zeroed data: no allocation, and never freed
/// while the environment points at it), and whether it was handed out yet.
struct Buffer(UnsafeCell<[u8; SIZE]>);

// SAFETY: the bytes are only touched under `LOCK`.
unsafe impl Sync for Buffer {}

static BUFFER: Buffer = Buffer(UnsafeCell::new([0; SIZE]));
/// Held while `BUFFER` is written (a spin: the runtime sets the variable from one thread).
static LOCK: AtomicBool = AtomicBool::new(false);
/// Whether the runtime ever set the variable.
static SET: AtomicBool = AtomicBool::new(false);

/// Removes `_X_AMZN_TRACE_ID`, whoever set it: at start, an inherited value is no invocation's.
/// (Called before the runtime's threads start; `unsetenv` is not safe against concurrent
/// readers of the environment.)
pub fn clear() {
    // SAFETY: a NUL-terminated name; see above for the threads.
    unsafe { unsetenv(c"_X_AMZN_TRACE_ID".as_ptr()) };
}

/// Sets `_X_AMZN_TRACE_ID` to `value`, or removes it for `None`.
///
/// A value longer than the buffer cannot occur (the core drops trace ids over
/// [`MAX_TRACE_ID`]); a value holding NUL is refused the same way (`false`).
pub fn set(value: Option<&str>) -> bool {
    while LOCK.swap(true, Ordering::Acquire) {
        std::hint::spin_loop();
    }
    let done = set_locked(value);
    LOCK.store(false, Ordering::Release);
    done
}

fn set_locked(value: Option<&str>) -> bool {
    let Some(value) = value else {
        if SET.load(Ordering::Relaxed) {
            // SAFETY: a NUL-terminated name; the runtime sets the variable only from the thread
            // that runs handlers, while one invocation runs at a time (see the module docs).
            // (libc's unsetenv rather than std's remove_var, whose failure path formats a panic.)
            unsafe { unsetenv(c"_X_AMZN_TRACE_ID".as_ptr()) };
        }
        return true;
    };
    let bytes = value.as_bytes();
    // Every byte is looked at, without a branch per byte: a trace id comes with every
    // invocation, and `contains` (a memchr) cost twice as much on ~80 bytes.
    if bytes.len() > MAX_TRACE_ID || bytes.iter().fold(false, |nul, &b| nul | (b == 0)) {
        return false;
    }
    // SAFETY: `LOCK` is held: nothing else writes the buffer. (The environment may read it
    // meanwhile, as with any environment update: see the module docs.)
    let buf = unsafe { &mut *BUFFER.0.get() };
    if !SET.swap(true, Ordering::Relaxed) {
        crate::copy(buf, NAME);
    }
    // Copies and index checks that cannot fail (the length was checked above) and so have no
    // panic: see `crate::copy`.
    crate::copy(buf.get_mut(NAME.len()..).unwrap_or_default(), bytes);
    if let Some(nul) = buf.get_mut(NAME.len() + bytes.len()) {
        *nul = 0;
    }
    let entry = buf.as_mut_ptr().cast::<c_char>();
    // Rewritten in place, the buffer already is the variable's value while the environment
    // points at it; otherwise (first time, after an invocation without a trace id, or user code
    // replaced it) it is attached again. A pointer scan is a fraction of putenv's name search.
    if attached(entry) {
        return true;
    }
    // SAFETY: `buf` is NUL-terminated, `NAME=value`, and lives for the rest of the process;
    // putenv keeps the pointer (no copy, no allocation when the name is already present).
    unsafe { putenv(entry) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_rewrites_and_removes() {
        assert!(set(Some("Root=1-aaaa;Sampled=1")));
        assert_eq!(
            std::env::var("_X_AMZN_TRACE_ID").unwrap(),
            "Root=1-aaaa;Sampled=1"
        );
        assert!(set(Some("Root=1-b")));
        assert_eq!(std::env::var("_X_AMZN_TRACE_ID").unwrap(), "Root=1-b");
        assert!(set(None));
        assert!(std::env::var("_X_AMZN_TRACE_ID").is_err());
        assert!(set(Some("Root=1-c")));
        assert_eq!(std::env::var("_X_AMZN_TRACE_ID").unwrap(), "Root=1-c");
        assert!(!set(Some(&"x".repeat(MAX_TRACE_ID + 1))));
        assert!(!set(Some("a\0b")));
    }
}
