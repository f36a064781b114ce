//! `hello` on the blocking std transport.
fn main() {
    lamina_std::run(lamina_examples::hello)
}
