//! Each trigger's real event documents (`fixtures/`) through the adapter as lamina calls it
//! (`lamina_http::handler`): the request the service sees, and the response document back,
//! field by field. End to end against the fake Runtime API: `tests/runtime.rs`.

mod common;

use std::convert::Infallible;

use common::*;
use lamina_http::{Context, LambdaResponse, Trigger, handler, service_fn};
use lamina_mio::{Handler, Output, Reply};
use serde_json::{Value, json};

/// Calls the adapter around [`inspect`] with `event`: the response document, or the error's
/// (type, message).
fn call(event: &Value) -> Result<Value, (String, String)> {
    call_with(&handler(service_fn(inspect)), event.to_string().as_bytes())
}

fn call_with(h: &impl Handler, event: &[u8]) -> Result<Value, (String, String)> {
    let mut out = Output::default();
    match h.call(&Context::default(), event, &mut out) {
        Reply::Output => Ok(serde_json::from_slice(&out.body).expect("a JSON document")),
        Reply::Body(b) => Ok(serde_json::from_slice(b).expect("a JSON document")),
        Reply::Error => Err((out.error_type, out.message)),
    }
}

/// The description [`inspect`] made of the request (the response document's body).
fn seen(doc: &Value) -> Value {
    assert_eq!(doc["isBase64Encoded"], false, "{doc}");
    parse(doc["body"].as_str().expect("a text body"))
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    V1,
    V2,
    Url,
    Alb,
    AlbMulti,
}

const KINDS: [Kind; 5] = [Kind::V1, Kind::V2, Kind::Url, Kind::Alb, Kind::AlbMulti];

fn fixture(kind: Kind) -> Value {
    parse(match kind {
        Kind::V1 => V1,
        Kind::V2 => V2,
        Kind::Url => URL,
        Kind::Alb => ALB,
        Kind::AlbMulti => ALB_MULTI,
    })
}

/// The fixture of `kind` asking for `path` with `headers` and a body.
fn event(kind: Kind, path: &str, headers: &[(&str, &str)], body: Option<(&str, bool)>) -> Value {
    let mut e = fixture(kind);
    match kind {
        Kind::V1 => {
            e["path"] = json!(path);
            for (k, v) in headers {
                e["headers"][k] = json!(v);
                e["multiValueHeaders"][k] = json!([v]);
            }
        }
        Kind::V2 | Kind::Url => {
            e["rawPath"] = json!(path);
            e["requestContext"]["http"]["path"] = json!(path);
            for (k, v) in headers {
                e["headers"][k] = json!(v);
            }
        }
        Kind::Alb => {
            e["path"] = json!(path);
            for (k, v) in headers {
                e["headers"][k] = json!(v);
            }
        }
        Kind::AlbMulti => {
            e["path"] = json!(path);
            for (k, v) in headers {
                e["multiValueHeaders"][k] = json!([v]);
            }
        }
    }
    if let Some((body, base64)) = body {
        e["body"] = json!(body);
        e["isBase64Encoded"] = json!(base64);
    }
    e
}

