//! `echo` on the mio transport (the production bootstrap).
fn main() {
    lamina_mio::run_raw(lamina_examples::echo)
}
