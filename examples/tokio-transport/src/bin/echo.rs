//! `echo` on the tokio transport: the event's bytes back, unchanged (a raw handler).

use std::convert::Infallible;
use std::process::ExitCode;

use lamina_tokio::Context;

async fn echo(_ctx: &Context, event: Vec<u8>) -> Result<Vec<u8>, Infallible> {
    Ok(event)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lamina_tokio::run(echo).await
}
