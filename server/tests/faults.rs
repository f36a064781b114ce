//! Wire-level tests of the hostile-Runtime-API modes (DESIGN section 6), with raw `TcpStream`
//! clients. Every wait is on an event the server reports; nothing sleeps.

mod common;

use std::io::{self, Read};
use std::time::{Duration, Instant};

use common::{Client, NEXT, T, answer_path};
use lamina_server::{
    Answer, Fault, GARBAGE_NEXT, Invocation, OutcomeKind, Server, ServerConfig, UnsolicitedKind,
};

const ID_HEADER: &str = "Lambda-Runtime-Aws-Request-Id";

/// Reads until `c.buf` holds at least `n` bytes.
fn fill_to(c: &mut Client, n: usize) {
    while c.buf.len() < n {
        assert!(c.fill(), "EOF after {:?}", String::from_utf8_lossy(&c.buf));
    }
}

/// Nothing has arrived on `c` (and it is still open): a non-blocking read would block.
fn nothing_arrived(c: &mut Client) -> bool {
    c.s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 64];
    let r = c.s.read(&mut b);
    c.s.set_nonblocking(false).unwrap();
    c.buf.is_empty() && matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Delivers the next queued invocation to `c` and returns its request id.
fn take(c: &mut Client) -> String {
    c.get_next();
    let r = c.response();
    assert_eq!(r.status, 200);
    r.header(ID_HEADER).unwrap().to_string()
}

fn streaming_head(id: &str) -> String {
    format!(
        "POST {} HTTP/1.1\r\nLambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n",
        answer_path(id, "response")
    )
}

#[test]
fn interim_responses_before_next_and_before_answer() {
    let server = Server::start().unwrap();
    let id = server.invoke(
        Invocation::new("{}")
            .fault(Fault::Interim(3))
            .answer(Answer::Interim(2)),
    );
    let mut c = Client::new(&server);
    c.get_next();
    let statuses: Vec<u16> = (0..3).map(|_| c.response().status).collect();
    assert_eq!(statuses, [100, 103, 100]);
    let r = c.response();
    assert_eq!((r.status, r.header(ID_HEADER)), (200, Some(id.as_str())));

    c.request("POST", &answer_path(&id, "response"), &[], b"ok");
    assert_eq!(c.response().status, 100);
    let hints = c.response();
    assert_eq!(hints.status, 103);
    assert_eq!(hints.header("Link"), Some("</x>; rel=preload"));
    assert_eq!(
        hints.raw,
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
    );
    assert_eq!(c.response().status, 202);
    assert_eq!(server.wait_outcome(&id, T).unwrap().status_sent, 202);
    // The connection is still usable.
    let next = server.invoke(Invocation::new("{}"));
    assert_eq!(take(&mut c), next);
}

#[test]
fn early_answer_comes_before_the_body_which_is_still_read() {
    let server = Server::start().unwrap();
    let id = server.invoke(Invocation::new("{}").answer(Answer::Early));
    let mut c = Client::new(&server);
    take(&mut c);
    c.send(
        format!(
            "POST {} HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123",
            answer_path(&id, "response")
        )
        .as_bytes(),
    );
    // The answer arrives while 6 bytes of the body are still unsent.
    assert_eq!(c.response().status, 202);
    assert!(server.outcomes().is_empty());
    c.send(b"456789");
    let o = server.wait_outcome(&id, T).unwrap();
    assert_eq!((o.body_str(), o.status_sent), ("0123456789", 202));
    assert!(o.request.complete);

    // Chunked, on the same connection: the body is drained to its last chunk and trailers.
    let id2 = server.invoke(Invocation::new("{}").answer(Answer::Early));
    assert_eq!(take(&mut c), id2);
    c.send(format!("{}5\r\nhello\r\n", streaming_head(&id2)).as_bytes());
    assert_eq!(c.response().status, 202);
    c.send(b"1\r\n!\r\n0\r\nX-End: 1\r\n\r\n");
    let o = server.wait_outcome(&id2, T).unwrap();
    assert_eq!(
        (o.body_str(), o.request.chunks.clone()),
        ("hello!", vec![5, 1])
    );
    assert_eq!(o.request.trailer("x-end"), Some("1"));
    let id3 = server.invoke(Invocation::new("{}"));
    assert_eq!(take(&mut c), id3);
    assert!(server.violations().is_empty(), "{:?}", server.violations());

    // With `Connection: close`: answered early, the body still read, then the connection closes.
    let id5 = server.invoke(Invocation::new("{}").answer(Answer::Early));
    let mut c5 = Client::new(&server);
    assert_eq!(take(&mut c5), id5);
    c5.send(
        format!(
            "POST {} HTTP/1.1\r\nConnection: close\r\nContent-Length: 4\r\n\r\nab",
            answer_path(&id5, "response")
        )
        .as_bytes(),
    );
    let r = c5.response();
    assert_eq!((r.status, r.header("Connection")), (202, Some("close")));
    c5.send(b"cd");
    let (rest, err) = c5.read_to_end();
    assert!(rest.is_empty() && err.is_none(), "{rest:?} {err:?}");
    assert_eq!(server.wait_outcome(&id5, T).unwrap().body_str(), "abcd");

    // A client that stops sending after the early answer: recorded with what arrived.
    let id4 = server.invoke(Invocation::new("{}").answer(Answer::Early));
    assert_eq!(take(&mut c), id4);
    c.send(
        format!(
            "POST {} HTTP/1.1\r\nContent-Length: 10\r\n\r\nab",
            answer_path(&id4, "error")
        )
        .as_bytes(),
    );
    assert_eq!(c.response().status, 202);
    drop(c);
    let o = server.wait_outcome(&id4, T).unwrap();
    assert_eq!((o.body_str(), o.request.complete), ("ab", false));
    assert_eq!(o.kind, OutcomeKind::Error);
}

