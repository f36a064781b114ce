//! What only the tokio transport shows; everything else runs in the shared suite
//! (`tests/suite.rs`). Black-box: the bootstraps against lamina's fake Runtime API
//! (`lamina-server`) on 127.0.0.1, every wait bounded and synchronised by the server or by the
//! child's stderr, never a sleep.

#[path = "../../tests/common/mod.rs"]
#[rustfmt::skip]
mod common;

use common::{Bin, Harness, Transport, json};
use lamina_server::{Answer, Invocation, ServerConfig};

/// The tokio bootstraps (`src/bin/`).
const TOKIO: Transport = Transport {
    name: "tokio",
    hello: env!("CARGO_BIN_EXE_hello"),
    echo: env!("CARGO_BIN_EXE_echo"),
    fail: env!("CARGO_BIN_EXE_fail"),
    context: env!("CARGO_BIN_EXE_context"),
    stream: None,
    stream_fail: None,
};

/// Its log lines: `lamina-tokio: <LEVEL> <request id>: <what the driver said>`.
#[test]
fn log_lines_name_level_and_request_id() {
    let mut h = Harness::start(&TOKIO, Bin::Fail);
    let a = h.invoke(Invocation::new(r#"{"a":1}"#).answer(Answer::Status(410)));
    let b = h.invoke(Invocation::new(r#"{"error":"late"}"#).answer(Answer::Status(410)));
    let last = h.sentinel();
    for id in [&a, &b] {
        h.expect_stderr(&format!(
            "lamina-tokio: WARN {id}: invocation timed out (410 Gone); serving the next one"
        ));
    }
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
    h.expect_running();
}

/// `AWS_LAMBDA_MAX_CONCURRENCY=2`: this transport serves one invocation at a time and says so;
/// every invocation is still answered once, `_X_AMZN_TRACE_ID` still set.
#[test]
fn concurrency_served_one_at_a_time() {
    let cfg = ServerConfig { max_concurrency: Some(2), ..Default::default() };
    let mut h = Harness::start_with(&TOKIO, Bin::Context, cfg, &[]);
    let ids: Vec<String> =
        (0..3).map(|i| h.invoke(Invocation::new("{}").trace_id(format!("Root=1-{i}")))).collect();
    for (i, id) in ids.iter().enumerate() {
        let v = json(&h.outcome(id).request.body);
        assert_eq!(
            (&v["max_concurrency"], &v["env_trace_id"]),
            (&2.into(), &format!("Root=1-{i}").into())
        );
    }
    assert_eq!(h.server.max_in_flight(), 1, "{}", h.diag());
    h.expect_answer_counts(&[(&ids[0], 1), (&ids[1], 1), (&ids[2], 1)]);
    h.expect_stderr("AWS_LAMBDA_MAX_CONCURRENCY=2: this transport serves 1 at a time");
    h.expect_running();
}
