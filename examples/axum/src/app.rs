//! The app: plain axum, nothing lamina-specific, so that the very same file runs on lambda_http
//! for the size comparison (`bench/official/http-axum/`).

use axum::Router;
use axum::extract::{Json, Path};
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `GET /hello/{name}`, `POST /orders` (JSON in and out), `POST /echo` (the body back, binary
/// or text, cookies seen and set), and a JSON 404 for anything else.
pub fn app() -> Router {
    Router::new()
        .route("/hello/{name}", get(hello))
        .route("/orders", post(create_order))
        .route("/echo", post(echo))
        .fallback(not_found)
}

/// `{"message": "Hello <name>!"}`.
async fn hello(Path(name): Path<String>) -> Json<Value> {
    Json(json!({ "message": format!("Hello {name}!") }))
}

/// An order as the client sends it.
#[derive(Debug, Deserialize)]
pub struct NewOrder {
    /// What is ordered.
    pub item: String,
    /// How many.
    pub quantity: u32,
    /// Price of one, in cents.
    pub unit_cents: u64,
}

/// The order as the app answers it.
#[derive(Debug, Serialize)]
pub struct Order {
    /// What is ordered.
    pub item: String,
    /// How many.
    pub quantity: u32,
    /// What it costs, in cents.
    pub total_cents: u64,
}

/// 201 with the order and its total; 422 (axum's rejection) when the JSON does not fit.
async fn create_order(Json(order): Json<NewOrder>) -> (StatusCode, Json<Order>) {
    let total_cents = order.unit_cents * u64::from(order.quantity);
    let order = Order {
        item: order.item,
        quantity: order.quantity,
        total_cents,
    };
    (StatusCode::CREATED, Json(order))
}

/// The body back with the request's `Content-Type`, and a `Set-Cookie: echoed=<n>` for each
/// cookie the request had.
async fn echo(headers: axum::http::HeaderMap, body: axum::body::Bytes) -> impl IntoResponse {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty());
    for (i, cookie) in cookies.enumerate() {
        let name = cookie.split('=').next().unwrap_or(cookie);
        if let Ok(v) = format!("echoed-{name}={i}; Path=/").parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// 404 with `{"error": "not found", "path": ...}`.
async fn not_found(uri: Uri) -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not found", "path": uri.path() })),
    )
}