#[test]
fn unsolicited_bytes_on_accept_for_the_first_connection_only() {
    let hello = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec();
    let server = Server::start_with(ServerConfig {
        unsolicited_on_accept: Some(hello.clone()),
        unsolicited_on_accept_limit: Some(1),
        ..ServerConfig::default()
    })
    .unwrap();
    let mut first = Client::new(&server);
    fill_to(&mut first, hello.len());
    assert_eq!(first.buf, hello);

    let mut second = Client::new(&server);
    let id = server.invoke(Invocation::new("{}"));
    // Had the bytes been sent here too, they would be read as this answer, without an id.
    assert_eq!(take(&mut second), id);
    let sent = server.unsolicited();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].conn, &sent[0].kind, &sent[0].bytes),
        (1, &UnsolicitedKind::OnAccept, &hello)
    );

    // Without a limit, every connection gets them.
    let every = Server::start_with(ServerConfig {
        unsolicited_on_accept: Some(b"x".to_vec()),
        ..ServerConfig::default()
    })
    .unwrap();
    for _ in 0..2 {
        let mut c = Client::new(&every);
        fill_to(&mut c, 1);
        assert_eq!(c.buf, b"x");
    }
    assert_eq!(every.unsolicited().len(), 2);
}

#[test]
fn trailing_bytes_after_next_and_after_answer() {
    let server = Server::start().unwrap();
    let fake =
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: fake\r\nContent-Length: 0\r\n\r\n";
    let id = server.invoke(
        Invocation::new("{}")
            .fault(Fault::Trailing(fake.to_vec()))
            .answer(Answer::Trailing(b"junk".to_vec())),
    );
    let mut c = Client::new(&server);
    assert_eq!(take(&mut c), id);
    fill_to(&mut c, fake.len());
    assert_eq!(c.buf, fake);
    c.buf.clear();

    let mut c2 = Client::new(&server);
    let a = c2.post(&answer_path(&id, "response"), b"ok");
    assert_eq!(a.status, 202);
    fill_to(&mut c2, 4);
    assert_eq!(c2.buf, b"junk");
    let sent = server.unsolicited();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].conn, &sent[0].kind),
        (1, &UnsolicitedKind::AfterNext(id.clone()))
    );
    assert_eq!(
        (sent[1].conn, &sent[1].kind, sent[1].bytes.as_slice()),
        (2, &UnsolicitedKind::AfterAnswer(id.clone()), &b"junk"[..])
    );
}

