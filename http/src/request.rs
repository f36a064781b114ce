//! An HTTP event turned into the `http::Request` a handler sees.

use std::fmt;

use http::header::{COOKIE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};

use crate::base64;
use crate::body::Body;
use crate::event::{
    AlbRequest, ApiGatewayV1Request, ApiGatewayV2Request, LambdaRequest, MultiMap, RequestContext,
    StrMap,
};
use crate::ext::{PathParameters, QueryMap, QueryStringParameters, StageVariables};

/// A request that cannot be handed to the handler: answered `400 Bad Request` by the adapter,
/// the handler never sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadRequest {
    /// `isBase64Encoded` is true and the body is not valid base64.
    InvalidBase64,
    /// The event's method is not an HTTP method.
    InvalidMethod,
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadRequest::InvalidBase64 => "the request body is not valid base64",
            BadRequest::InvalidMethod => "the request method is not valid",
        })
    }
}

impl std::error::Error for BadRequest {}

impl LambdaRequest {
    /// The `http::Request` this event describes: method, URI (path and query), headers,
    /// cookies, the body (decoded from base64 when the event says so), and as extensions the
    /// path parameters, query string parameters, stage variables and request context (see
    /// [`RequestExt`](crate::RequestExt)).
    pub fn into_http_request(self) -> Result<Request<Body>, BadRequest> {
        match self {
            LambdaRequest::ApiGatewayV1(r) => from_v1(r),
            LambdaRequest::ApiGatewayV2(r) => from_v2(r, false),
            LambdaRequest::FunctionUrl(r) => from_v2(r, true),
            LambdaRequest::Alb(r) => from_alb(r),
        }
    }
}

struct Parts {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Option<String>,
    base64: bool,
    fallback_host: Option<String>,
}

fn build(
    p: Parts,
    query: QueryMap,
    path_params: QueryMap,
    stage_vars: QueryMap,
    context: RequestContext,
) -> Result<Request<Body>, BadRequest> {
    let method = Method::from_bytes(p.method.as_bytes()).map_err(|_| BadRequest::InvalidMethod)?;
    let body = match p.body {
        None => Body::empty(),
        Some(b) if p.base64 => base64::decode(&b)
            .map_err(|_| BadRequest::InvalidBase64)?
            .into(),
        Some(b) => b.into(),
    };
    let uri = uri(&p.headers, p.fallback_host.as_deref(), &p.path, &p.query);
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = p.headers;
    let ext = req.extensions_mut();
    ext.insert(QueryStringParameters(query));
    ext.insert(PathParameters(path_params));
    ext.insert(StageVariables(stage_vars));
    ext.insert(context);
    Ok(req)
}

