//! `context` on the blocking std transport.
use lamina_std::{Runtime, typed};

fn main() {
    Runtime::from_env().run_with_init(|config| {
        let config = config.clone();
        Ok::<_, std::convert::Infallible>(typed(
            move |ctx: &lamina_std::Context, _event: serde::de::IgnoredAny| {
                Ok::<_, std::convert::Infallible>(lamina_examples::context(&config, ctx))
            },
        ))
    })
}