#[test]
fn garbage_next_answers_then_the_queue() {
    let server = Server::start().unwrap();
    let not_http = b"\x00\x01 not HTTP at all\r\n\r\n".to_vec();
    server.garbage_next(1, GARBAGE_NEXT);
    server.garbage_next(1, not_http.clone());
    let id = server.invoke(Invocation::new("{}"));
    let mut c = Client::new(&server);
    c.get_next();
    let r = c.response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
    assert_eq!(r.header(ID_HEADER), None);
    // A well-framed garbage answer keeps the connection; the non-HTTP one closes it after.
    c.get_next();
    let (got, err) = c.read_to_end();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, not_http);
    let mut c = Client::new(&server);
    assert_eq!(take(&mut c), id);
    let polls = server.next_poll_times();
    assert_eq!(polls.len(), 3);
    assert_eq!(server.garbage_next_times(), polls[..2]);

    // A poll already waiting gets garbage given later, before an invocation queued with it.
    c.get_next();
    assert!(server.wait_for(T, |r| r.iter().filter(|r| r.path == NEXT).count() == 4));
    server.garbage_next(1, GARBAGE_NEXT);
    let id = server.invoke(Invocation::new("{}"));
    assert_eq!(c.response().header(ID_HEADER), None);
    assert_eq!(take(&mut c), id);
    assert_eq!(server.garbage_next_times().len(), 3);
}

#[test]
fn an_answer_never_sent() {
    let server = Server::start().unwrap();
    let id = server.invoke(Invocation::new("{}").answer(Answer::Never));
    let mut c = Client::new(&server);
    take(&mut c);
    c.request("POST", &answer_path(&id, "response"), &[], b"done");
    let o = server.wait_outcome(&id, T).unwrap();
    assert_eq!((o.body_str(), o.status_sent), ("done", 0));
    assert_eq!(server.in_flight(), 0);
    assert!(nothing_arrived(&mut c));
    // Whatever the client sends now is read and reported, and still not answered.
    c.get_next();
    assert!(server.wait_violations(1, T));
    assert!(server.violations()[0].bytes.starts_with("GET /2018-06-01"));
    assert!(nothing_arrived(&mut c));
    drop(c);
    assert!(server.wait_disconnect(1, T));
    let d = &server.disconnects()[0];
    assert!(d.by_peer && d.outstanding, "{d:?}");
    assert_eq!(d.requests, 2);

    // The server's drop ends a connection waiting for a never-sent answer, promptly.
    let id = server.invoke(Invocation::new("{}").answer(Answer::Never));
    let mut c = Client::new(&server);
    take(&mut c);
    c.request("POST", &answer_path(&id, "error"), &[], b"{}");
    server.wait_outcome(&id, T).unwrap();
    let t0 = Instant::now();
    drop(server);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    let (got, _) = c.read_to_end();
    assert!(got.is_empty());
}

#[test]
fn streamed_response_refused_with_413_right_after_its_head() {
    let server = Server::start().unwrap();
    let id = server.invoke(Invocation::new("{}").answer(Answer::Status(413)));
    let mut c = Client::new(&server);
    take(&mut c);
    c.send(format!("{}5\r\nhello\r\n", streaming_head(&id)).as_bytes());
    let r = c.response();
    assert_eq!(r.status, 413);
    assert!(r.body_str().contains("RequestEntityTooLarge"));
    assert!(server.outcomes().is_empty());
    // The server drains the stream to its end (here a failing one, with trailers).
    c.send(b"5\r\nworld\r\n0\r\nLambda-Runtime-Function-Error-Type: Stream.Failed\r\nLambda-Runtime-Function-Error-Body: eA==\r\n\r\n");
    let o = server.wait_outcome(&id, T).unwrap();
    assert_eq!((o.body_str(), o.status_sent), ("helloworld", 413));
    assert_eq!(o.request.chunks, [5, 5]);
    assert!(o.request.complete);
    assert_eq!(o.error_type(), Some("Stream.Failed"));
    assert_eq!(
        o.request.trailer("Lambda-Runtime-Function-Error-Body"),
        Some("eA==")
    );
    let next = server.invoke(Invocation::new("{}"));
    assert_eq!(take(&mut c), next);

    // Not streamed: the status comes after the whole body, as before.
    let id = server.invoke(Invocation::new("{}").answer(Answer::Status(413)));
    assert_eq!(take(&mut c), id);
    assert_eq!(c.post(&answer_path(&id, "response"), b"big").status, 413);
    assert_eq!(server.wait_outcome(&id, T).unwrap().body_str(), "big");
}

