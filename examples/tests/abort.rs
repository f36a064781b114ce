//! Abort builds (`panic = "abort"`, as in the `release-size` profile) cannot catch a panic: the
//! panic hook reports the in-flight invocation's `/error` (`Handler.Panic`) on a connection of
//! its own, then the process aborts. The answer is not lost, only the warm process.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{Proc, WAIT, json};
use lamina_server::{Invocation, OutcomeKind, Server};

/// Builds `fail` and `std-fail` in the release-size profile, once per test process, in a
/// target directory of its own (the `cargo test` that runs this holds the main one's lock).
fn abort_builds() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abort-build");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--profile",
                "release-size",
                "-p",
                "lamina-examples",
            ])
            .args(["--bin", "fail", "--bin", "std-fail"])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building the abort-profile examples failed"
        );
        target.join("release-size")
    })
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
