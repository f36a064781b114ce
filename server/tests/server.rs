//! Wire-level tests of the fake Runtime API, with raw `TcpStream` clients.

mod common;

use std::io;
use std::time::{Duration, Instant};

use common::{Client, NEXT, T, answer_path};
use lamina_server::{Answer, Fault, Invocation, OutcomeKind, Server, ServerConfig};

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn next_delivers_with_headers_and_response_is_accepted() {
    let server = Server::start().unwrap();
    let mut c = Client::new(&server);
    c.get_next();
    assert!(server.wait_for(T, |r| r.len() == 1));
    assert_eq!(server.next_polls(), 1);
    let id =
        server.invoke(Invocation::new(r#"{"a":1}"#).header("Lambda-Runtime-Client-Context", "{}"));
    assert!(is_uuid(&id), "{id}");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, br#"{"a":1}"#);
    assert_eq!(r.header("Lambda-Runtime-Aws-Request-Id"), Some(id.as_str()));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Content-Length"), Some("7"));
    assert_eq!(r.header("Lambda-Runtime-Client-Context"), Some("{}"));
    assert_eq!(
        r.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some("arn:aws:lambda:us-east-1:123456789012:function:test-function")
    );
    let deadline: u64 = r
        .header("Lambda-Runtime-Deadline-Ms")
        .unwrap()
        .parse()
        .unwrap();
    let now = now_ms();
    assert!(
        deadline > now + 2000 && deadline <= now + 3000,
        "{deadline} vs {now}"
    );
    let trace = r.header("Lambda-Runtime-Trace-Id").unwrap().to_string();
    assert!(
        trace.starts_with("Root=1-") && trace.contains(";Parent=") && trace.ends_with(";Sampled=1")
    );
    assert_eq!(server.in_flight(), 1);

    let a = c.post(&answer_path(&id, "response"), b"\"ok\"");
    assert_eq!((a.status, a.body_str()), (202, r#"{"status":"OK"}"#));
    let o = server.wait_outcome(&id, T).unwrap();
    assert_eq!(o.kind, OutcomeKind::Response);
    assert_eq!((o.body_str(), o.status_sent), ("\"ok\"", 202));
    assert_eq!(o.request.method, "POST");
    assert_eq!(server.in_flight(), 0);
    assert_eq!(server.max_in_flight(), 1);

    // Keep-alive: a second invocation on the same connection gets a distinct trace id.
    let id2 = server.invoke(Invocation::new("{}"));
    c.get_next();
    let r2 = c.response();
    assert_eq!(
        r2.header("Lambda-Runtime-Aws-Request-Id"),
        Some(id2.as_str())
    );
    assert_ne!(r2.header("Lambda-Runtime-Trace-Id"), Some(trace.as_str()));
    let e = c.post(
        &answer_path(&id2, "error"),
        br#"{"errorMessage":"x","errorType":"Boom"}"#,
    );
    assert_eq!(e.status, 202);
    assert_eq!(server.connections(), 1);
    let outs = server.outcomes();
    assert_eq!(outs.len(), 2);
    assert_eq!(outs[1].kind, OutcomeKind::Error);
    assert_eq!(server.requests().len(), 4);
    assert!(server.requests().iter().all(|r| r.conn == 1));
}

#[test]
fn unknown_ids_and_duplicates_are_recorded() {
    let server = Server::start().unwrap();
    let mut c = Client::new(&server);
    let r = c.post(&answer_path("nope", "response"), b"x");
    assert_eq!(r.status, 400);
    assert!(r.body_str().contains("InvalidRequestID"));
    let id = server.invoke(Invocation::new("{}").request_id("req-1"));
    assert_eq!(id, "req-1");
    c.get_next();
    c.response();
    for body in [&b"first"[..], b"second"] {
        assert_eq!(c.post(&answer_path(&id, "response"), body).status, 202);
    }
    let outs = server.outcomes();
    assert_eq!(outs.len(), 3);
    assert_eq!(
        (outs[0].request_id.as_str(), outs[0].status_sent),
        ("nope", 400)
    );
    assert_eq!(outs.iter().filter(|o| o.request_id == id).count(), 2);
    assert_eq!(server.wait_outcome(&id, T).unwrap().body_str(), "first");
    assert_eq!(server.in_flight(), 0);
}

#[test]
fn chunked_request_with_trailers_and_live_progress() {
    let server = Server::start().unwrap();
    let id = server.invoke(Invocation::new("{}"));
    let mut c = Client::new(&server);
    c.get_next();
    c.response();
    c.send(
        format!(
            "POST {} HTTP/1.1\r\nLambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n5\r\nhello\r\n",
            answer_path(&id, "response")
        )
        .as_bytes(),
    );
    let t0 = Instant::now();
    while server.chunk_progress(&id) < 1 {
        assert!(t0.elapsed() < T, "first chunk not seen");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(server.outcomes().is_empty());
    c.send(b"7;ext=1\r\n, world\r\n0\r\nLambda-Runtime-Function-Error-Type: Late.Error\r\nLambda-Runtime-Function-Error-Body: eA==\r\n\r\n");
    assert_eq!(c.response().status, 202);
    let o = server.wait_outcome(&id, T).unwrap();
    assert_eq!(o.body_str(), "hello, world");
    assert_eq!(o.request.chunks, vec![5, 7]);
    assert_eq!(
        o.request.trailer("lambda-runtime-function-error-body"),
        Some("eA==")
    );
    assert_eq!(o.error_type(), Some("Late.Error"));
    assert_eq!(server.chunk_progress(&id), 2);
}

#[test]
fn fault_delay() {
    let server = Server::start().unwrap();
    let id = server.invoke(Invocation::new("{}").fault(Fault::Delay(Duration::from_millis(200))));
    let mut c = Client::new(&server);
    let t0 = Instant::now();
    c.get_next();
    let r = c.response();
    assert!(t0.elapsed() >= Duration::from_millis(200));
    assert_eq!(r.header("Lambda-Runtime-Aws-Request-Id"), Some(id.as_str()));
}

#[test]
fn fault_close_after_then_recovery() {
    let server = Server::start().unwrap();
    server.invoke(Invocation::new("{}").fault(Fault::CloseAfter(10)));
    let good = server.invoke(Invocation::new("{\"ok\":1}"));
    let mut c = Client::new(&server);
    c.get_next();
    let (got, err) = c.read_to_end();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, b"HTTP/1.1 2");
    let mut c2 = Client::new(&server);
    c2.get_next();
    let r = c2.response();
    assert_eq!(
        r.header("Lambda-Runtime-Aws-Request-Id"),
        Some(good.as_str())
    );
}

#[test]
fn fault_reset_after() {
    let server = Server::start().unwrap();
    server.invoke(Invocation::new("{}").fault(Fault::ResetAfter(12)));
    let mut c = Client::new(&server);
    c.get_next();
    let (got, err) = c.read_to_end();
    assert!(b"HTTP/1.1 200".starts_with(&got), "{got:?}");
    let err = err.expect("a reset, not a clean EOF");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

#[test]
fn fault_chunked() {
    let server = Server::start().unwrap();
    server.invoke(Invocation::new("0123456789").fault(Fault::Chunked(4)));
    let mut c = Client::new(&server);
    c.get_next();
    let r = c.response();
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(r.body, b"0123456789");
    assert!(
        r.raw
            .ends_with(b"\r\n\r\n4\r\n0123\r\n4\r\n4567\r\n2\r\n89\r\n0\r\n\r\n")
    );
}

#[test]
fn fault_connection_close() {
    let server = Server::start().unwrap();
    server.invoke(Invocation::new("{}").fault(Fault::ConnectionClose));
    let mut c = Client::new(&server);
    c.get_next();
    let r = c.response();
    assert_eq!(r.header("Connection"), Some("close"));
    let (rest, err) = c.read_to_end();
    assert!(rest.is_empty() && err.is_none());
}

#[test]
fn fault_raw() {
    let server = Server::start().unwrap();
    // A truncated head: sent as is, then the connection closes (FIN).
    let garbage = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\nContent-Le".to_vec();
    server.invoke(Invocation::new("{}").fault(Fault::Raw(garbage.clone())));
    let mut c = Client::new(&server);
    c.get_next();
    let (got, err) = c.read_to_end();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, garbage);

    // A complete response with a non-numeric deadline: the connection stays usable, and the
    // invocation's id still matches the /error that follows.
    let raw = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: raw-1\r\nLambda-Runtime-Deadline-Ms: soon\r\nContent-Length: 2\r\n\r\n{}";
    server.invoke(
        Invocation::new("{}")
            .request_id("raw-1")
            .fault(Fault::Raw(raw.to_vec())),
    );
    let mut c = Client::new(&server);
    c.get_next();
    let r = c.response();
    assert_eq!(r.raw, raw);
    let e = c.post(&answer_path("raw-1", "error"), b"{}");
    assert_eq!(e.status, 202);
    assert_eq!(
        server.wait_outcome("raw-1", T).unwrap().kind,
        OutcomeKind::Error
    );
}

#[test]
fn fault_status_then_recovery_on_same_connection() {
    let server = Server::start().unwrap();
    server.invoke(Invocation::new("{}").fault(Fault::Status(500)));
    let good = server.invoke(Invocation::new("{}"));
    let mut c = Client::new(&server);
    c.get_next();
    let r = c.response();
    assert_eq!(r.status, 500);
    assert!(r.body_str().contains("errorType"));
    assert_eq!(server.in_flight(), 0);
    c.get_next();
    let r = c.response();
    assert_eq!(
        (r.status, r.header("Lambda-Runtime-Aws-Request-Id")),
        (200, Some(good.as_str()))
    );
}

#[test]
fn fault_pad_header_and_header_overrides() {
    let server = Server::start().unwrap();
    server.invoke(
        Invocation::new("{}")
            .fault(Fault::PadHeader(20_000))
            .header("Lambda-Runtime-Deadline-Ms", "not-a-number")
            .omit("lambda-runtime-trace-id")
            .trace_id("ignored"),
    );
    let mut c = Client::new(&server);
    c.get_next();
    let r = c.response();
    assert_eq!(r.header("X-Pad").map(str::len), Some(20_000));
    assert!(r.header("X-Pad").unwrap().bytes().all(|b| b == b'a'));
    assert_eq!(r.header("Lambda-Runtime-Deadline-Ms"), Some("not-a-number"));
    assert_eq!(
        r.headers
            .iter()
            .filter(|(k, _)| k == "Lambda-Runtime-Deadline-Ms")
            .count(),
        1
    );
    assert_eq!(r.header("Lambda-Runtime-Trace-Id"), None);

    server.invoke(
        Invocation::new("{}")
            .trace_id("Root=given")
            .deadline_ms(600_000),
    );
    c.get_next();
    let r = c.response();
    assert_eq!(r.header("Lambda-Runtime-Trace-Id"), Some("Root=given"));
    assert_eq!(r.header("Lambda-Runtime-Deadline-Ms"), Some("600000"));
}

#[test]
fn answers() {
    let server = Server::start().unwrap();
    let gone = server.invoke(Invocation::new("{}").answer(Answer::Status(410)));
    let empty = server.invoke(Invocation::new("{}").answer(Answer::Ok200Empty));
    let close = server.invoke(Invocation::new("{}").answer(Answer::CloseFirst));
    let mut c = Client::new(&server);
    for _ in 0..3 {
        c.get_next();
        c.response();
    }
    let r = c.post(&answer_path(&gone, "response"), b"1");
    assert_eq!(r.status, 410);
    assert!(r.body_str().contains("errorType"));
    let r = c.post(&answer_path(&empty, "error"), b"2");
    assert_eq!(
        (r.status, r.body.len(), r.header("Content-Length")),
        (200, 0, Some("0"))
    );
    c.request("POST", &answer_path(&close, "response"), &[], b"3");
    let (got, err) = c.read_to_end();
    assert!(got.is_empty() && err.is_none(), "{got:?} {err:?}");
    let mut c2 = Client::new(&server);
    assert_eq!(c2.post(&answer_path(&close, "response"), b"3").status, 202);
    let statuses: Vec<u16> = server.outcomes().iter().map(|o| o.status_sent).collect();
    assert_eq!(statuses, [410, 200, 0, 202]);
    assert_eq!(server.in_flight(), 0);
}

#[test]
fn prefix_is_stripped() {
    let server = Server::start_with(ServerConfig {
        path_prefix: "/.rt".into(),
        http_scheme: true,
        ..ServerConfig::default()
    })
    .unwrap();
    assert_eq!(
        server.runtime_api(),
        format!("http://{}/.rt", server.addr())
    );
    let id = server.invoke(Invocation::new("{}"));
    let mut c = Client::new(&server);
    c.request("GET", NEXT, &[], b"");
    assert_eq!(c.response().status, 404);
    c.request("GET", &format!("/.rt{NEXT}"), &[], b"");
    let r = c.response();
    assert_eq!(r.header("Lambda-Runtime-Aws-Request-Id"), Some(id.as_str()));
    let a = c.post(&format!("/.rt{}", answer_path(&id, "response")), b"ok");
    assert_eq!(a.status, 202);
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            NEXT.to_string(),
            NEXT.to_string(),
            answer_path(&id, "response")
        ]
    );
    assert_eq!(server.next_polls(), 1);
}

#[test]
fn two_connections_long_poll_concurrently() {
    let server = Server::start().unwrap();
    let mut a = Client::new(&server);
    let mut b = Client::new(&server);
    a.get_next();
    b.get_next();
    assert!(server.wait_for(T, |r| r.len() == 2));
    let ids = [
        server.invoke(Invocation::new("1")),
        server.invoke(Invocation::new("2")),
    ];
    let ra = a.response();
    let rb = b.response();
    let mut got = vec![
        ra.header("Lambda-Runtime-Aws-Request-Id")
            .unwrap()
            .to_string(),
        rb.header("Lambda-Runtime-Aws-Request-Id")
            .unwrap()
            .to_string(),
    ];
    got.sort();
    let mut want = ids.to_vec();
    want.sort();
    assert_eq!(got, want);
    assert_eq!((server.in_flight(), server.max_in_flight()), (2, 2));
    assert_eq!(server.connections(), 2);
}

#[test]
fn invoke_endpoint() {
    let server = Server::start().unwrap();
    let mut runtime = Client::new(&server);
    runtime.get_next();
    let mut caller = Client::new(&server);
    caller.request(
        "POST",
        "/2015-03-31/functions/function/invocations",
        &[],
        br#"{"name":"World"}"#,
    );
    let ev = runtime.response();
    assert_eq!(ev.body, br#"{"name":"World"}"#);
    let id = ev
        .header("Lambda-Runtime-Aws-Request-Id")
        .unwrap()
        .to_string();
    runtime.post(&answer_path(&id, "response"), b"\"Hello World!\"");
    let r = caller.response();
    assert_eq!((r.status, r.body_str()), (200, "\"Hello World!\""));
    assert_eq!(r.header("X-Amz-Function-Error"), None);

    caller.request(
        "POST",
        "/2015-03-31/functions/function/invocations",
        &[],
        b"{}",
    );
    runtime.get_next();
    let ev = runtime.response();
    let id = ev
        .header("Lambda-Runtime-Aws-Request-Id")
        .unwrap()
        .to_string();
    runtime.request(
        "POST",
        &answer_path(&id, "error"),
        &[("Lambda-Runtime-Function-Error-Type", "Handler.Panic")],
        br#"{"errorType":"Handler.Panic"}"#,
    );
    assert_eq!(runtime.response().status, 202);
    let r = caller.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Amz-Function-Error"), Some("Handler.Panic"));
    assert_eq!(r.body_str(), r#"{"errorType":"Handler.Panic"}"#);
}

#[test]
fn init_restore_and_extensions() {
    let server = Server::start().unwrap();
    let mut c = Client::new(&server);
    assert_eq!(c.post("/2018-06-01/runtime/init/error", b"{}").status, 202);
    c.request("GET", "/2018-06-01/runtime/restore/next", &[], b"");
    assert_eq!(c.response().status, 404);
    assert_eq!(
        c.post("/2018-06-01/runtime/restore/error", b"{}").status,
        202
    );
    c.request("GET", "/nope", &[], b"");
    assert_eq!(c.response().status, 404);

    c.request(
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "lamina")],
        br#"{"events":[]}"#,
    );
    let r = c.response();
    assert_eq!(r.status, 200);
    let ext = r.header("Lambda-Extension-Identifier").unwrap().to_string();
    assert!(is_uuid(&ext));
    assert!(r.body_str().contains(r#""functionName":"test-function""#));
    assert!(r.body_str().contains(r#""handler":"bootstrap""#));
    c.request(
        "GET",
        "/2020-01-01/extension/event/next",
        &[("Lambda-Extension-Identifier", &ext)],
        b"",
    );
    assert!(server.wait_for(T, |r| {
        r.last()
            .is_some_and(|r| r.path == "/2020-01-01/extension/event/next")
    }));
    server.shutdown_extensions();
    let r = c.response();
    assert_eq!(r.status, 200);
    assert!(r.body_str().contains(r#""eventType":"SHUTDOWN""#));
    assert!(r.body_str().contains(r#""shutdownReason":"spindown""#));
    let reg = &server.requests()[4];
    assert_eq!(reg.header("lambda-extension-name"), Some("lamina"));

    let snap = Server::start_with(ServerConfig {
        snap_start: true,
        ..ServerConfig::default()
    })
    .unwrap();
    let mut c = Client::new(&snap);
    c.request("GET", "/2018-06-01/runtime/restore/next", &[], b"");
    let r = c.response();
    assert_eq!((r.status, r.body.len()), (200, 0));
}

#[test]
fn bad_input_is_answered_and_the_server_keeps_going() {
    let server = Server::start().unwrap();
    let mut c = Client::new(&server);
    c.send(b"\x00\x01garbage\r\n\r\n");
    let (got, _) = c.read_to_end();
    assert!(
        got.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );

    let mut c = Client::new(&server);
    c.send(format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(70_000)).as_bytes());
    let (got, _) = c.read_to_end();
    assert!(
        got.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&got[..20.min(got.len())])
    );

    let mut c = Client::new(&server);
    c.send(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    let (got, _) = c.read_to_end();
    assert!(got.starts_with(b"HTTP/1.1 400"));

    let mut c = Client::new(&server);
    c.send(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    drop(c);

    // Expect: 100-continue is honoured.
    let mut c = Client::new(&server);
    c.send(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    let cont = c.response();
    assert_eq!(cont.status, 100);
    c.send(b"{}");
    assert_eq!(c.response().status, 202);

    let id = server.invoke(Invocation::new("{}"));
    let mut c = Client::new(&server);
    c.get_next();
    assert_eq!(
        c.response().header("Lambda-Runtime-Aws-Request-Id"),
        Some(id.as_str())
    );
}

#[test]
fn env_and_command() {
    let server = Server::start_with(ServerConfig {
        function_name: "hello".into(),
        max_concurrency: Some(4),
        ..ServerConfig::default()
    })
    .unwrap();
    let env = server.lambda_env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(
        get("AWS_LAMBDA_RUNTIME_API"),
        Some(server.addr().to_string().as_str())
    );
    assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some("hello"));
    assert_eq!(get("AWS_LAMBDA_FUNCTION_VERSION"), Some("$LATEST"));
    assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("128"));
    assert_eq!(get("AWS_LAMBDA_LOG_GROUP_NAME"), Some("/aws/lambda/hello"));
    assert!(
        get("AWS_LAMBDA_LOG_STREAM_NAME")
            .unwrap()
            .contains("/[$LATEST]")
    );
    assert_eq!(get("AWS_REGION"), Some("us-east-1"));
    assert_eq!(get("_HANDLER"), Some("bootstrap"));
    assert_eq!(get("AWS_LAMBDA_INITIALIZATION_TYPE"), Some("on-demand"));
    assert_eq!(get("AWS_LAMBDA_MAX_CONCURRENCY"), Some("4"));

    let out = server
        .command(std::path::Path::new("sh"))
        .args([
            "-c",
            "echo $AWS_LAMBDA_FUNCTION_NAME $AWS_LAMBDA_MAX_CONCURRENCY",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello 4\n");
}

#[test]
fn drop_ends_waiting_polls() {
    let server = Server::start().unwrap();
    let mut c = Client::new(&server);
    c.get_next();
    assert!(server.wait_for(T, |r| r.len() == 1));
    let t0 = Instant::now();
    drop(server);
    let (got, _) = c.read_to_end();
    assert!(got.is_empty());
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_poller_that_goes_away_does_not_consume_an_invocation() {
    let server = Server::start().unwrap();
    let mut gone = Client::new(&server);
    gone.get_next();
    assert!(server.wait_for(T, |r| r.len() == 1));
    drop(gone);
    assert!(server.wait_disconnect(1, T));
    let id = server.invoke(Invocation::new("{}"));
    let mut c = Client::new(&server);
    c.get_next();
    assert_eq!(
        c.response().header("Lambda-Runtime-Aws-Request-Id"),
        Some(id.as_str())
    );
}

/// Not a test on its own: when `LAMINA_SERVER_TEST_AS_RUNTIME` is set, this test binary acts as a
/// minimal Lambda runtime (the `lamina-server` binary's tests start it as their bootstrap).
#[test]
fn fake_runtime() {
    if std::env::var_os("LAMINA_SERVER_TEST_AS_RUNTIME").is_none() {
        return;
    }
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap();
    let api = api.strip_prefix("http://").unwrap_or(&api);
    let (host, prefix) = api.find('/').map_or((api, ""), |i| api.split_at(i));
    let mut c = Client::connect(host);
    c.s.set_read_timeout(None).unwrap();
    loop {
        c.request("GET", &format!("{prefix}{NEXT}"), &[], b"");
        let ev = c.response();
        let id = ev
            .header("Lambda-Runtime-Aws-Request-Id")
            .unwrap()
            .to_string();
        let body = ev.body_str();
        if body.contains("exit") {
            std::process::exit(3);
        }
        if body.contains("fail") {
            c.request(
                "POST",
                &format!("{prefix}{}", answer_path(&id, "error")),
                &[("Lambda-Runtime-Function-Error-Type", "Boom")],
                br#"{"errorMessage":"nope","errorType":"Boom"}"#,
            );
        } else {
            let name = body
                .split_once(r#""name":""#)
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or("?", |(name, _)| name);
            c.request(
                "POST",
                &format!("{prefix}{}", answer_path(&id, "response")),
                &[],
                format!("\"Hello {name}!\"").as_bytes(),
            );
        }
        c.response();
    }
}

#[cfg(unix)]
#[test]
fn binary_runs_a_bootstrap() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};

    let dir = std::env::temp_dir().join(format!("lamina-server-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("bootstrap");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nLAMINA_SERVER_TEST_AS_RUNTIME=1 exec '{}' --exact fake_runtime --nocapture --test-threads 1\n",
            std::env::current_exe().unwrap().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lamina-server"))
            .arg("--bootstrap")
            .arg(&script)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, out, err) = run(&["--event", r#"{"name":"World"}"#]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "\"Hello World!\"\n"),
        "{err}"
    );
    assert!(
        err.contains("lamina-server: #1 ") && err.contains(" response 14 B in "),
        "{err}"
    );

    let (code, out, err) = run(&[
        "--event",
        r#"{"name":"a"}"#,
        "--event",
        r#"{"fail":1}"#,
        "--repeat",
        "2",
        "--prefix",
        "/.rt",
        "--http",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out.lines().count(), 4);
    assert_eq!(
        out.lines().nth(1),
        Some(r#"{"errorMessage":"nope","errorType":"Boom"}"#)
    );
    assert!(
        err.contains("error (Boom)") && err.contains("invocations/s") && err.contains("p99"),
        "{err}"
    );

    // The event whose bootstrap exited gets Lambda's error payload (binary.rs tests restarts).
    let (code, out, err) = run(&["--event", r#"{"name":"a"}"#, "--event", r#"{"exit":1}"#]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        (code, lines.len(), lines[0]),
        (Some(2), 2, "\"Hello a!\""),
        "{err}"
    );
    assert!(
        lines[1].starts_with(r#"{"errorType":"Runtime.ExitError","#)
            && lines[1].ends_with(r#"Runtime exited with error: exit status 3"}"#),
        "{out}"
    );
    assert!(err.contains("exited (exit status 3)"), "{err}");

    let (code, _, err) = run(&["--bogus"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("unknown argument") && err.contains("usage:"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