#[test]
fn streamed_response_reset_after_chunks() {
    let server = Server::start().unwrap();
    let id = server.invoke(Invocation::new("{}").answer(Answer::ResetAfterChunks(2)));
    let mut c = Client::new(&server);
    take(&mut c);
    c.send(format!("{}3\r\none\r\n", streaming_head(&id)).as_bytes());
    c.send(b"3\r\ntwo\r\n");
    let (got, err) = c.read_to_end();
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(err.expect("a reset").kind(), io::ErrorKind::ConnectionReset);
    let o = server.wait_outcome(&id, T).unwrap();
    assert_eq!((o.body_str(), o.status_sent), ("onetwo", 0));
    assert_eq!(o.request.chunks, [3, 3]);
    assert!(!o.request.complete);
    assert!(server.wait_disconnect(1, T));
    let d = &server.disconnects()[0];
    assert!(!d.by_peer && d.outstanding, "{d:?}");
    // Only the first is reset: the /error that follows is accepted.
    let mut c = Client::new(&server);
    assert_eq!(c.post(&answer_path(&id, "error"), b"{}").status, 202);
}

#[test]
fn answers_held_until_enough_invocations_are_in_flight() {
    let server = Server::start_with(ServerConfig {
        hold_answers_until_in_flight: Some(3),
        ..ServerConfig::default()
    })
    .unwrap();
    let ids: Vec<String> = (0..3)
        .map(|i| server.invoke(Invocation::new(format!("{i}"))))
        .collect();
    let mut clients: Vec<Client> = (0..3).map(|_| Client::new(&server)).collect();
    for (n, c) in clients.iter_mut().take(2).enumerate() {
        assert_eq!(take(c), ids[n]);
        c.request("POST", &answer_path(&ids[n], "response"), &[], b"r");
        server.wait_outcome(&ids[n], T).unwrap();
        assert_eq!(server.held_answers(), n + 1);
    }
    assert!(nothing_arrived(&mut clients[0]));
    assert!(nothing_arrived(&mut clients[1]));
    // The third delivery makes three in flight at once: both held answers are released.
    assert_eq!(take(&mut clients[2]), ids[2]);
    assert_eq!(clients[0].response().status, 202);
    assert_eq!(clients[1].response().status, 202);
    assert_eq!(server.held_answers(), 0);
    // From then on answers flow at once.
    assert_eq!(
        clients[2]
            .post(&answer_path(&ids[2], "response"), b"r")
            .status,
        202
    );
    assert!(server.violations().is_empty());
}

#[test]
fn disconnects_are_reported() {
    let server = Server::start().unwrap();
    let mut c = Client::new(&server);
    c.get_next();
    assert!(server.wait_for(T, |r| r.len() == 1));
    drop(c);
    assert!(server.wait_disconnect(1, T));
    let d = server.disconnects().remove(0);
    assert_eq!(d.conn, 1);
    assert!(d.by_peer && d.outstanding, "{d:?}");
    assert_eq!(d.last_request.as_deref(), Some(&*format!("GET {NEXT}")));

    // Closed by the server after a complete answer: nothing outstanding.
    server.invoke(Invocation::new("{}").fault(Fault::ConnectionClose));
    let mut c = Client::new(&server);
    take(&mut c);
    assert!(server.wait_disconnects(2, T));
    let d = server.disconnects().remove(1);
    assert_eq!(d.conn, 2);
    assert!(!d.by_peer && !d.outstanding, "{d:?}");
    assert_eq!(d.requests, 1);

    // An idle keep-alive connection closed by the client.
    let mut c = Client::new(&server);
    assert_eq!(c.post("/2018-06-01/runtime/init/error", b"{}").status, 202);
    drop(c);
    assert!(server.wait_disconnect(3, T));
    let d = server.disconnects().remove(2);
    assert!(d.by_peer && !d.outstanding, "{d:?}");
}

