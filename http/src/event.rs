//! The event documents of the four HTTP triggers, and which one an event is.
//!
//! Only the fields an HTTP handler uses are typed; every field is optional (real events leave
//! many out or send `null`), and unknown fields are ignored. The authorizer and authentication
//! blocks, whose shapes depend on the authorizer, stay JSON values.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which trigger sent an event; it decides the shape of the response document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// API Gateway REST API (proxy integration; also an HTTP API with payload format 1.0).
    ApiGatewayV1,
    /// API Gateway HTTP API, payload format 2.0.
    ApiGatewayV2,
    /// A Lambda function URL (payload format 2.0, domain `*.lambda-url.*`).
    FunctionUrl,
    /// An Application Load Balancer target group; `multi_value` when the target group has
    /// multi-value headers on (the event then has `multiValueHeaders`, and so must the answer).
    Alb {
        /// The target group's multi-value headers setting.
        multi_value: bool,
    },
}

/// An HTTP event of any of the four triggers. It deserializes from the event document,
/// detecting the trigger from the document itself:
///
/// 1. `requestContext.elb` present: ALB (multi-value mode when `multiValueHeaders` is there);
/// 2. `requestContext.http` present (with `version` `"2.0"` or none): a Function URL when
///    `requestContext.domainName` has a `.lambda-url.` label, else API Gateway HTTP API v2;
/// 3. `httpMethod` present with a `requestContext`: API Gateway REST (v1).
///
/// Anything else fails with a message naming the shapes tried (the runtime reports it as
/// `InvalidEvent`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LambdaRequest {
    /// API Gateway REST API (or HTTP API payload 1.0).
    ApiGatewayV1(Box<ApiGatewayV1Request>),
    /// API Gateway HTTP API (payload 2.0).
    ApiGatewayV2(Box<ApiGatewayV2Request>),
    /// A Lambda function URL (the same payload as HTTP API 2.0).
    FunctionUrl(Box<ApiGatewayV2Request>),
    /// An Application Load Balancer.
    Alb(Box<AlbRequest>),
}

/// An event that is not an HTTP event of a known trigger, or whose trigger's document does not
/// parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent(String);

impl InvalidEvent {
    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidEvent {}

/// The shapes tried, for the error message.
const SHAPES_TRIED: &str = "not an HTTP event: tried ALB (requestContext.elb), \
    API Gateway HTTP API v2 and Function URL (version \"2.0\" with requestContext.http), \
    API Gateway REST v1 (httpMethod with requestContext)";

impl LambdaRequest {
    /// The trigger that sent it.
    pub fn trigger(&self) -> Trigger {
        match self {
            LambdaRequest::ApiGatewayV1(_) => Trigger::ApiGatewayV1,
            LambdaRequest::ApiGatewayV2(_) => Trigger::ApiGatewayV2,
            LambdaRequest::FunctionUrl(_) => Trigger::FunctionUrl,
            LambdaRequest::Alb(r) => Trigger::Alb {
                multi_value: r.multi_value_headers.is_some(),
            },
        }
    }

    /// Parses an event document.
    pub fn from_slice(event: &[u8]) -> Result<Self, InvalidEvent> {
        let value: Value = serde_json::from_slice(event)
            .map_err(|e| InvalidEvent(format!("the event is not JSON: {e}")))?;
        Self::from_value(value)
    }

