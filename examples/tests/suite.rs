//! The shared integration suite (`cases/`) on the std and mio transports: every case, streaming
//! and SIGTERM ones included. Run one transport with `cargo test -p lamina-examples --test suite
//! on_std::`. The tokio example runs the same cases (`examples/tokio-transport/tests/suite.rs`).

mod cases;
mod common;

use common::Transport;

/// The blocking std transport's binaries.
const STD: Transport = Transport {
    name: "std",
    hello: env!("CARGO_BIN_EXE_std-hello"),
    echo: env!("CARGO_BIN_EXE_std-echo"),
    fail: env!("CARGO_BIN_EXE_std-fail"),
    context: env!("CARGO_BIN_EXE_std-context"),
    stream: Some(env!("CARGO_BIN_EXE_std-stream")),
    stream_fail: Some(env!("CARGO_BIN_EXE_std-stream_fail")),
};

/// The mio transport's binaries (the production bootstrap).
const MIO: Transport = Transport {
    name: "mio",
    hello: env!("CARGO_BIN_EXE_hello"),
    echo: env!("CARGO_BIN_EXE_echo"),
    fail: env!("CARGO_BIN_EXE_fail"),
    context: env!("CARGO_BIN_EXE_context"),
    stream: Some(env!("CARGO_BIN_EXE_stream")),
    stream_fail: Some(env!("CARGO_BIN_EXE_stream_fail")),
};

cases::suite!(on_std, STD, full);
cases::suite!(on_mio, MIO, full);