#[test]
fn pipelined_requests_are_violations() {
    // Two requests in one write.
    let server = Server::start().unwrap();
    let mut c = Client::new(&server);
    let get = format!("GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n");
    c.send(format!("{get}{get}").as_bytes());
    assert!(server.wait_violations(1, T));
    let v = server.violations().remove(0);
    assert_eq!(v.conn, 1);
    assert!(v.what.contains("pipelining"), "{v:?}");
    assert_eq!(v.bytes, get.as_bytes().escape_ascii().to_string());

    // A second request while the first waits for an invocation.
    let server = Server::start().unwrap();
    let mut c = Client::new(&server);
    c.get_next();
    assert!(server.wait_for(T, |r| r.len() == 1));
    c.get_next();
    assert!(server.wait_violations(1, T));
    assert_eq!(server.violations().len(), 1);
    assert!(server.violations()[0].bytes.starts_with("GET "));

    // The client then goes away: its close is noticed behind the unread bytes (Linux), and the
    // wait ends without taking an invocation queued afterwards.
    drop(c);
    if cfg!(target_os = "linux") {
        assert!(server.wait_disconnect(1, T));
        let d = server.disconnects().remove(0);
        assert!(d.by_peer && d.outstanding, "{d:?}");
        let id = server.invoke(Invocation::new("{}"));
        let mut c = Client::new(&server);
        assert_eq!(take(&mut c), id);
    }
}

#[test]
fn deliveries_can_be_waited_for() {
    let server = Server::start().unwrap();
    let id = server.invoke(Invocation::new("{}"));
    assert!(!server.wait_delivered(&id, Duration::from_millis(1)));
    let mut c = Client::new(&server);
    c.get_next();
    assert!(server.wait_delivered(&id, T));
    assert!(server.delivered_at(&id).is_some());
    assert_eq!(c.response().header(ID_HEADER), Some(id.as_str()));
    assert!(!server.wait_delivered("unknown", Duration::from_millis(1)));
}

#[test]
fn bytes_that_are_not_a_request_are_violations() {
    let server = Server::start().unwrap();
    let id = server.invoke(Invocation::new("{}"));
    let mut c = Client::new(&server);
    take(&mut c);
    c.send(format!("{}2\r\nok\r\n0\r\n\r\n", streaming_head(&id)).as_bytes());
    assert_eq!(c.response().status, 202);
    // A stray last chunk after the stream ended.
    c.send(b"0\r\n\r\n");
    let (got, _) = c.read_to_end();
    assert!(got.starts_with(b"HTTP/1.1 400"), "{got:?}");
    assert!(server.wait_violations(1, T));
    let v = server.violations().remove(0);
    assert!(v.what.starts_with("not an HTTP request"), "{v:?}");
    assert_eq!(v.bytes, r"0\r\n\r\n");
    assert_eq!(server.wait_outcome(&id, T).unwrap().body_str(), "ok");

    // A malformed chunk is reported too.
    let mut c = Client::new(&server);
    c.send(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    let (got, _) = c.read_to_end();
    assert!(got.starts_with(b"HTTP/1.1 400"));
    assert!(server.wait_violations(2, T));
    let v = server.violations().remove(1);
    assert!(v.what.contains("bad chunk size"), "{v:?}");
}

#[test]
fn timed_out_invocations_are_withdrawn_or_answered_410_and_streams_can_be_watched() {
    let server = Server::start().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(String, Vec<u8>)>();
    let tx = std::sync::Mutex::new(tx);
    server.watch_streams(move |id, chunk| {
        let _ = tx.lock().unwrap().send((id.to_string(), chunk.to_vec()));
    });
    // Not delivered yet: withdrawn from the queue.
    let queued = server.invoke(Invocation::new("{}"));
    assert!(server.time_out(&queued));
    assert!(!server.time_out("unknown"));
    let id = server.invoke(Invocation::new("{}"));
    assert_eq!(server.delivered_at(&id), None);
    let mut c = Client::new(&server);
    assert_eq!(take(&mut c), id);
    assert!(server.delivered_at(&id).is_some());
    assert_eq!(server.in_flight(), 1);

    c.send(format!("{}5\r\nfirst\r\n", streaming_head(&id)).as_bytes());
    // Seen while the stream is still open.
    let got = rx.recv_timeout(T).unwrap();
    assert_eq!(
        (got.0.as_str(), got.1.as_slice()),
        (id.as_str(), &b"first"[..])
    );
    assert!(server.time_out(&id));
    assert_eq!(server.in_flight(), 0);
    c.send(b"4\r\nlast\r\n0\r\n\r\n");
    assert_eq!(rx.recv_timeout(T).unwrap().1, b"last");
    let r = c.response();
    assert_eq!(r.status, 410);
    assert!(r.body_str().contains("InvocationGone"));
    let o = server.wait_outcome(&id, T).unwrap();
    assert_eq!((o.status_sent, o.body_str()), (410, "firstlast"));
    assert_eq!(server.in_flight(), 0);
}