    /// Detects the trigger of a parsed event document and reads it as that trigger's event.
    pub fn from_value(value: Value) -> Result<Self, InvalidEvent> {
        let trigger = detect(&value).ok_or_else(|| InvalidEvent(SHAPES_TRIED.into()))?;
        fn read<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, InvalidEvent> {
            serde_json::from_value(value)
                .map_err(|e| InvalidEvent(format!("an {what} event that does not parse: {e}")))
        }
        Ok(match trigger {
            Trigger::Alb { .. } => LambdaRequest::Alb(read(value, "ALB")?),
            Trigger::ApiGatewayV2 => {
                LambdaRequest::ApiGatewayV2(read(value, "API Gateway HTTP API v2")?)
            }
            Trigger::FunctionUrl => LambdaRequest::FunctionUrl(read(value, "Function URL")?),
            Trigger::ApiGatewayV1 => {
                LambdaRequest::ApiGatewayV1(read(value, "API Gateway REST v1")?)
            }
        })
    }
}

/// The trigger an event document comes from, by the rules on [`LambdaRequest`].
pub fn detect(event: &Value) -> Option<Trigger> {
    let context = event.get("requestContext").filter(|c| c.is_object())?;
    if context.get("elb").is_some_and(Value::is_object) {
        let multi_value = event.get("multiValueHeaders").is_some_and(|h| !h.is_null());
        return Some(Trigger::Alb { multi_value });
    }
    let version = event.get("version").and_then(Value::as_str);
    if context.get("http").is_some_and(Value::is_object) && matches!(version, None | Some("2.0")) {
        let domain = context.get("domainName").and_then(Value::as_str);
        return Some(match domain {
            Some(d) if d.contains(".lambda-url.") => Trigger::FunctionUrl,
            _ => Trigger::ApiGatewayV2,
        });
    }
    if event.get("httpMethod").is_some_and(Value::is_string) {
        return Some(Trigger::ApiGatewayV1);
    }
    None
}

impl<'de> Deserialize<'de> for LambdaRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        LambdaRequest::from_value(value).map_err(de::Error::custom)
    }
}

/// `null` (or absent, with `#[serde(default)]`) reads as the default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A JSON object of strings (`null` values are left out).
pub type StrMap = HashMap<String, String>;
/// A JSON object of string lists.
pub type MultiMap = HashMap<String, Vec<String>>;

