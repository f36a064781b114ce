//! The handler's `http::Response` turned into the response document of the trigger that sent
//! the request.

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::base64;
use crate::body::Body;
use crate::event::Trigger;

/// A response document, in the shape of the trigger that sent the request. Serialize it as the
/// invocation's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum LambdaResponse {
    /// API Gateway REST (payload 1.0).
    ApiGatewayV1(ApiGatewayV1Response),
    /// API Gateway HTTP API (payload 2.0) and Function URLs.
    ApiGatewayV2(ApiGatewayV2Response),
    /// ALB.
    Alb(AlbResponse),
}

/// Headers in the order the response had them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

/// Headers with every value, in the order the response had them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultiValueHeaders(pub Vec<(String, Vec<String>)>);

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for MultiValueHeaders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// API Gateway REST's response: headers with a single value in `headers`, every header with
/// all its values in `multiValueHeaders` (API Gateway merges the two).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiGatewayV1Response {
    /// The status.
    pub status_code: u16,
    /// Headers that have one value.
    pub headers: Headers,
    /// Every header, every value.
    pub multi_value_headers: MultiValueHeaders,
    /// The body: text, or base64 when `is_base64_encoded`.
    pub body: String,
    /// Whether `body` is base64.
    pub is_base64_encoded: bool,
}

/// The payload 2.0 response (HTTP APIs and Function URLs): values of one header joined with
/// commas, `Set-Cookie` headers in `cookies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiGatewayV2Response {
    /// The status.
    pub status_code: u16,
    /// Headers, several values joined with `, `.
    pub headers: Headers,
    /// Each `Set-Cookie` value.
    pub cookies: Vec<String>,
    /// The body: text, or base64 when `is_base64_encoded`.
    pub body: String,
    /// Whether `body` is base64.
    pub is_base64_encoded: bool,
}

/// ALB's response, in the target group's header mode: `multiValueHeaders` when the request came
/// with them, else `headers` (where only the last `Set-Cookie` fits; turn multi-value headers
/// on to send several cookies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AlbResponse {
    /// The status.
    pub status_code: u16,
    /// The status line's text, e.g. `200 OK`.
    pub status_description: String,
    /// Headers, single-value mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    /// Headers, multi-value mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_value_headers: Option<MultiValueHeaders>,
    /// The body: text, or base64 when `is_base64_encoded`.
    pub body: String,
    /// Whether `body` is base64.
    pub is_base64_encoded: bool,
}

/// Whether a response with this `Content-Type` is text: `text/*`, `application/json`,
/// `application/javascript`, `application/ecmascript`, `application/xml`,
/// `application/x-www-form-urlencoded`, and any `*/*+json` or `*/*+xml` (parameters such as
/// `charset` ignored, case-insensitive). Everything else is binary.
pub fn is_text_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    let lower = |s: &str| s.to_ascii_lowercase();
    let (kind, sub) = (lower(kind), lower(sub));
    kind == "text"
        || sub.ends_with("+json")
        || sub.ends_with("+xml")
        || (kind == "application"
            && matches!(
                sub.as_str(),
                "json"
                    | "javascript"
                    | "x-javascript"
                    | "ecmascript"
                    | "xml"
                    | "x-www-form-urlencoded"
            ))
}

/// The body as the document carries it: `(text, false)` when the response is text (by
/// [`is_text_content_type`]; no `Content-Type` counts as text) and UTF-8 and not
/// `Content-Encoding`d, else `(base64, true)`.
pub fn encode_body(headers: &HeaderMap, body: &[u8]) -> (String, bool) {
    let encoded = headers
        .get(CONTENT_ENCODING)
        .is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"));
    let text_type = match headers.get(CONTENT_TYPE) {
        Some(ct) => ct.to_str().is_ok_and(is_text_content_type),
        None => true,
    };
    if !encoded
        && text_type
        && let Ok(text) = std::str::from_utf8(body)
    {
        return (text.to_owned(), false);
    }
    (base64::encode(body), true)
}

fn value_str(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

fn multi(headers: &HeaderMap) -> MultiValueHeaders {
    MultiValueHeaders(
        headers
            .keys()
            .map(|k| {
                let values = headers.get_all(k).iter().map(value_str).collect();
                (k.as_str().to_owned(), values)
            })
            .collect(),
    )
}

/// Every header but `Set-Cookie`, values of one name joined with `, `.
fn joined(headers: &HeaderMap) -> Headers {
    Headers(
        headers
            .keys()
            .filter(|k| **k != SET_COOKIE)
            .map(|k| {
                let values: Vec<String> = headers.get_all(k).iter().map(value_str).collect();
                (k.as_str().to_owned(), values.join(", "))
            })
            .collect(),
    )
}

/// The `Set-Cookie` values.
pub(crate) fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers.get_all(SET_COOKIE).iter().map(value_str).collect()
}

/// The prelude's headers for a streamed response: as payload 2.0's (`Set-Cookie` apart).
pub(crate) fn joined_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    joined(headers).0
}

