//! `stream_fail` as an async streaming handler on the mio transport.
fn main() {
    lamina_mio::run_async_streaming(lamina_examples::asynchronous::stream_fail)
}
