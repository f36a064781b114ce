//! Abort builds (`panic = "abort"`, as in the `release-size` profile) cannot catch a panic: the
//! panic hook reports the in-flight invocation's `/error` (`Handler.Panic`) on a connection of
//! its own, then the process aborts. The answer is not lost, only the warm process.
//!
//! The binaries under test are built beforehand (see [`abort_builds`]): `scripts/test.sh`.

mod common;

use std::path::{Path, PathBuf};

use common::{Proc, WAIT, json};
use lamina_server::{Invocation, OutcomeKind, Server};

/// How the abort-profile binaries are built (by `scripts/test.sh`, before `cargo test`).
const BUILD: &str = "cargo build --profile release-size -p lamina-examples --bin fail --bin std-fail \
     && cargo build --profile release-size -p lamina-examples --features tokio --bin async-fail";

/// The directory holding `fail`, `std-fail` and `async-fail` built with `panic = "abort"` (the release-size
/// profile): `LAMINA_ABORT_BINS`, relative to the workspace root if not absolute. A `cargo
/// build` inside the test would wait on the lock of the `cargo test` running it, so a separate
/// step builds them; the test fails, naming that step, when they are missing.
fn abort_builds() -> PathBuf {
    let Some(dir) = std::env::var_os("LAMINA_ABORT_BINS") else {
        panic!(
            "LAMINA_ABORT_BINS is not set: build the abort-profile examples with `{BUILD}` and \
             run with LAMINA_ABORT_BINS=target/release-size (scripts/test.sh does both)"
        );
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join(dir);
    for bin in ["fail", "std-fail", "async-fail"] {
        assert!(
            dir.join(bin).is_file(),
            "LAMINA_ABORT_BINS={}: no `{bin}` there; build it with `{BUILD}`",
            dir.display()
        );
    }
    dir
}

fn panic_is_answered_then_the_process_exits(bin: &str) {
    let path = abort_builds().join(bin);
    let server = Server::start().unwrap();
    let mut proc = Proc::spawn(server.command(&path));
    let ok = server.invoke(Invocation::new(&b"{\"a\":1}"[..]));
    assert_eq!(
        server.wait_outcome(&ok, WAIT).expect("an answer").kind,
        OutcomeKind::Response
    );
    let id = server.invoke(Invocation::new(&b"{\"panic\":\"boom\"}"[..]));
    let o = server
        .wait_outcome(&id, WAIT)
        .expect("the panic is answered");
    assert_eq!(o.kind, OutcomeKind::Error);
    assert_eq!(o.error_type(), Some("Handler.Panic"));
    assert_eq!(json(&o.request.body)["errorMessage"], "boom");
    let status = proc
        .wait_exit(WAIT)
        .expect("an abort build exits after a panic");
    assert!(!status.success());
    assert_eq!(
        server
            .outcomes()
            .iter()
            .filter(|o| o.request_id == id)
            .count(),
        1,
        "exactly one answer"
    );
}

#[test]
fn mio_abort_build_answers_a_panic() {
    panic_is_answered_then_the_process_exits("fail");
}

#[test]
fn std_abort_build_answers_a_panic() {
    panic_is_answered_then_the_process_exits("std-fail");
}

#[test]
fn async_abort_build_answers_a_panic() {
    // The async handler's future panics on the lane thread that blocks on it: the same hook
    // reports it.
    panic_is_answered_then_the_process_exits("async-fail");
}
