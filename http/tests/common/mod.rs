//! A service that describes what it was asked, shared by the test files; the real event
//! documents in `fixtures/`.

#![allow(dead_code)] // each test file uses part of it

use http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};
use lamina_http::{Body, Diagnostic, QueryMap, Request, RequestContext, RequestExt};
use serde_json::{Map, Value, json};

pub const V1: &str = include_str!("../fixtures/example-apigw-request.json");
pub const V1_MULTI: &str =
    include_str!("../fixtures/example-apigw-request-multi-value-parameters.json");
pub const V1_RESPONSE: &str = include_str!("../fixtures/example-apigw-response.json");
pub const V2: &str = include_str!("../fixtures/example-apigw-v2-request-no-authorizer.json");
pub const V2_MULTI: &str =
    include_str!("../fixtures/example-apigw-v2-request-multi-value-parameters.json");
pub const V2_JWT: &str = include_str!("../fixtures/example-apigw-v2-request-jwt-authorizer.json");
pub const URL: &str = include_str!("../fixtures/example-lambda-function-url-request.json");
pub const ALB: &str =
    include_str!("../fixtures/example-alb-lambda-target-request-headers-only.json");
pub const ALB_MULTI: &str =
    include_str!("../fixtures/example-alb-lambda-target-request-multivalue-headers.json");
pub const ALB_RESPONSE: &str = include_str!("../fixtures/example-alb-lambda-target-response.json");

pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON")
}

fn map_json(map: &QueryMap) -> Value {
    let obj: Map<String, Value> = map.iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
    Value::Object(obj)
}

/// The service the tests run:
/// - `/binary`: the request body back as `application/octet-stream` (or the request's
///   `x-response-type`);
/// - `/cookies`: `Set-Cookie: seen-<cookie>` for each cookie the request had, and a JSON list
///   of them;
/// - `/fail`: an error (`Inspect.Failed`);
/// - `/sleep`: a tokio timer first (the async transport drives it), then the description;
/// - anything else: a JSON description of the request.
pub async fn inspect(req: Request) -> Result<Response<Body>, Diagnostic> {
    match req.uri().path() {
        "/binary" => {
            let ty = req
                .headers()
                .get("x-response-type")
                .cloned()
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let mut res = Response::new(req.into_body());
            res.headers_mut().insert(CONTENT_TYPE, ty);
            Ok(res)
        }
        "/cookies" => {
            let cookies: Vec<String> = req
                .headers()
                .get_all(COOKIE)
                .iter()
                .flat_map(|v| v.to_str().unwrap_or("").split("; "))
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            let mut res = Response::builder()
                .status(StatusCode::CREATED)
                .header(CONTENT_TYPE, "application/json");
            for c in &cookies {
                res = res.header(SET_COOKIE, format!("seen-{c}; Path=/; HttpOnly"));
            }
            Ok(res.body(json!(cookies).to_string().into()).unwrap())
        }
        "/fail" => Err(Diagnostic::new("Inspect.Failed", "asked to fail")),
        "/sleep" => {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            Ok(describe(&req))
        }
        _ => Ok(describe(&req)),
    }
}

fn describe(req: &Request) -> Response<Body> {
    let mut headers = Map::new();
    for name in req.headers().keys() {
        let values: Vec<&str> = req
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("?"))
            .collect();
        headers.insert(name.to_string(), json!(values));
    }
    let (trigger, context) = match req.request_context() {
        Some(RequestContext::ApiGatewayV1(c)) => ("v1", serde_json::to_value(c).unwrap()),
        Some(RequestContext::ApiGatewayV2(c)) => ("v2", serde_json::to_value(c).unwrap()),
        Some(RequestContext::FunctionUrl(c)) => ("url", serde_json::to_value(c).unwrap()),
        Some(RequestContext::Alb(c)) => ("alb", serde_json::to_value(c).unwrap()),
        _ => ("none", Value::Null),
    };
    let body = json!({
        "method": req.method().as_str(),
        "uri": req.uri().to_string(),
        "headers": headers,
        "body": req.body().as_str(),
        "pathParameters": map_json(req.path_parameters()),
        "queryStringParameters": map_json(req.query_string_parameters()),
        "stageVariables": map_json(req.stage_variables()),
        "trigger": trigger,
        "context": context,
        "sourceIp": req.request_context().and_then(|c| c.source_ip()),
        "lambdaRequestId": req.lambda_context().map(|c| c.request_id.as_str().to_owned()),
    });
    let mut res = Response::new(Body::from(body.to_string()));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}
