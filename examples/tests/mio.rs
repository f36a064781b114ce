//! What only the mio transport promises: no allocation per warm invocation, N invocations in
//! flight at once with N connections and workers, and SIGTERM letting in-flight work finish.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use lamina_server::{Invocation, OutcomeKind, Server, ServerConfig};

const WAIT: Duration = Duration::from_secs(10);

/// Kills the child when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Guard {
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

fn spawn(server: &Server, bin: &str) -> Guard {
    let child = server
        .command(bin.as_ref())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn bootstrap");
    Guard(child)
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

#[test]
fn n_invocations_in_flight_at_once() {
    const N: usize = 4;
    let server = Server::start_with(ServerConfig {
        max_concurrency: Some(N as u32),
        ..ServerConfig::default()
    })
    .unwrap();
    let _child = spawn(&server, env!("CARGO_BIN_EXE_fail"));
    // Each handler sleeps long enough for all N to be delivered before any is answered.
    let ids: Vec<String> = (0..N)
        .map(|i| server.invoke(Invocation::new(format!("{{\"sleep_ms\":400,\"i\":{i}}}"))))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let o = server.wait_outcome(id, WAIT).expect("an answer");
        assert_eq!(o.kind, OutcomeKind::Response);
        let v: serde_json::Value = serde_json::from_str(o.body_str()).unwrap();
        assert_eq!(v["i"], i);
    }
    assert_eq!(server.max_in_flight(), N, "invocations in flight at once");
    // Exactly one answer each.
    let outcomes = server.outcomes();
    assert_eq!(outcomes.len(), N);
    for id in &ids {
        assert_eq!(outcomes.iter().filter(|o| &o.request_id == id).count(), 1);
    }
    // And N connections were used.
    assert!(server.connections() >= N);
}

#[test]
fn sigterm_lets_the_in_flight_invocation_finish() {
    let server = Server::start().unwrap();
    let mut child = spawn(&server, env!("CARGO_BIN_EXE_fail"));
    let id = server.invoke(Invocation::new(&b"{\"sleep_ms\":500}"[..]));
    // Wait (bounded) until the invocation has been delivered.
    let end = Instant::now() + WAIT;
    while server.in_flight() == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.in_flight(), 1);
    let pid = child.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let outcome = server
        .wait_outcome(&id, WAIT)
        .expect("the in-flight answer");
    assert_eq!(outcome.kind, OutcomeKind::Response);
    let status = child.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
}
