//! `echo` on the blocking std transport.
fn main() {
    lamina_std::run_raw(lamina_examples::echo)
}