/// `scheme://host/path?query` when the host is known (from `Host`, else the context's domain
/// name), `/path?query` otherwise; never fails (bytes a URI cannot hold are percent-encoded).
fn uri(headers: &HeaderMap, fallback_host: Option<&str>, path: &str, query: &str) -> Uri {
    let mut target = String::with_capacity(path.len() + query.len() + 2);
    if !path.starts_with('/') {
        target.push('/');
    }
    encode_into(&mut target, path, PATH_KEEP);
    if !query.is_empty() {
        target.push('?');
        encode_into(&mut target, query, QUERY_KEEP);
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or(fallback_host)
        .filter(|h| !h.is_empty());
    if let Some(host) = host {
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .filter(|s| *s == "http" || *s == "https")
            .unwrap_or("https");
        if let Ok(uri) = format!("{scheme}://{host}{target}").parse() {
            return uri;
        }
    }
    target.parse().unwrap_or_else(|_| Uri::from_static("/"))
}

/// Bytes kept as they are in a path: unreserved, sub-delims, `:@/` and `%` (paths arrive
/// either raw or decoded; a `%` is kept either way).
const PATH_KEEP: &[u8] = b"-._~!$&'()*+,;=:@/%";
/// In a raw query string, also `?`.
const QUERY_KEEP: &[u8] = b"-._~!$&'()*+,;=:@/%?";
/// In one decoded query component: unreserved only.
const COMPONENT_KEEP: &[u8] = b"-._~";

fn encode_into(out: &mut String, s: &str, keep: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus` is set); invalid escapes are kept.
fn decode(s: &str, plus: bool) -> String {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => match (bytes.get(i + 1).and_then(|&h| hex(h)), bytes.get(i + 2)) {
                (Some(h), Some(&l)) if hex(l).is_some() => {
                    out.push(h << 4 | hex(l).unwrap_or(0));
                    i += 3;
                    continue;
                }
                _ => out.push(b),
            },
            b'+' if plus => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a raw query string, decoded as a form would be.
fn parse_query(raw: &str) -> QueryMap {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

/// A query string built from decoded parameters.
fn build_query(params: &QueryMap) -> String {
    let mut q = String::new();
    for (name, values) in params.iter() {
        for value in values {
            if !q.is_empty() {
                q.push('&');
            }
            encode_into(&mut q, name, COMPONENT_KEEP);
            q.push('=');
            encode_into(&mut q, value, COMPONENT_KEEP);
        }
    }
    q
}

/// Sorted by name, so that a request is the same whatever order the JSON object had.
fn sorted_single(map: StrMap) -> Vec<(String, String)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort();
    v
}

fn sorted_multi(map: MultiMap) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort();
    v
}

/// Headers from a multi-value map, or else the single-value one. A name or value HTTP cannot
/// carry is left out.
fn headers(multi: MultiMap, single: StrMap) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut add = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    };
    if multi.is_empty() {
        for (name, value) in sorted_single(single) {
            add(&name, &value);
        }
    } else {
        for (name, values) in sorted_multi(multi) {
            for value in values {
                add(&name, &value);
            }
        }
    }
    h
}

fn params(multi: MultiMap, single: StrMap) -> QueryMap {
    if multi.is_empty() {
        sorted_single(single).into_iter().collect()
    } else {
        sorted_multi(multi)
            .into_iter()
            .flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v)))
            .collect()
    }
}

fn from_v1(r: Box<ApiGatewayV1Request>) -> Result<Request<Body>, BadRequest> {
    let r = *r;
    let query = params(
        r.multi_value_query_string_parameters,
        r.query_string_parameters,
    );
    let parts = Parts {
        method: r.http_method,
        path: r.path.unwrap_or_default(),
        query: build_query(&query),
        headers: headers(r.multi_value_headers, r.headers),
        body: r.body,
        base64: r.is_base64_encoded,
        fallback_host: r.request_context.domain_name.clone(),
    };
    let path_params = sorted_single(r.path_parameters).into_iter().collect();
    let stage_vars = sorted_single(r.stage_variables).into_iter().collect();
    let context = RequestContext::ApiGatewayV1(Box::new(r.request_context));
    build(parts, query, path_params, stage_vars, context)
}

fn from_v2(r: Box<ApiGatewayV2Request>, function_url: bool) -> Result<Request<Body>, BadRequest> {
    let r = *r;
    let raw_query = r.raw_query_string.unwrap_or_default();
    let query = if raw_query.is_empty() {
        sorted_single(r.query_string_parameters)
            .into_iter()
            .collect()
    } else {
        parse_query(&raw_query)
    };
    let mut headers = headers(MultiMap::new(), r.headers);
    // Payload 2.0 moves the Cookie headers into `cookies`: put them back.
    if !r.cookies.is_empty()
        && let Ok(v) = HeaderValue::from_str(&r.cookies.join("; "))
    {
        headers.insert(COOKIE, v);
    }
    let ctx = r.request_context;
    let parts = Parts {
        method: ctx.http.method.clone(),
        path: r
            .raw_path
            .or_else(|| ctx.http.path.clone())
            .unwrap_or_default(),
        query: raw_query,
        headers,
        body: r.body,
        base64: r.is_base64_encoded,
        fallback_host: ctx.domain_name.clone(),
    };
    let path_params = sorted_single(r.path_parameters).into_iter().collect();
    let stage_vars = sorted_single(r.stage_variables).into_iter().collect();
    let context = if function_url {
        RequestContext::FunctionUrl(Box::new(ctx))
    } else {
        RequestContext::ApiGatewayV2(Box::new(ctx))
    };
    build(parts, query, path_params, stage_vars, context)
}

fn from_alb(r: Box<AlbRequest>) -> Result<Request<Body>, BadRequest> {
    let r = *r;
    // ALB passes the query string as the client sent it: the URI takes it raw, the parameters
    // are decoded.
    let raw = params(
        r.multi_value_query_string_parameters,
        r.query_string_parameters,
    );
    let mut raw_query = String::new();
    let mut query = QueryMap::new();
    for (name, values) in raw.iter() {
        for value in values {
            if !raw_query.is_empty() {
                raw_query.push('&');
            }
            raw_query.push_str(name);
            raw_query.push('=');
            raw_query.push_str(value);
            query.push(decode(name, true), decode(value, true));
        }
    }
    let parts = Parts {
        method: r.http_method,
        path: r.path.unwrap_or_default(),
        query: raw_query,
        headers: headers(r.multi_value_headers.unwrap_or_default(), r.headers),
        body: r.body,
        base64: r.is_base64_encoded,
        fallback_host: None,
    };
    let context = RequestContext::Alb(Box::new(r.request_context));
    build(parts, query, QueryMap::new(), QueryMap::new(), context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_coding() {
        let mut s = String::new();
        encode_into(&mut s, "/a b/é?#%41", PATH_KEEP);
        assert_eq!(s, "/a%20b/%C3%A9%3F%23%41");
        assert_eq!(decode("a%20b+c%zz%4", true), "a b c%zz%4");
        assert_eq!(decode("a+b", false), "a+b");
        let q = parse_query("a=1&a=2&b=x%20y&c&=&d=e=f");
        assert_eq!(q.all("a").unwrap(), ["1", "2"]);
        assert_eq!(q.first("b"), Some("x y"));
        assert_eq!(q.first("c"), Some(""));
        assert_eq!(q.first("d"), Some("e=f"));
        assert_eq!(
            build_query(&[("k y", "a&b"), ("k y", "é")].into()),
            "k%20y=a%26b&k%20y=%C3%A9"
        );
    }

    #[test]
    fn uris_never_fail() {
        let mut h = HeaderMap::new();
        assert_eq!(uri(&h, None, "", ""), "/");
        assert_eq!(uri(&h, None, "no-slash", "a=b c"), "/no-slash?a=b%20c");
        assert_eq!(
            uri(&h, Some("example.com"), "/x", ""),
            "https://example.com/x"
        );
        h.insert(HOST, HeaderValue::from_static("bad host"));
        assert_eq!(uri(&h, None, "/x", "q=1"), "/x?q=1");
        h.insert(HOST, HeaderValue::from_static("h.example"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert_eq!(uri(&h, None, "/x", "q=1"), "http://h.example/x?q=1");
    }
}
