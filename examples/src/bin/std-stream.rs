//! `stream` on the blocking std transport.
fn main() {
    lamina_std::run_streaming(lamina_examples::stream)
}
