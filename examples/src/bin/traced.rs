//! A handler logging through `tracing` (see `lamina_examples::traced`), async on mio.
fn main() {
    lamina_mio::run_async(lamina_examples::traced::traced)
}