/// The response headers of `doc` as name → every value, whatever the trigger's shape.
fn header_values(doc: &Value, name: &str) -> Vec<String> {
    if let Some(m) = doc.get("multiValueHeaders") {
        return m[name]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
    }
    doc["headers"][name]
        .as_str()
        .map(|v| vec![v.to_owned()])
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Requests: what the handler sees.

#[test]
fn api_gateway_v1_request() {
    let doc = call(&parse(V1)).unwrap();
    let req = seen(&doc);
    assert_eq!(req["method"], "POST");
    assert_eq!(
        req["uri"],
        "https://gy415nuibc.execute-api.us-east-1.amazonaws.com/hello/world?name=me"
    );
    assert_eq!(req["headers"]["content-type"], json!(["application/json"]));
    assert_eq!(req["headers"]["headername"], json!(["headerValue"]));
    assert_eq!(
        req["headers"]["x-forwarded-for"],
        json!(["54.240.196.186, 54.182.214.83"])
    );
    assert_eq!(req["body"], "{\r\n\t\"a\": 1\r\n}");
    assert_eq!(req["pathParameters"], json!({"proxy": ["hello/world"]}));
    assert_eq!(req["queryStringParameters"], json!({"name": ["me"]}));
    assert_eq!(
        req["stageVariables"],
        json!({"stageVariableName": ["stageVariableValue"]})
    );
    assert_eq!(req["trigger"], "v1");
    assert_eq!(req["sourceIp"], "192.168.196.186");
    let ctx = &req["context"];
    assert_eq!(ctx["requestId"], "deef4878-7910-11e6-8f14-25afc3e9ae33");
    assert_eq!(ctx["stage"], "testStage");
    assert_eq!(ctx["resourcePath"], "/{proxy+}");
    assert_eq!(ctx["identity"]["userArn"], "theUserArn");
    assert_eq!(
        ctx["authorizer"],
        json!({"principalId": "admin", "clientId": 1, "clientName": "Exata"})
    );
    assert_eq!(ctx["requestTimeEpoch"], 1589522469693i64);
    assert_eq!(req["lambdaRequestId"], "");
}

#[test]
fn api_gateway_v1_multi_value_headers_and_query() {
    let req = seen(&call(&parse(V1_MULTI)).unwrap());
    assert_eq!(
        req["headers"]["headername"],
        json!(["headerValue", "headerValue2"])
    );
    assert_eq!(req["queryStringParameters"], json!({"name": ["me", "me2"]}));
    assert!(
        req["uri"]
            .as_str()
            .unwrap()
            .ends_with("/hello/world?name=me&name=me2")
    );
    // Decoded parameters are encoded again in the URI.
    let mut e = parse(V1);
    e["multiValueQueryStringParameters"] = json!({"q": ["a b&c", "é"]});
    let req = seen(&call(&e).unwrap());
    assert!(
        req["uri"]
            .as_str()
            .unwrap()
            .ends_with("?q=a%20b%26c&q=%C3%A9"),
        "{}",
        req["uri"]
    );
    assert_eq!(req["queryStringParameters"], json!({"q": ["a b&c", "é"]}));
}

#[test]
fn api_gateway_v2_request() {
    let req = seen(&call(&parse(V2)).unwrap());
    assert_eq!(req["method"], "GET");
    assert_eq!(
        req["uri"],
        "https://aaaaaaaaaa.execute-api.us-west-2.amazonaws.com/"
    );
    assert_eq!(req["headers"]["user-agent"], json!(["curl/7.58.0"]));
    assert_eq!(req["body"], "");
    assert_eq!(req["trigger"], "v2");
    assert_eq!(req["sourceIp"], "1.2.3.4");
    assert_eq!(req["context"]["requestId"], "LV7fzho-PHcEJPw=");
    assert_eq!(req["context"]["http"]["protocol"], "HTTP/1.1");
    assert_eq!(
        req["context"]["authentication"]["clientCert"]["serialNumber"],
        "1"
    );
    assert_eq!(req["queryStringParameters"], json!({}));

    let req = seen(&call(&parse(V2_MULTI)).unwrap());
    assert_eq!(
        req["uri"],
        "https://id.execute-api.us-east-1.amazonaws.com/my/path?Parameter1=value1&Parameter1=value2"
    );
    // From rawQueryString, not the comma-joined queryStringParameters.
    assert_eq!(
        req["queryStringParameters"],
        json!({"Parameter1": ["value1", "value2"]})
    );
    assert_eq!(req["headers"]["cookie"], json!(["cookie1; cookie2"]));
    assert_eq!(req["headers"]["header2"], json!(["value1,value2"]));
    assert_eq!(req["pathParameters"], json!({"proxy": ["hello/world"]}));
    assert_eq!(
        req["stageVariables"],
        json!({"stageVariable1": ["value1"], "stageVariable2": ["value2"]})
    );
    assert_eq!(req["body"], "{\r\n\t\"a\": 1\r\n}");
    assert_eq!(
        req["context"]["authorizer"],
        json!({"lambda": {"key": "value"}})
    );

    let req = seen(&call(&parse(V2_JWT)).unwrap());
    assert_eq!(req["trigger"], "v2");
    assert!(req["context"]["authorizer"]["jwt"]["claims"].is_object());
}

#[test]
fn function_url_request() {
    let req = seen(&call(&parse(URL)).unwrap());
    assert_eq!(req["trigger"], "url");
    assert_eq!(req["method"], "POST");
    assert_eq!(
        req["uri"],
        "https://a1b2c3d4e5f6g7h8i9j0.lambda-url.us-west-2.on.aws/my/path?parameter1=value1&parameter1=value2&parameter2=value"
    );
    assert_eq!(req["body"], "Hello from client!");
    assert_eq!(req["headers"]["header2"], json!(["value1,value2"]));
    assert_eq!(req["headers"]["cookie"], json!(["cookie1; cookie2"]));
    assert_eq!(req["pathParameters"], json!({}));
    assert_eq!(req["stageVariables"], json!({}));
    assert_eq!(req["sourceIp"], "123.123.123.123");
    assert_eq!(
        req["context"]["authorizer"]["iam"]["userArn"],
        "arn:aws:iam::111122223333:user/example-user"
    );
}

#[test]
fn alb_requests_both_modes() {
    let req = seen(&call(&parse(ALB)).unwrap());
    assert_eq!(req["trigger"], "alb");
    assert_eq!(req["method"], "GET");
    assert_eq!(
        req["uri"],
        "http://lambda-test-alb-1334523864.us-east-1.elb.amazonaws.com/?key=hello"
    );
    assert_eq!(req["headers"]["x-myheader"], json!(["123"]));
    assert_eq!(req["queryStringParameters"], json!({"key": ["hello"]}));
    assert_eq!(
        req["context"]["elb"]["targetGroupArn"],
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/abcdefg"
    );
    assert_eq!(req["sourceIp"], Value::Null);

    let req = seen(&call(&parse(ALB_MULTI)).unwrap());
    assert_eq!(req["body"], "Some text");
    assert_eq!(
        req["uri"],
        "http://lambda-test-alb-1234567.us-east-1.elb.amazonaws.com/?key=hello"
    );
    // ALB passes the query string as sent: the URI keeps it encoded, the parameters decode it.
    let mut e = parse(ALB_MULTI);
    e["multiValueQueryStringParameters"] = json!({"q": ["a%20b", "c+d"]});
    let req = seen(&call(&e).unwrap());
    assert!(
        req["uri"].as_str().unwrap().ends_with("/?q=a%20b&q=c+d"),
        "{}",
        req["uri"]
    );
    assert_eq!(req["queryStringParameters"], json!({"q": ["a b", "c d"]}));
}

// ---------------------------------------------------------------------------------------------
// Response documents, field by field.

#[test]
fn response_documents_per_trigger() {
    let expect_body = |doc: &Value| {
        assert_eq!(doc["statusCode"], 200);
        assert_eq!(doc["isBase64Encoded"], false);
        assert!(parse(doc["body"].as_str().unwrap()).is_object());
    };

    let doc = call(&parse(V1)).unwrap();
    expect_body(&doc);
    assert_eq!(doc["headers"], json!({"content-type": "application/json"}));
    assert_eq!(
        doc["multiValueHeaders"],
        json!({"content-type": ["application/json"]})
    );
    assert_eq!(doc.as_object().unwrap().len(), 5, "{doc}");

    for fixture in [V2, URL] {
        let doc = call(&parse(fixture)).unwrap();
        expect_body(&doc);
        assert_eq!(doc["headers"], json!({"content-type": "application/json"}));
        assert_eq!(doc["cookies"], json!([]));
        assert_eq!(doc.as_object().unwrap().len(), 5, "{doc}");
    }

    let doc = call(&parse(ALB)).unwrap();
    expect_body(&doc);
    assert_eq!(doc["statusDescription"], "200 OK");
    assert_eq!(doc["headers"], json!({"content-type": "application/json"}));
    assert!(doc.get("multiValueHeaders").is_none(), "{doc}");
    assert_eq!(doc.as_object().unwrap().len(), 5, "{doc}");

    let doc = call(&parse(ALB_MULTI)).unwrap();
    expect_body(&doc);
    assert_eq!(
        doc["multiValueHeaders"],
        json!({"content-type": ["application/json"]})
    );
    assert!(doc.get("headers").is_none(), "{doc}");
}

/// The response samples of aws_lambda_events, rebuilt from an `http::Response`.
#[test]
fn response_fixtures() {
    let alb = parse(ALB_RESPONSE);
    let res = http::Response::builder()
        .header(
            "set-cookie",
            "cookie-name=cookie-value;Domain=myweb.com;Secure;HttpOnly",
        )
        .header("set-cookie", "cookie-name=cookie-value;Expires=May 8, 2019")
        .header("content-type", "application/json")
        .body("Hello from Lambda")
        .unwrap();
    let doc = serde_json::to_value(LambdaResponse::from_response(
        Trigger::Alb { multi_value: true },
        &res,
    ))
    .unwrap();
    for field in ["statusCode", "statusDescription", "body", "isBase64Encoded"] {
        assert_eq!(doc[field], alb[field], "{field}");
    }
    let want: serde_json::Map<String, Value> = alb["multiValueHeaders"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    assert_eq!(doc["multiValueHeaders"], Value::Object(want));

    let v1 = parse(V1_RESPONSE);
    let mut res = http::Response::builder();
    for (k, v) in v1["headers"].as_object().unwrap() {
        res = res.header(k, v.as_str().unwrap());
    }
    let res = res.body("Hello World").unwrap();
    let doc =
        serde_json::to_value(LambdaResponse::from_response(Trigger::ApiGatewayV1, &res)).unwrap();
    assert_eq!(doc["statusCode"], v1["statusCode"]);
    assert_eq!(doc["body"], v1["body"]);
    assert_eq!(doc["isBase64Encoded"], false);
    let lower = |v: &Value| -> Value {
        Value::Object(
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
        )
    };
    assert_eq!(doc["headers"], lower(&v1["headers"]));
    assert_eq!(doc["multiValueHeaders"], lower(&v1["multiValueHeaders"]));
}

#[test]
fn cookies_round_trip_on_every_trigger() {
    for kind in KINDS {
        let mut e = event(kind, "/cookies", &[("cookie", "a=1; b=2")], None);
        if matches!(kind, Kind::V2 | Kind::Url) {
            // Payload 2.0 carries cookies apart from the headers.
            e["headers"].as_object_mut().unwrap().remove("cookie");
            e["cookies"] = json!(["a=1", "b=2"]);
        }
        let doc = call(&e).unwrap();
        assert_eq!(doc["statusCode"], 201, "{kind:?}");
        assert_eq!(
            parse(doc["body"].as_str().unwrap()),
            json!(["a=1", "b=2"]),
            "{kind:?}"
        );
        let set = ["seen-a=1; Path=/; HttpOnly", "seen-b=2; Path=/; HttpOnly"];
        match kind {
            Kind::V2 | Kind::Url => {
                assert_eq!(doc["cookies"], json!(set));
                assert_eq!(doc["headers"], json!({"content-type": "application/json"}));
            }
            Kind::V1 => {
                assert_eq!(doc["multiValueHeaders"]["set-cookie"], json!(set));
                // Two values: only in multiValueHeaders.
                assert!(doc["headers"].get("set-cookie").is_none(), "{doc}");
            }
            Kind::AlbMulti => assert_eq!(doc["multiValueHeaders"]["set-cookie"], json!(set)),
            // Single-value ALB has room for one: the last.
            Kind::Alb => assert_eq!(doc["headers"]["set-cookie"], set[1]),
        }
        assert_eq!(
            doc["statusDescription"].as_str().is_some(),
            matches!(kind, Kind::Alb | Kind::AlbMulti)
        );
        if matches!(kind, Kind::Alb | Kind::AlbMulti) {
            assert_eq!(doc["statusDescription"], "201 Created");
        }
    }
}

#[test]
fn binary_bodies_round_trip_on_every_trigger() {
    let bytes: Vec<u8> = (0..=255).collect();
    let b64 = encode(&bytes);
    for kind in KINDS {
        let doc = call(&event(kind, "/binary", &[], Some((&b64, true)))).unwrap();
        assert_eq!(doc["statusCode"], 200, "{kind:?}");
        assert_eq!(doc["isBase64Encoded"], true, "{kind:?}");
        assert_eq!(doc["body"], b64, "{kind:?}");
        assert_eq!(
            header_values(&doc, "content-type"),
            ["application/octet-stream"]
        );

        // Text content types go back as text, binary ones as base64, whatever the bytes.
        let text = encode("<p>héllo</p>".as_bytes());
        let doc = call(&event(
            kind,
            "/binary",
            &[("x-response-type", "text/html; charset=utf-8")],
            Some((&text, true)),
        ))
        .unwrap();
        assert_eq!(
            (doc["body"].as_str(), &doc["isBase64Encoded"]),
            (Some("<p>héllo</p>"), &json!(false)),
            "{kind:?}"
        );
        let doc = call(&event(
            kind,
            "/binary",
            &[("x-response-type", "image/png")],
            Some(("plain", false)),
        ))
        .unwrap();
        assert_eq!(
            (doc["body"].as_str(), &doc["isBase64Encoded"]),
            (Some("cGxhaW4="), &json!(true)),
            "{kind:?}"
        );
        let doc = call(&event(
            kind,
            "/binary",
            &[("x-response-type", "application/problem+json")],
            Some(("{}", false)),
        ))
        .unwrap();
        assert_eq!(
            (doc["body"].as_str(), &doc["isBase64Encoded"]),
            (Some("{}"), &json!(false)),
            "{kind:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input.

#[test]
fn invalid_base64_is_a_400_the_handler_never_sees() {
    async fn never_called(_: lamina_http::Request) -> Result<&'static str, Infallible> {
        panic!("the handler was called")
    }
    let never = handler(service_fn(never_called));
    for kind in KINDS {
        let e = event(kind, "/binary", &[], Some(("not base64!", true)));
        let doc = call_with(&never, e.to_string().as_bytes()).unwrap();
        assert_eq!(doc["statusCode"], 400, "{kind:?}");
        assert_eq!(
            doc["body"],
            "Bad Request: the request body is not valid base64"
        );
        assert_eq!(doc["isBase64Encoded"], false);
        assert_eq!(
            header_values(&doc, "content-type"),
            ["text/plain; charset=utf-8"]
        );
        if matches!(kind, Kind::Alb | Kind::AlbMulti) {
            assert_eq!(doc["statusDescription"], "400 Bad Request");
        }
    }
}

#[test]
fn unknown_events_are_invalid_event_naming_the_shapes_tried() {
    for event in [
        json!({"name": "World"}),
        json!({"Records": [{"eventSource": "aws:sqs"}]}),
        json!({"requestContext": {"eventType": "CONNECT", "routeKey": "$connect"}}),
        json!([1, 2, 3]),
    ] {
        let (ty, msg) = call(&event).unwrap_err();
        assert_eq!(ty, "InvalidEvent", "{event}");
        for shape in [
            "ALB",
            "API Gateway HTTP API v2",
            "Function URL",
            "API Gateway REST v1",
        ] {
            assert!(msg.contains(shape), "{msg}");
        }
    }
    let (ty, msg) = call_with(&handler(service_fn(inspect)), b"{not json").unwrap_err();
    assert_eq!(ty, "InvalidEvent");
    assert!(msg.contains("deserialize"), "{msg}");
}

#[test]
fn service_errors_are_reported_with_their_type() {
    for kind in KINDS {
        let (ty, msg) = call(&event(kind, "/fail", &[], None)).unwrap_err();
        assert_eq!(
            (ty.as_str(), msg.as_str()),
            ("Inspect.Failed", "asked to fail")
        );
    }
}

fn encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
