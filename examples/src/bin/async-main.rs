//! `hello` as an async handler served from inside `#[tokio::main]`, as `lambda_runtime`
//! functions are written: lamina runs the handlers on that (multi-thread) runtime.
use lamina_mio::Context;

#[tokio::main]
async fn main() {
    let greeting = String::from("Hello");
    lamina_mio::run_async(
        async move |_ctx: &Context, event: lamina_examples::MyEvent| {
            let name = lamina_mio::spawn(async move { event.name }).await?;
            Ok::<_, tokio::task::JoinError>(format!("{greeting} {name}!"))
        },
    )
}
