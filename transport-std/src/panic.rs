//! Handler panics: every invocation still gets exactly one answer.
//!
//! - Unwind builds (the default `dev`/`release` profiles): the transport catches the panic with
//!   `catch_unwind`, reports `/error` with type `Handler.Panic`, and keeps serving.
//! - Abort builds (`panic = "abort"`, as in the `release-size` profile): nothing can be caught,
//!   so a panic hook reports the in-flight invocation's `/error` on a connection of its own, then
//!   the process aborts. The answer is not lost, only the warm process. The request id is
//!   recorded by [`enter`] before each handler call, so the hook needs nothing but its stack.
//! - `-Cpanic=immediate-abort` (nightly min-size builds) runs no hook at all: the invocation is
//!   then answered only when Lambda notices the runtime exited. Use it only where that is fine.

use std::any::Any;

use lamina_core::Context;

/// The message a panic carried (`&str` and `String` payloads), for the error report.
pub fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "the handler panicked"
    }
}

#[cfg(all(panic = "abort", not(panic = "immediate-abort")))]
mod abort {
    use std::cell::RefCell;
    use std::io::Read;
    use std::mem::ManuallyDrop;
    use std::sync::atomic::{AtomicPtr, Ordering};
    use std::time::Duration;

    use lamina_core::request::{self, ErrorTarget};
    use lamina_core::response::{Decoder, Limits, Status};
    use lamina_core::{Context, Endpoint, Id, error_type};

    // Set once, leaked (it lives as long as the process): a pointer, not the endpoint's bytes
    // in the binary's data, and no `OnceLock` machinery.
    static ENDPOINT: AtomicPtr<Endpoint> = AtomicPtr::new(std::ptr::null_mut());

    /// The invocation in flight on this thread, if `active`: its request id, and its invocation
    /// id when `has_inv`. All zero bytes when empty (as `Id::EMPTY` is), so the thread-local is
    /// zero-initialised (`.tbss`): `Option<(Id, Option<Id>)>`'s `None` was a niche value, 288
    /// bytes of initialisation image in the binary.
    struct Current {
        id: Id,
        inv: Id,
        has_inv: bool,
        active: bool,
    }

    thread_local! {
        // Never dropped: see `log::REQUEST_ID`.
        static CURRENT: RefCell<ManuallyDrop<Current>> = const {
            RefCell::new(ManuallyDrop::new(Current {
                id: Id::EMPTY,
                inv: Id::EMPTY,
                has_inv: false,
                active: false,
            }))
        };
    }

    pub(super) fn install(endpoint: &Endpoint) {
        let ep = Box::into_raw(Box::new(endpoint.clone()));
        let null = std::ptr::null_mut();
        if ENDPOINT
            .compare_exchange(null, ep, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: `ep` came from `Box::into_raw` just above and was not published.
            drop(unsafe { Box::from_raw(ep) });
            return;
        }
        // std's default hook is not kept (take_hook would keep a second copy of it and its
        // backtrace printer): the panic is logged here, with the invocation when there is one.
        std::panic::set_hook(Box::new(|info| {
            let msg = super::message(info.payload());
            if !report(msg) {
                crate::rt_log!(Error, "panicked: {msg}");
            }
        }));
    }

    pub(super) fn enter(ctx: &Context) {
        CURRENT.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                let c = &mut **c;
                c.id.clone_from(&ctx.request_id);
                c.has_inv = false;
                if let Some(inv) = &ctx.invocation_id {
                    c.inv.clone_from(inv);
                    c.has_inv = true;
                }
                c.active = true;
            }
        });
    }

    pub(super) fn leave() {
        CURRENT.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                c.active = false;
            }
        });
    }

    /// Sends `request` on a connection of its own and reads its reply, each step bounded.
    fn send(ep: &Endpoint, request: &[u8]) -> std::io::Result<()> {
        let mut conn = crate::transport::connect(ep)?;
        conn.set_read_timeout(Some(Duration::from_secs(2)))?;
        conn.set_write_timeout(Some(Duration::from_secs(2)))?;
        // The transports' writer (std's `write_all` would be a second copy of the same loop);
        // `false` is the write timeout.
        if !crate::transport::write_some(&mut conn, [request, &[]], &mut 0)? {
            return Ok(());
        }
        let mut reply = [0u8; 2048];
        let mut filled = 0;
        let mut decoder = Decoder::new(Limits::REPLY);
        loop {
            let Some(room) = reply.get_mut(filled..).filter(|r| !r.is_empty()) else {
                return Ok(());
            };
            let n = conn.read(room)?;
            if n == 0 {
                return Ok(());
            }
            filled += n;
            match decoder.advance(reply.get_mut(..filled).unwrap_or_default()) {
                Ok(Status::NeedMore { keep }) => filled = keep,
                _ => return Ok(()),
            }
        }
    }

    /// Reports the panic as this thread's invocation's `/error`; `false` when no invocation
    /// runs on this thread.
    fn report(message: &str) -> bool {
        // SAFETY: null, or a leaked box that is never freed nor written to again.
        let Some(ep) = (unsafe { ENDPOINT.load(Ordering::Acquire).as_ref() }) else {
            return false;
        };
        // The whole report is made under the borrow, from the ids where they are (no copies).
        CURRENT.with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return false;
            };
            let c = &mut **c;
            if !std::mem::take(&mut c.active) {
                return false;
            }
            let mut buf = [0u8; 8192];
            let target = ErrorTarget::Invocation {
                request_id: &c.id,
                invocation_id: c.has_inv.then_some(&c.inv),
            };
            let mut cut = message;
            let n = loop {
                match request::error(ep, target, error_type::PANIC, cut, &mut buf) {
                    Ok(n) => break n,
                    Err(_) if !cut.is_empty() => {
                        let mut end = cut.len() / 2;
                        while !cut.is_char_boundary(end) {
                            end -= 1;
                        }
                        cut = &cut[..end];
                    }
                    Err(_) => return false,
                }
            };
            // Wait for the reply (bounded) so the report is in before the process dies.
            let _ = send(ep, buf.get(..n).unwrap_or_default());
            crate::rt_log!(
                Error,
                "invocation {}: handler panicked ({}); reported as {}; exiting (panic = \"abort\")",
                c.id,
                message,
                error_type::PANIC
            );
            true
        })
    }
}

/// Prepares panic reporting for the Runtime API at `endpoint` (abort builds install the hook).
pub fn install(endpoint: &lamina_core::Endpoint) {
    #[cfg(all(panic = "abort", not(panic = "immediate-abort")))]
    abort::install(endpoint);
    #[cfg(not(all(panic = "abort", not(panic = "immediate-abort"))))]
    let _ = endpoint;
}

/// Records the invocation a handler is about to run on this thread (for the panic report and
/// the log lines' request id).
#[inline]
pub fn enter(ctx: &Context) {
    crate::log::set_request_id(&ctx.request_id);
    #[cfg(all(panic = "abort", not(panic = "immediate-abort")))]
    abort::enter(ctx);
}

/// The handler returned; nothing is in flight on this thread.
#[inline]
pub fn leave() {
    crate::log::clear_request_id();
    #[cfg(all(panic = "abort", not(panic = "immediate-abort")))]
    abort::leave();
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages() {
        let p: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(super::message(&*p), "boom");
        let p: Box<dyn std::any::Any + Send> = Box::new(String::from("bang"));
        assert_eq!(super::message(&*p), "bang");
        let p: Box<dyn std::any::Any + Send> = Box::new(5);
        assert_eq!(super::message(&*p), "the handler panicked");
    }
}
