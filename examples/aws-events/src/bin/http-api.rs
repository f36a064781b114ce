//! An API Gateway HTTP API (v2) function on lamina's mio transport.
fn main() {
    lamina_mio::run(lamina_aws_events::http_api)
}
