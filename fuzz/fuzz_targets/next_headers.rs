//! Arbitrary bytes as the head of a `/next` response, into `Context::decode` (the header
//! parser) and `context::salvage_request_id` (the fallback for heads that do not parse).
//!
//! Checks: nothing panics; every id that comes out is one `Id::new` accepts as it is (so it
//! is safe in a request path or header); decoding again into the reused `Context` gives the
//! same result; and when the head parses, the salvaged id is the one the parser read (bytes
//! after the head, the event body, cannot supply one).
#![no_main]

use std::cell::RefCell;

use lamina_core::context::salvage_request_id;
use lamina_core::{Context, Id, InvalidInvocation, Warnings};
use libfuzzer_sys::fuzz_target;

fn assert_valid(id: &Id, what: &str) {
    assert!(!id.is_empty(), "{what} is empty");
    assert_eq!(
        Id::new(id.as_bytes()).as_ref(),
        Some(id),
        "{what} {id:?} is not a valid id"
    );
}

/// The salvaged id is valid, and when the head parses as HTTP (what follows the head is not
/// part of it: the machine salvages from a buffer that may hold the body too), it is the id the
/// header parser read: the body cannot supply one.
fn salvage_agrees(data: &[u8], decoded: &Result<Warnings, InvalidInvocation>, ctx: &Context) {
    let Some(id) = salvage_request_id(data) else {
        return;
    };
    assert_valid(&id, "salvaged request_id");
    if !matches!(decoded, Err(InvalidInvocation::Http(_))) {
        assert_eq!(
            id,
            ctx.request_id,
            "salvaged an id the header parser did not read from {:?}",
            String::from_utf8_lossy(data)
        );
    }
}

thread_local! {
    static PREFIXED: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(64 * 1024));
}

fuzz_target!(|data: &[u8]| {
    let mut ctx = Context::default();
    let first = ctx.decode(data);
    match &first {
        Ok(_) => {
            assert_valid(&ctx.request_id, "request_id");
            if let Some(inv) = &ctx.invocation_id {
                assert_valid(inv, "invocation_id");
            }
        }
        Err(_) => {
            // The id kept for answering a malformed invocation must be valid too.
            if !ctx.request_id.is_empty() {
                assert_valid(&ctx.request_id, "request_id (kept on error)");
            }
            if let Some(inv) = &ctx.invocation_id {
                assert_valid(inv, "invocation_id (kept on error)");
            }
        }
    }
    let (rid, inv, deadline) = (
        ctx.request_id.clone(),
        ctx.invocation_id.clone(),
        ctx.deadline_ms,
    );

    // Reusing the storage gives the same answer.
    let second = ctx.decode(data);
    assert_eq!(first, second);
    assert_eq!(ctx.request_id, rid);
    assert_eq!(ctx.invocation_id, inv);
    assert_eq!(ctx.deadline_ms, deadline);

    salvage_agrees(data, &first, &ctx);
    // The same with a status line in front, so the fuzzer need not find one (in a buffer
    // reused across executions).
    PREFIXED.with_borrow_mut(|prefixed| {
        prefixed.clear();
        prefixed.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        prefixed.extend_from_slice(data);
        let decoded = ctx.decode(prefixed);
        if decoded.is_ok() {
            assert_valid(&ctx.request_id, "request_id");
            if let Some(inv) = &ctx.invocation_id {
                assert_valid(inv, "invocation_id");
            }
        }
        salvage_agrees(prefixed, &decoded, &ctx);
    });
});
