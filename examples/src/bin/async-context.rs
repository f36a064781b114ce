//! `context` as an async handler on the mio transport (settings read in the handler).
fn main() {
    lamina_mio::run_async(lamina_examples::asynchronous::context)
}
