//! `context` on the mio transport (the production bootstrap).
use lamina_mio::{Runtime, typed};

fn main() {
    Runtime::from_env().run_with_init(|config| {
        let config = config.clone();
        Ok::<_, std::convert::Infallible>(typed(
            move |ctx: &lamina_mio::Context, _event: serde::de::IgnoredAny| {
                Ok::<_, std::convert::Infallible>(lamina_examples::context(&config, ctx))
            },
        ))
    })
}