fn str_map<'de, D: Deserializer<'de>>(d: D) -> Result<StrMap, D::Error> {
    let map: HashMap<String, Option<String>> = null_default(d)?;
    Ok(map.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

fn multi_map<'de, D: Deserializer<'de>>(d: D) -> Result<MultiMap, D::Error> {
    let map: HashMap<String, Option<Vec<String>>> = null_default(d)?;
    Ok(map.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

fn opt_multi_map<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MultiMap>, D::Error> {
    let map: Option<HashMap<String, Option<Vec<String>>>> = Option::deserialize(d)?;
    Ok(map.map(|m| m.into_iter().filter_map(|(k, v)| Some((k, v?))).collect()))
}

/// An API Gateway REST API proxy event (payload format 1.0).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiGatewayV1Request {
    /// The resource path template, e.g. `/{proxy+}`.
    #[serde(default)]
    pub resource: Option<String>,
    /// The request path (without the stage), e.g. `/hello/world`.
    #[serde(default)]
    pub path: Option<String>,
    /// The method.
    pub http_method: String,
    /// Headers, last value of each.
    #[serde(default, deserialize_with = "str_map")]
    pub headers: StrMap,
    /// Headers, every value.
    #[serde(default, deserialize_with = "multi_map")]
    pub multi_value_headers: MultiMap,
    /// Query string parameters (decoded), last value of each.
    #[serde(default, deserialize_with = "str_map")]
    pub query_string_parameters: StrMap,
    /// Query string parameters (decoded), every value.
    #[serde(default, deserialize_with = "multi_map")]
    pub multi_value_query_string_parameters: MultiMap,
    /// Path parameters of the resource template.
    #[serde(default, deserialize_with = "str_map")]
    pub path_parameters: StrMap,
    /// The stage's variables.
    #[serde(default, deserialize_with = "str_map")]
    pub stage_variables: StrMap,
    /// The request context.
    #[serde(default, deserialize_with = "null_default")]
    pub request_context: ApiGatewayV1Context,
    /// The body, base64 when `is_base64_encoded`.
    #[serde(default)]
    pub body: Option<String>,
    /// Whether `body` is base64.
    #[serde(default, deserialize_with = "null_default")]
    pub is_base64_encoded: bool,
}

/// API Gateway REST's `requestContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct ApiGatewayV1Context {
    /// The AWS account of the API.
    pub account_id: Option<String>,
    /// The API's id.
    pub api_id: Option<String>,
    /// The resource's id.
    pub resource_id: Option<String>,
    /// The resource path template.
    pub resource_path: Option<String>,
    /// The stage, e.g. `prod`.
    pub stage: Option<String>,
    /// The request id API Gateway gave the request.
    pub request_id: Option<String>,
    /// The extended request id.
    pub extended_request_id: Option<String>,
    /// The path including the stage.
    pub path: Option<String>,
    /// The method.
    pub http_method: Option<String>,
    /// The protocol, e.g. `HTTP/1.1`.
    pub protocol: Option<String>,
    /// The domain name the request came to.
    pub domain_name: Option<String>,
    /// Its first label.
    pub domain_prefix: Option<String>,
    /// When the request arrived (CLF format).
    pub request_time: Option<String>,
    /// When the request arrived, in milliseconds since the epoch.
    pub request_time_epoch: Option<i64>,
    /// Who called.
    #[serde(deserialize_with = "null_default")]
    pub identity: ApiGatewayV1Identity,
    /// What the authorizer returned (its shape depends on the authorizer).
    pub authorizer: Option<Value>,
}

/// API Gateway REST's `requestContext.identity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct ApiGatewayV1Identity {
    /// The caller's address.
    pub source_ip: Option<String>,
    /// The caller's `User-Agent`.
    pub user_agent: Option<String>,
    /// The API key used.
    pub api_key: Option<String>,
    /// Its id.
    pub api_key_id: Option<String>,
    /// The caller's IAM user.
    pub user: Option<String>,
    /// The caller's IAM ARN.
    pub user_arn: Option<String>,
    /// The caller.
    pub caller: Option<String>,
    /// The caller's access key.
    pub access_key: Option<String>,
    /// The caller's account.
    pub account_id: Option<String>,
    /// Cognito identity id.
    pub cognito_identity_id: Option<String>,
    /// Cognito identity pool id.
    pub cognito_identity_pool_id: Option<String>,
    /// Cognito authentication type.
    pub cognito_authentication_type: Option<String>,
    /// Cognito authentication provider.
    pub cognito_authentication_provider: Option<String>,
    /// The mutual TLS client certificate, when used.
    pub client_cert: Option<Value>,
}

/// An API Gateway HTTP API event (payload format 2.0), also what a Function URL sends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiGatewayV2Request {
    /// `"2.0"`.
    #[serde(default)]
    pub version: Option<String>,
    /// The route, e.g. `GET /pets/{id}` or `$default`.
    #[serde(default)]
    pub route_key: Option<String>,
    /// The path as requested.
    #[serde(default)]
    pub raw_path: Option<String>,
    /// The query string as requested (without `?`).
    #[serde(default)]
    pub raw_query_string: Option<String>,
    /// The request's cookies (its `Cookie` headers, split).
    #[serde(default, deserialize_with = "null_default")]
    pub cookies: Vec<String>,
    /// Headers; several values of one header are joined with commas.
    #[serde(default, deserialize_with = "str_map")]
    pub headers: StrMap,
    /// Query string parameters; several values joined with commas.
    #[serde(default, deserialize_with = "str_map")]
    pub query_string_parameters: StrMap,
    /// Path parameters of the route.
    #[serde(default, deserialize_with = "str_map")]
    pub path_parameters: StrMap,
    /// The stage's variables.
    #[serde(default, deserialize_with = "str_map")]
    pub stage_variables: StrMap,
    /// The request context.
    #[serde(default, deserialize_with = "null_default")]
    pub request_context: ApiGatewayV2Context,
    /// The body, base64 when `is_base64_encoded`.
    #[serde(default)]
    pub body: Option<String>,
    /// Whether `body` is base64.
    #[serde(default, deserialize_with = "null_default")]
    pub is_base64_encoded: bool,
}

