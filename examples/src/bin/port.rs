//! `port` on the mio transport (see `lamina_examples::port`).
use lamina_examples::{echo, port};
use lamina_mio::{Runtime, layer, raw, typed, typed_streaming};

fn main() {
    let runtime = Runtime::from_env();
    match std::env::var("LAMINA_EXAMPLE_PORT").as_deref() {
        Ok("stream") => runtime.run(layer(typed_streaming(port::report), port::timing)),
        Ok("raw") => runtime.run(layer(raw(echo), port::timing)),
        _ => runtime.run(layer(typed(port::orders), port::timing)),
    }
}
