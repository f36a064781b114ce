//! lamina's shared integration suite (`examples/tests/cases/`, with its harness
//! `examples/tests/common/`) on the tokio transport: the same black-box cases as the std and mio
//! transports run, against the fake Runtime API (`lamina-server`) on 127.0.0.1.

// Only `suite!(.., full)` instantiates the cases that need what this transport leaves out on
// purpose (see its README), so they are compiled here but not run:
// - the streaming cases (`stream_then_a_clean_connection`, `failed_stream_then_next_served`,
//   `stream_reset_midway`, `stream_answered_413`): it does not stream;
// - `sigterm_while_an_answer_is_unanswered`: it has no SIGTERM handling (no graceful-shutdown
//   option), so SIGTERM ends it at once, as it ends any runtime without an extension.
// lamina's `cargo fmt` formats these files (with its own settings, not this project's).
#[allow(dead_code, unused_imports)]
#[path = "../../tests/cases/mod.rs"]
#[rustfmt::skip]
mod cases;
#[path = "../../tests/common/mod.rs"]
#[rustfmt::skip]
mod common;

use common::Transport;

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

cases::suite!(on_tokio, TOKIO);
