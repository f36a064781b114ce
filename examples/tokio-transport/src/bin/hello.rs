//! `hello` on the tokio transport: `{"name":"World"}` gives `"Hello World!"`; an event without
//! a `name` fails with errorType `InvalidEvent`.

use std::fmt;
use std::process::ExitCode;

use lamina_tokio::{Context, json};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct MyEvent {
    name: String,
}

/// The seed article's error (never returned here: its type name is what `errorType` would be).
#[derive(Debug)]
struct MyError(String);

impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

async fn hello(_ctx: &Context, event: MyEvent) -> Result<String, MyError> {
    Ok(format!("Hello {}!", event.name))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lamina_tokio::run(json(hello)).await
}
