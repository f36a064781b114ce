//! Worker threads started with `pthread_create` rather than `std::thread::Builder`.
//!
//! std's spawn brings its whole thread machinery into a bootstrap: a stack-overflow handler
//! and alternate signal stack per thread, spawn hooks, output capture, a join packet, the
//! thread-name conversion with its error's `Debug`, ~15 KB in all, for threads that run from
//! the first concurrent invocation to the end of the process. What users see of a thread is
//! kept: a stack of std's size (`RUST_MIN_STACK`, else 2 MiB), the OS-level name std would
//! set (`ps`, `top`, debuggers), thread-locals (the C library's, as for any thread, their
//! destructors run when the thread ends) and a panic that escapes ending the thread, not the
//! process. What differs: std's own handle of the thread has no name (the default panic hook
//! of unwind builds says `<unnamed>`), and a stack overflow ends the process with `SIGSEGV`
//! rather than std's message and abort.
//!
//! 64-bit x86 and Arm Linux (what Lambda runs), where `pthread_attr_t` fits the buffer below;
//! elsewhere std's spawn is used.

use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A thread's work.
type Main = Box<dyn FnOnce() + Send>;

/// `pthread_attr_t`: 56 bytes on x86_64, 64 on aarch64 (glibc and musl).
#[repr(C, align(8))]
struct Attr([u8; 64]);

unsafe extern "C" {
    fn pthread_attr_init(attr: *mut Attr) -> c_int;
    fn pthread_attr_setstacksize(attr: *mut Attr, size: usize) -> c_int;
    fn pthread_attr_destroy(attr: *mut Attr) -> c_int;
    fn pthread_create(
        thread: *mut usize,
        attr: *const Attr,
        start: extern "C" fn(*mut c_void) -> *mut c_void,
        arg: *mut c_void,
    ) -> c_int;
    fn pthread_detach(thread: usize) -> c_int;
    fn pthread_setname_np(thread: usize, name: *const c_char) -> c_int;
}

/// std's stack size for the threads it spawns: `RUST_MIN_STACK`, else 2 MiB.
fn stack_size() -> usize {
    crate::env_var("RUST_MIN_STACK")
        .and_then(|s| parse_size(&s))
        .unwrap_or(2 << 20)
}

/// `s` as `str::parse::<usize>` reads it (by hand: `FromStr` is 200 bytes more).
fn parse_size(s: &str) -> Option<usize> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0usize, |n, b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(usize::from(d))
    })
}

extern "C" fn start(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the `Box<Main>` that `spawn` leaked for this thread, taken back once.
    let main = unsafe { Box::from_raw(arg.cast::<Main>()) };
    // A panic ends the thread, as it ends a std thread (unwinding out of this `extern "C"`
    // function would abort the process).
    let _ = catch_unwind(AssertUnwindSafe(main));
    std::ptr::null_mut()
}

/// Starts a detached thread running `main`, named `lamina-worker-{index}` at the OS level as
/// std names it (cut to the 15 bytes Linux keeps).
pub(crate) fn spawn(index: usize, main: Main) -> io::Result<()> {
    let arg = Box::into_raw(Box::new(main));
    let mut attr = Attr([0; 64]);
    let mut thread = 0usize;
    // SAFETY: `attr` is initialised before use and destroyed after; `thread` receives the
    // new thread's id; `arg` goes to `start`, which takes it back, or is taken back here when
    // no thread started.
    let code = unsafe {
        let code = pthread_attr_init(&mut attr);
        if code == 0 {
            // A size the C library refuses leaves its default (8 MiB under Lambda).
            pthread_attr_setstacksize(&mut attr, stack_size());
            let code = pthread_create(&mut thread, &attr, start, arg.cast());
            pthread_attr_destroy(&mut attr);
            code
        } else {
            code
        }
    };
    if code != 0 {
        // SAFETY: no thread started: the box is still ours.
        drop(unsafe { Box::from_raw(arg) });
        return Err(io::Error::from_raw_os_error(code));
    }
    // `lamina-worker-` is 14 bytes: the 15th is the index's first digit.
    let mut name = *b"lamina-worker-0\0";
    let mut first = index;
    while first >= 10 {
        first /= 10;
    }
    if let Some(d) = name.get_mut(14) {
        *d = b'0' + first as u8;
    }
    // SAFETY: `thread` is a thread that started and is not detached yet; `buf` is
    // NUL-terminated. Naming is best effort, as in std.
    unsafe {
        pthread_setname_np(thread, name.as_ptr().cast());
        pthread_detach(thread);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    #[test]
    fn sizes_read_as_std_parses_them() {
        for value in [
            "4194304",
            "+65536",
            "0",
            "",
            "+",
            "12x",
            "-1",
            " 1",
            "99999999999999999999999",
        ] {
            assert_eq!(super::parse_size(value), value.parse().ok(), "{value:?}");
        }
    }

    #[test]
    fn runs_named_with_a_std_size_stack() {
        let (tx, rx) = mpsc::channel();
        super::spawn(
            12,
            Box::new(move || {
                // Deep enough to need far more than the 128 KiB of a small stack.
                let big = [1u8; 1 << 20];
                let name = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
                tx.send((std::hint::black_box(&big).len(), name)).unwrap();
            }),
        )
        .unwrap();
        let (n, name) = rx.recv().unwrap();
        assert_eq!(n, 1 << 20);
        assert_eq!(name.trim_end(), "lamina-worker-1");
    }

    #[test]
    fn a_panic_ends_the_thread_only() {
        let (tx, rx) = mpsc::channel::<()>();
        super::spawn(
            3,
            Box::new(move || {
                let _tx = tx;
                panic!("boom");
            }),
        )
        .unwrap();
        // The sender is dropped as the panic unwinds: the process goes on.
        assert!(rx.recv().is_err());
    }
}
