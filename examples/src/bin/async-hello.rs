//! `hello` as an async handler on the mio transport.
fn main() {
    lamina_mio::run_async(lamina_examples::asynchronous::hello)
}
