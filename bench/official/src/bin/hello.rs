//! lamina's `hello` example on the official runtime: `{"name":"World"}` gives `"Hello World!"`
//! (the response body is that JSON string, as lamina's `hello` sends it).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;

#[derive(Deserialize)]
struct MyEvent {
    name: String,
}

async fn hello(event: LambdaEvent<MyEvent>) -> Result<String, Error> {
    Ok(format!("Hello {}!", event.payload.name))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}