/// The `requestContext` of an HTTP API (2.0) or Function URL event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct ApiGatewayV2Context {
    /// The AWS account of the API or function.
    pub account_id: Option<String>,
    /// The API's id (a Function URL: its url id).
    pub api_id: Option<String>,
    /// The domain name the request came to.
    pub domain_name: Option<String>,
    /// Its first label.
    pub domain_prefix: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// The route.
    pub route_key: Option<String>,
    /// The stage (`$default` for Function URLs).
    pub stage: Option<String>,
    /// When the request arrived (CLF format).
    pub time: Option<String>,
    /// When the request arrived, in milliseconds since the epoch.
    pub time_epoch: Option<i64>,
    /// The HTTP request.
    #[serde(deserialize_with = "null_default")]
    pub http: ApiGatewayV2Http,
    /// What the authorizer returned (`jwt`, `lambda` or `iam`, by the authorizer).
    pub authorizer: Option<Value>,
    /// Mutual TLS details, when used.
    pub authentication: Option<Value>,
}

/// `requestContext.http` of a payload 2.0 event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct ApiGatewayV2Http {
    /// The method.
    pub method: String,
    /// The path.
    pub path: Option<String>,
    /// The protocol, e.g. `HTTP/1.1`.
    pub protocol: Option<String>,
    /// The caller's address.
    pub source_ip: Option<String>,
    /// The caller's `User-Agent`.
    pub user_agent: Option<String>,
}

/// An Application Load Balancer target group event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AlbRequest {
    /// The method.
    pub http_method: String,
    /// The path.
    #[serde(default)]
    pub path: Option<String>,
    /// Query string parameters as sent (not decoded), single-value mode.
    #[serde(default, deserialize_with = "str_map")]
    pub query_string_parameters: StrMap,
    /// Query string parameters as sent (not decoded), multi-value mode.
    #[serde(default, deserialize_with = "multi_map")]
    pub multi_value_query_string_parameters: MultiMap,
    /// Headers, single-value mode.
    #[serde(default, deserialize_with = "str_map")]
    pub headers: StrMap,
    /// Headers, multi-value mode (present exactly when the target group has it on).
    #[serde(default, deserialize_with = "opt_multi_map")]
    pub multi_value_headers: Option<MultiMap>,
    /// The request context.
    #[serde(default, deserialize_with = "null_default")]
    pub request_context: AlbContext,
    /// The body, base64 when `is_base64_encoded`.
    #[serde(default)]
    pub body: Option<String>,
    /// Whether `body` is base64.
    #[serde(default, deserialize_with = "null_default")]
    pub is_base64_encoded: bool,
}

/// An ALB event's `requestContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct AlbContext {
    /// `elb`.
    #[serde(deserialize_with = "null_default")]
    pub elb: AlbElb,
}

/// `requestContext.elb`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct AlbElb {
    /// The target group's ARN.
    pub target_group_arn: Option<String>,
}

/// The request context of whichever trigger sent the request (see
/// [`RequestExt::request_context`](crate::RequestExt::request_context)).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RequestContext {
    /// API Gateway REST.
    ApiGatewayV1(Box<ApiGatewayV1Context>),
    /// API Gateway HTTP API (payload 2.0).
    ApiGatewayV2(Box<ApiGatewayV2Context>),
    /// A Function URL.
    FunctionUrl(Box<ApiGatewayV2Context>),
    /// An ALB.
    Alb(Box<AlbContext>),
}

