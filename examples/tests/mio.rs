//! What only the mio transport promises: no allocation per warm invocation, N invocations in
//! flight at once with N connections and workers, and SIGTERM letting in-flight work finish.

mod common;

use std::path::Path;

use common::{Gate, Proc, SIGTERM, WAIT, json};
use lamina_server::{Invocation, OutcomeKind, Server, ServerConfig};

fn spawn(server: &Server, bin: &str) -> Proc {
    Proc::spawn(server.command(Path::new(bin)))
}

fn answer(server: &Server, body: &[u8]) -> String {
    let id = server.invoke(Invocation::new(body.to_vec()));
    let outcome = server.wait_outcome(&id, WAIT).expect("an answer");
    assert_eq!(
        outcome.kind,
        OutcomeKind::Response,
        "{}",
        outcome.body_str()
    );
    outcome.body_str().to_string()
}

#[test]
fn warm_invocations_allocate_nothing() {
    let server = Server::start().unwrap();
    let _child = spawn(&server, env!("CARGO_BIN_EXE_alloc-count"));
    // Warm up: first invocations size the reused buffers.
    for i in 0..50 {
        let body = format!("warm-up {i} {}", "x".repeat(i * 20));
        assert_eq!(answer(&server, body.as_bytes()), body);
    }
    // The first `count` sizes the output buffer its answer is written into.
    let _: u64 = answer(&server, b"count").parse().unwrap();
    let before: u64 = answer(&server, b"count").parse().unwrap();
    for i in 0..1000 {
        let body = format!("{{\"n\":{i}}}");
        assert_eq!(answer(&server, body.as_bytes()), body);
    }
    let after: u64 = answer(&server, b"count").parse().unwrap();
    assert_eq!(
        after - before,
        0,
        "heap allocations in the runtime's process over 1,000 warm invocations"
    );
}

/// `AWS_LAMBDA_MAX_CONCURRENCY=4`: the server withholds every answer until 4 invocations are in
/// flight at once (`hold_answers_until_in_flight`), so a runtime serving fewer at a time never
/// gets its first answer and the test fails; no handler sleeps.
#[test]
fn n_invocations_in_flight_at_once() {
    const N: usize = 4;
    let server = Server::start_with(ServerConfig {
        max_concurrency: Some(N as u32),
        hold_answers_until_in_flight: Some(N),
        ..ServerConfig::default()
    })
    .unwrap();
    let proc = spawn(&server, env!("CARGO_BIN_EXE_fail"));
    let ids: Vec<String> = (0..N)
        .map(|i| server.invoke(Invocation::new(format!("{{\"i\":{i}}}"))))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let o = server
            .wait_outcome(id, WAIT)
            .unwrap_or_else(|| panic!("no answer for {i}\n{}", proc.stderr()));
        assert_eq!(o.kind, OutcomeKind::Response);
        assert_eq!(json(&o.request.body)["i"], i);
    }
    // The answers were released (all N lanes were waiting on them): the runtime goes on.
    assert_eq!(answer(&server, b"{\"after\":1}"), "{\"after\":1}");
    // Exactly one answer each, on N connections.
    let outcomes = server.outcomes();
    assert_eq!(outcomes.len(), N + 1);
    for id in &ids {
        assert_eq!(outcomes.iter().filter(|o| &o.request_id == id).count(), 1);
    }
    assert!(server.connections() >= N);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

/// SIGTERM while a handler runs (held at a gate): the runtime lets it finish, answers it, and
/// exits 0.
#[test]
fn sigterm_lets_the_in_flight_invocation_finish() {
    let server = Server::start().unwrap();
    let mut proc = spawn(&server, env!("CARGO_BIN_EXE_fail"));
    let gate = Gate::new();
    let id = server.invoke(Invocation::new(format!(
        r#"{{"gate":"{}","a":1}}"#,
        gate.addr()
    )));
    let held = gate.wait_entered(|| proc.stderr());
    proc.signal(SIGTERM);
    Gate::open(held);
    let outcome = server
        .wait_outcome(&id, WAIT)
        .expect("the in-flight answer");
    assert_eq!(outcome.kind, OutcomeKind::Response);
    let status = proc.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", proc.stderr());
}
