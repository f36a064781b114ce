//! The bootstrap: the axum app on lamina-http.

fn main() {
    lamina_http::run(lamina_axum::app())
}
