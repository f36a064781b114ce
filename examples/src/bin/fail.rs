//! `fail` on the mio transport (the production bootstrap).
use lamina_examples::hook;
use lamina_mio::{Runtime, typed};

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
    runtime.run_with_init(|_| lamina_examples::fail_init().map(|()| typed(lamina_examples::fail)))
}
