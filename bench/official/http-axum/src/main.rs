//! examples/axum's app, the very same source file, on the official `lambda_http` (tokio +
//! hyper): the other side of the size comparison in bench/RESULTS.md.

#[path = "../../../../examples/axum/src/app.rs"]
mod app;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(app::app()).await
}
