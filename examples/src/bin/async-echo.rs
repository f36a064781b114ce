//! `echo` as an async raw handler on the mio transport.
fn main() {
    lamina_mio::run_async_raw(lamina_examples::asynchronous::echo)
}
