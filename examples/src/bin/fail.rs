//! `fail` on the mio transport (the production bootstrap).
use lamina_mio::{Runtime, typed};

fn main() {
    Runtime::from_env()
        .run_with_init(|_| lamina_examples::fail_init().map(|()| typed(lamina_examples::fail)))
}