impl LambdaResponse {
    /// The document answering a request from `trigger` with this status, headers and body.
    pub fn new(trigger: Trigger, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let (body, is_base64_encoded) = encode_body(headers, body);
        let status_code = status.as_u16();
        match trigger {
            Trigger::ApiGatewayV1 => {
                let multi_value_headers = multi(headers);
                let single = multi_value_headers
                    .0
                    .iter()
                    .filter_map(|(k, v)| match v.as_slice() {
                        [one] => Some((k.clone(), one.clone())),
                        _ => None,
                    })
                    .collect();
                LambdaResponse::ApiGatewayV1(ApiGatewayV1Response {
                    status_code,
                    headers: Headers(single),
                    multi_value_headers,
                    body,
                    is_base64_encoded,
                })
            }
            Trigger::ApiGatewayV2 | Trigger::FunctionUrl => {
                LambdaResponse::ApiGatewayV2(ApiGatewayV2Response {
                    status_code,
                    headers: joined(headers),
                    cookies: cookies(headers),
                    body,
                    is_base64_encoded,
                })
            }
            Trigger::Alb { multi_value } => {
                let status_description = match status.canonical_reason() {
                    Some(reason) => format!("{status_code} {reason}"),
                    None => status_code.to_string(),
                };
                let (single, multi) = if multi_value {
                    (None, Some(multi(headers)))
                } else {
                    let mut h = joined(headers);
                    if let Some(last) = headers.get_all(SET_COOKIE).iter().next_back() {
                        h.0.push((SET_COOKIE.as_str().to_owned(), value_str(last)));
                    }
                    (Some(h), None)
                };
                LambdaResponse::Alb(AlbResponse {
                    status_code,
                    status_description,
                    headers: single,
                    multi_value_headers: multi,
                    body,
                    is_base64_encoded,
                })
            }
        }
    }

    /// The document answering a request from `trigger` with `response`.
    pub fn from_response<B: AsRef<[u8]>>(trigger: Trigger, response: &Response<B>) -> Self {
        Self::new(
            trigger,
            response.status(),
            response.headers(),
            response.body().as_ref(),
        )
    }
}

/// What a plain handler function may return (see [`service_fn`](crate::service_fn)).
pub trait IntoResponse {
    /// The HTTP response.
    fn into_response(self) -> Response<Body>;
}

fn with_type(body: Body, content_type: &'static str) -> Response<Body> {
    let mut res = Response::new(body);
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

impl<B: Into<Body>> IntoResponse for Response<B> {
    fn into_response(self) -> Response<Body> {
        self.map(Into::into)
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response<Body> {
        Response::new(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response<Body> {
        with_type(self.into(), "text/plain; charset=utf-8")
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response<Body> {
        with_type(self.into(), "text/plain; charset=utf-8")
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response<Body> {
        with_type(self.into(), "application/octet-stream")
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response<Body> {
        with_type(self.into(), "application/octet-stream")
    }
}

impl IntoResponse for serde_json::Value {
    fn into_response(self) -> Response<Body> {
        with_type(self.to_string().into(), "application/json")
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response<Body> {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self;
        res
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response<Body> {
        let mut res = self.1.into_response();
        *res.status_mut() = self.0;
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_content_types() {
        for t in [
            "text/html",
            "text/plain; charset=utf-8",
            "TEXT/CSV",
            "application/json",
            "application/json; charset=utf-8",
            "application/javascript",
            "application/xml",
            "application/problem+json",
            "application/atom+xml",
            "image/svg+xml",
            "application/x-www-form-urlencoded",
        ] {
            assert!(is_text_content_type(t), "{t}");
        }
        for t in [
            "application/octet-stream",
            "image/png",
            "application/pdf",
            "application/zip",
            "application/jsonx",
            "json",
            "",
            "multipart/form-data",
        ] {
            assert!(!is_text_content_type(t), "{t}");
        }
    }

    #[test]
    fn bodies_follow_the_content_type() {
        let mut h = HeaderMap::new();
        assert_eq!(encode_body(&h, b"plain"), ("plain".into(), false));
        assert_eq!(encode_body(&h, &[0xff]), ("/w==".into(), true));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
        assert_eq!(encode_body(&h, b"png"), ("cG5n".into(), true));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        assert_eq!(encode_body(&h, b"<p>"), ("<p>".into(), false));
        assert_eq!(encode_body(&h, &[0xc3]), ("ww==".into(), true));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(encode_body(&h, b"<p>"), ("PHA+".into(), true));
    }

    #[test]
    fn into_response_forms() {
        let r = (StatusCode::CREATED, "made").into_response();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        let r = serde_json::json!({"a": 1}).into_response();
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(r.body().as_str(), Some(r#"{"a":1}"#));
        let r = Response::builder()
            .status(404)
            .body("no")
            .unwrap()
            .into_response();
        assert_eq!((r.status().as_u16(), r.body().as_str()), (404, Some("no")));
    }
}
