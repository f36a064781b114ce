//! `hello` on the mio transport (the production bootstrap).
fn main() {
    lamina_mio::run(lamina_examples::hello)
}
