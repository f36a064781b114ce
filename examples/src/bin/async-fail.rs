//! `fail` as an async handler on the mio transport, with an async initialisation.
use lamina_examples::{asynchronous, hook};
use lamina_mio::{Config, Runtime, async_typed};

fn main() {
    let mut runtime = Runtime::from_env();
    if std::env::var_os("LAMINA_EXAMPLE_HOOKS").is_some() {
        runtime = runtime
            .before_snapshot(hook("before-1"))
            .before_snapshot(hook("before-2"))
            .after_restore(hook("after-1"))
            .after_restore(hook("after-2"));
    }
    if std::env::var_os("LAMINA_EXAMPLE_GRACEFUL").is_some() {
        runtime = runtime.graceful_shutdown(|| eprintln!("shutdown hook ran"));
    }
    runtime.run_async_with_init(async |_: &Config| {
        tokio::task::yield_now().await;
        lamina_examples::fail_init().map(|()| async_typed(asynchronous::fail))
    })
}
