//! `stream` on the mio transport.
fn main() {
    lamina_mio::run_streaming(lamina_examples::stream)
}