impl RequestContext {
    /// The trigger's own request id (API Gateway's, a Function URL's; none for ALB).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            RequestContext::ApiGatewayV1(c) => c.request_id.as_deref(),
            RequestContext::ApiGatewayV2(c) | RequestContext::FunctionUrl(c) => {
                c.request_id.as_deref()
            }
            RequestContext::Alb(_) => None,
        }
    }

    /// The caller's address, where the trigger says it.
    pub fn source_ip(&self) -> Option<&str> {
        match self {
            RequestContext::ApiGatewayV1(c) => c.identity.source_ip.as_deref(),
            RequestContext::ApiGatewayV2(c) | RequestContext::FunctionUrl(c) => {
                c.http.source_ip.as_deref()
            }
            RequestContext::Alb(_) => None,
        }
    }

    /// The authorizer's output, where there is one.
    pub fn authorizer(&self) -> Option<&Value> {
        match self {
            RequestContext::ApiGatewayV1(c) => c.authorizer.as_ref(),
            RequestContext::ApiGatewayV2(c) | RequestContext::FunctionUrl(c) => {
                c.authorizer.as_ref()
            }
            RequestContext::Alb(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn detection_rules() {
        let alb = json!({"requestContext": {"elb": {}}, "httpMethod": "GET"});
        assert_eq!(detect(&alb), Some(Trigger::Alb { multi_value: false }));
        let alb_mv = json!({"requestContext": {"elb": {}}, "httpMethod": "GET",
            "multiValueHeaders": {}});
        assert_eq!(detect(&alb_mv), Some(Trigger::Alb { multi_value: true }));
        let v2 = json!({"version": "2.0", "requestContext": {"http": {"method": "GET"},
            "domainName": "abc.execute-api.us-east-1.amazonaws.com"}});
        assert_eq!(detect(&v2), Some(Trigger::ApiGatewayV2));
        let url = json!({"version": "2.0", "requestContext": {"http": {"method": "GET"},
            "domainName": "abc.lambda-url.us-east-1.on.aws"}});
        assert_eq!(detect(&url), Some(Trigger::FunctionUrl));
        let v1 = json!({"httpMethod": "GET", "requestContext": {"stage": "prod"}});
        assert_eq!(detect(&v1), Some(Trigger::ApiGatewayV1));
        // HTTP API payload 1.0 is answered like REST.
        let http_v1 = json!({"version": "1.0", "httpMethod": "GET",
            "requestContext": {"http": {}, "stage": "$default"}});
        assert_eq!(detect(&http_v1), Some(Trigger::ApiGatewayV1));
        for other in [
            json!({"name": "World"}),
            json!([1, 2]),
            json!("GET"),
            json!({"httpMethod": "GET"}),
            json!({"requestContext": {"eventType": "CONNECT"}}),
            json!({"Records": []}),
        ] {
            assert_eq!(detect(&other), None, "{other}");
        }
    }

    #[test]
    fn unknown_shapes_name_the_shapes_tried() {
        let e = LambdaRequest::from_slice(br#"{"name":"World"}"#).unwrap_err();
        assert!(e.message().contains("tried ALB"), "{e}");
        assert!(e.message().contains("Function URL"), "{e}");
        assert!(e.message().contains("API Gateway REST v1"), "{e}");
        let e = LambdaRequest::from_slice(b"not json").unwrap_err();
        assert!(e.message().starts_with("the event is not JSON"), "{e}");
        let e = serde_json::from_str::<LambdaRequest>("[]").unwrap_err();
        assert!(e.to_string().contains("not an HTTP event"), "{e}");
        // The right shape with a field of the wrong type says which trigger it looked like.
        let bad = json!({"httpMethod": "GET", "requestContext": {}, "headers": 5});
        let e = LambdaRequest::from_value(bad).unwrap_err();
        assert!(
            e.message().starts_with("an API Gateway REST v1 event"),
            "{e}"
        );
    }

    #[test]
    fn nulls_read_as_empty() {
        let event = json!({"httpMethod": "GET", "requestContext": {"identity": null},
            "headers": null,
            "multiValueHeaders": {"a": null}, "queryStringParameters": {"q": null},
            "isBase64Encoded": null, "body": null});
        let LambdaRequest::ApiGatewayV1(r) = LambdaRequest::from_value(event).unwrap() else {
            panic!("not v1")
        };
        assert!(r.headers.is_empty() && r.multi_value_headers.is_empty());
        assert!(r.query_string_parameters.is_empty());
        assert!(!r.is_base64_encoded && r.body.is_none());
    }
}
