//! `hello` on the tokio transport: `{"name":"World"}` gives `"Hello World!"`; an empty name
//! fails with errorType `EmptyName`.

use std::fmt;
use std::process::ExitCode;

use lamina_tokio::{Context, json};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct MyEvent {
    name: String,
}

#[derive(Debug)]
struct EmptyName;

impl fmt::Display for EmptyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the name is empty")
    }
}

async fn hello(_ctx: &Context, event: MyEvent) -> Result<String, EmptyName> {
    if event.name.is_empty() {
        return Err(EmptyName);
    }
    Ok(format!("Hello {}!", event.name))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lamina_tokio::run(json(hello)).await
}
