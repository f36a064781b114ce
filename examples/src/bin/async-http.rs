//! An async handler that calls a local HTTP endpoint: `{"url": "http://127.0.0.1:PORT/path"}`
//! → `{"status": 200, "body": "..."}`. Try it with any local server, e.g.
//! `python3 -m http.server 8000` and
//! `cargo run -p lamina-server -- --bootstrap target/debug/async-http --event
//! '{"url":"http://127.0.0.1:8000/"}'`.
fn main() {
    lamina_mio::run_async(lamina_examples::asynchronous::http_get)
}
