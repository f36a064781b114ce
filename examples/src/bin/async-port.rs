//! `port` with async handlers on the mio transport (see `lamina_examples::port`).
use lamina_examples::{asynchronous, port};
use lamina_mio::{Runtime, async_raw, async_streaming, async_typed, layer};

fn main() {
    let runtime = Runtime::from_env();
    match std::env::var("LAMINA_EXAMPLE_PORT").as_deref() {
        Ok("stream") => runtime.run(layer(async_streaming(port::report_async), port::timing)),
        Ok("raw") => runtime.run(layer(async_raw(asynchronous::echo), port::timing)),
        _ => runtime.run(layer(async_typed(port::orders_async), port::timing)),
    }
}
