//! `fail` on the blocking std transport.
use lamina_std::{Runtime, typed};

fn main() {
    Runtime::from_env()
        .run_with_init(|_| lamina_examples::fail_init().map(|()| typed(lamina_examples::fail)))
}
