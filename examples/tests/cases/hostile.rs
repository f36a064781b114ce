//! DESIGN section 6 (issue 13): a hostile or broken Runtime API. None of these may lose an
//! invocation, answer one twice, write bytes nobody asked for, or hang without a log.

use std::time::{Duration, Instant};

use lamina_server::{Answer, Fault, GARBAGE_NEXT, Invocation, OutcomeKind, ServerConfig};

use crate::common::*;

/// How long the runtime waits for the answer to an answer whose invocation's deadline has
/// passed (DESIGN 6: the deadline + 10 s, at least 10 s).
const REPLY_GRACE: Duration = Duration::from_secs(10);

/// A bound above [`REPLY_GRACE`] for the waits that span it.
const SLOW_WAIT: Duration = Duration::from_secs(25);

/// A deadline long past (1970): the reply wait is then [`REPLY_GRACE`] exactly.
const PAST_DEADLINE_MS: u64 = 1_000;

// ---------------------------------------------------------------------------------------------
// 4. An answer that arrives before the request body is fully written.

/// `202` right after the head of a 5 MiB `/response` (`Answer::Early`): the runtime still
/// finishes (or drops) that request, never resends it, goes on to the next `GET /next` and
/// serves the next invocations; nothing is pipelined behind the half-written body.
pub(crate) fn early_answer_to_a_large_response(t: &Transport) {
    let mut h = Harness::start(t, Bin::Echo);
    let big = "e".repeat(5 << 20);
    let a = h.invoke(Invocation::new(big.as_str()).answer(Answer::Early));
    let b = h.invoke(Invocation::new("b".repeat(3 << 20)).answer(Answer::Early));
    let last = h.sentinel();
    for (id, len) in [(&a, 5 << 20), (&b, 3 << 20)] {
        let o = h.outcome(id);
        assert_eq!(o.kind, OutcomeKind::Response, "{}", h.diag());
        assert_eq!(o.status_sent, 202);
        // What arrived is the event's bytes, all of them if the runtime finished the request.
        let body = &o.request.body;
        let stray = body.iter().position(|&c| c != body[0]);
        assert_eq!(stray, None, "{} bytes\n{}", body.len(), h.diag());
        assert!(!o.request.complete || body.len() == len, "{}", h.diag());
    }
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&a, &b, &last], false);
    h.expect_no_violations();
    h.expect_running();
}

// ---------------------------------------------------------------------------------------------
// 5. `Connection: close` on `/next`.

/// `Connection: close` on every `/next`: each answer goes out on a new connection at once. A
/// runtime that wrote it on the closed connection would find out only by the reset, and resend
/// after its first reconnect pause (10 ms): so the quickest of several answers must come sooner
/// than that (the minimum of several makes a slow moment of the machine harmless), and nothing
/// says "cannot reach".
pub(crate) fn connection_close_on_every_next(t: &Transport) {
    let h = Harness::start(t, Bin::Hello);
    let ids: Vec<String> = (0..8)
        .map(|i| {
            h.invoke(Invocation::new(format!(r#"{{"name":"C{i}"}}"#)).fault(Fault::ConnectionClose))
        })
        .collect();
    let mut quickest = Duration::MAX;
    for (i, id) in ids.iter().enumerate() {
        let o = h.outcome(id);
        assert_response(&o, id, format!(r#""Hello C{i}!""#).as_bytes());
        assert_eq!(o.status_sent, 202);
        let next = h
            .server
            .requests()
            .into_iter()
            .rfind(|r| is_next(r) && r.at <= o.request.at)
            .expect("the /next that delivered it");
        assert_ne!(o.request.conn, next.conn, "{}", h.diag());
        let delivered = h.server.delivered_at(id).expect("delivered");
        quickest = quickest.min(o.request.at.saturating_duration_since(delivered));
    }
    assert!(
        quickest < Duration::from_millis(10),
        "every answer took a reconnect pause (quickest {quickest:?})\n{}",
        h.diag()
    );
    let marker = h.log_marker();
    h.expect_no_stderr("cannot reach");
    let last = h.sentinel();
    let mut counts: Vec<(&str, usize)> = ids.iter().map(|id| (id.as_str(), 1)).collect();
    counts.extend([(marker.as_str(), 1), (last.as_str(), 1)]);
    h.expect_answer_counts(&counts);
    h.expect_no_violations();
}

/// `Connection: close` on `/next`, then the new connection carrying the answer is cut before its
/// reply (`Answer::CloseFirst`): the answer is resent once, so the close did not spend the single
/// resend. Exactly two POSTs, on two connections, neither the `/next` one.
pub(crate) fn connection_close_then_lost_answer_resent_once(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(
        Invocation::new(r#"{"name":"R"}"#)
            .fault(Fault::ConnectionClose)
            .answer(Answer::CloseFirst),
    );
    let last = h.sentinel();
    let answers = h.outcomes_for(&id);
    assert_eq!(answers.len(), 2, "{}", h.diag());
    for o in &answers {
        assert_response(o, &id, br#""Hello R!""#);
    }
    assert_eq!((answers[0].status_sent, answers[1].status_sent), (0, 202));
    let first_next = h.server.requests()[0].clone();
    assert!(is_next(&first_next));
    let conns = [
        first_next.conn,
        answers[0].request.conn,
        answers[1].request.conn,
    ];
    assert!(
        conns[0] != conns[1] && conns[1] != conns[2] && conns[0] != conns[2],
        "connections {conns:?}\n{}",
        h.diag()
    );
    h.expect_answer_counts(&[(&id, 2), (&last, 1)]);
    h.expect_no_violations();
    h.expect_running();
}

// ---------------------------------------------------------------------------------------------
// 6. An answer that never comes.

/// `/response` never answered (`Answer::Never`), the invocation's deadline long past: after
/// 10 s the runtime logs "no reply to the answer", counts it as delivered (no resend), drops
/// that connection (writing nothing more on it) and serves the next invocation on a new one.
pub(crate) fn unanswered_answer_counted_as_delivered(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let id = h.invoke(
        Invocation::new(r#"{"name":"Never"}"#)
            .deadline_ms(PAST_DEADLINE_MS)
            .answer(Answer::Never),
    );
    let after = h.invoke(Invocation::new(r#"{"name":"After"}"#));
    let o = h.outcome(&id);
    assert_response(&o, &id, br#""Hello Never!""#);
    assert_eq!(o.status_sent, 0);
    let next = h.outcome_within(&after, SLOW_WAIT);
    assert_response(&next, &after, br#""Hello After!""#);
    assert!(
        h.proc
            .wait_stderr_line(&["no reply to the answer", &id], WAIT),
        "{}",
        h.diag()
    );
    // The next poll came no sooner than the reply wait allows (lower bound only).
    let poll = h.next_poll_after(&o.request);
    let waited = poll.at.duration_since(o.request.at);
    assert!(
        waited >= REPLY_GRACE - Duration::from_millis(100),
        "polled again after {waited:?}\n{}",
        h.diag()
    );
    assert_ne!(poll.conn, o.request.conn, "{}", h.diag());
    assert_ne!(next.request.conn, o.request.conn, "{}", h.diag());
    // The runtime closed the unanswered connection, with nothing more written on it.
    assert!(
        h.server.wait_disconnect(o.request.conn, WAIT),
        "{}",
        h.diag()
    );
    let gone = h.server.disconnects();
    let gone = gone
        .iter()
        .find(|d| d.conn == o.request.conn)
        .expect("gone");
    assert!(gone.by_peer, "{gone:?}");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&after, 1), (&last, 1)]);
    h.expect_no_violations();
    h.expect_running();
}

/// SIGTERM while the runtime waits for the reply to an answer (graceful shutdown on): it runs
/// the shutdown hook and exits 0 well within the 10 s reply wait (DESIGN 6: within 500 ms; the
/// bound here is 3 s, for a loaded machine). Not for transports without SIGTERM handling.
pub(crate) fn sigterm_while_an_answer_is_unanswered(t: &Transport) {
    let mut h = Harness::start_with(
        t,
        Bin::Fail,
        ServerConfig::default(),
        &[("LAMINA_EXAMPLE_GRACEFUL", "1")],
    );
    let id = h.invoke(
        Invocation::new(r#"{"a":1}"#)
            .deadline_ms(PAST_DEADLINE_MS)
            .answer(Answer::Never),
    );
    let o = h.outcome(&id);
    assert_response(&o, &id, br#"{"a":1}"#);
    let signalled = Instant::now();
    h.proc.signal(SIGTERM);
    let status = h.proc.wait_exit(Duration::from_secs(3));
    let took = signalled.elapsed();
    let Some(status) = status else {
        panic!("still running 3 s after SIGTERM\n{}", h.diag());
    };
    assert_eq!(status.code(), Some(0), "{}", h.diag());
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(
        h.proc.stderr().contains("shutdown hook ran"),
        "{}",
        h.diag()
    );
    h.expect_answer_counts(&[(&id, 1)]);
    h.expect_no_violations();
}

// ---------------------------------------------------------------------------------------------
// 7. Interim (1xx) responses.

/// `100 Continue` and `103 Early Hints` before the `200` of `/next` and before the `202` of the
/// answer: skipped; every event served and answered once; nothing logged as malformed or
/// unreadable.
pub(crate) fn interim_responses_skipped(t: &Transport) {
    let mut h = Harness::start(t, Bin::Fail);
    let a = h.invoke(Invocation::new(r#"{"a":1}"#).fault(Fault::Interim(3)));
    let b = h.invoke(Invocation::new(r#"{"b":2}"#).answer(Answer::Interim(3)));
    let c = h.invoke(
        Invocation::new(r#"{"error":"c"}"#)
            .fault(Fault::Interim(1))
            .answer(Answer::Interim(2)),
    );
    assert_response(&h.outcome(&a), &a, br#"{"a":1}"#);
    assert_response(&h.outcome(&b), &b, br#"{"b":2}"#);
    assert_error(&h.outcome(&c), &c, "FailRequested");
    for id in [&a, &b, &c] {
        assert_eq!(h.outcome(id).status_sent, 202);
    }
    let marker = h.log_marker();
    h.expect_no_stderr("malformed");
    h.expect_no_stderr("could not be read");
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&c, 1), (&marker, 1), (&last, 1)]);
    h.expect_no_violations();
    h.expect_running();
}

// ---------------------------------------------------------------------------------------------
// 8. Bytes nobody asked for.

/// A whole fake `/next` response glued after the real one, in the same write
/// (`Fault::Trailing`): the fake is never served, the real one is answered once, and the
/// connection is replaced (the answer goes out on a new one).
pub(crate) fn fake_response_after_next(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let fake = "fake-after-next";
    let id = h.invoke(
        Invocation::new(r#"{"name":"Real"}"#).fault(Fault::Trailing(fake_next(fake, "Fake"))),
    );
    let o = h.outcome(&id);
    assert_response(&o, &id, br#""Hello Real!""#);
    let delivered_on = h.server.requests()[0].conn;
    assert_ne!(o.request.conn, delivered_on, "{}", h.diag());
    assert_eq!(h.server.unsolicited().len(), 1, "{}", h.diag());
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&id, &last], false);
    h.expect_no_violations();
    h.expect_running();
}

/// A whole fake `/next` response glued after the `202` to an answer (`Answer::Trailing`): it
/// is not taken for the reply to the next `GET /next`; that goes out on a new connection.
pub(crate) fn fake_response_after_answer(t: &Transport) {
    let mut h = Harness::start(t, Bin::Hello);
    let fake = "fake-after-answer";
    let id = h.invoke(
        Invocation::new(r#"{"name":"Real"}"#).answer(Answer::Trailing(fake_next(fake, "Fake"))),
    );
    let o = h.outcome(&id);
    assert_response(&o, &id, br#""Hello Real!""#);
    let last = h.sentinel();
    let poll = h.next_poll_after(&o.request);
    assert_ne!(poll.conn, o.request.conn, "{}", h.diag());
    h.expect_answer_counts(&[(&id, 1), (&last, 1)]);
    h.expect_only_runtime_requests(&[&id, &last], false);
    h.expect_no_violations();
    h.expect_running();
}

/// A fake `/next` response written by the server as soon as it accepts the first connection
/// (`unsolicited_on_accept`, limit 1).
///
/// What lamina can guarantee: those bytes race the runtime's first request on that fresh
/// connection, and bytes that arrive after the request was written cannot be told apart from its
/// reply, so the fake may be served (its answer then goes on that connection while the server
/// still holds the real `/next` open: a pipelining violation on connection 1 that no runtime
/// can avoid). Either way the runtime must not stay out of step: connection 1 is dropped (at the
/// latest when the reply to that answer times out, after 10 s), `/next` is polled on a new
/// connection, and every invocation queued from then on is answered exactly once, with nothing
/// amiss on any later connection.
pub(crate) fn fake_response_on_accept(t: &Transport) {
    let cfg = ServerConfig {
        unsolicited_on_accept: Some(fake_next("fake-on-accept", "Fake")),
        unsolicited_on_accept_limit: Some(1),
        ..ServerConfig::default()
    };
    let mut h = Harness::start_with(t, Bin::Hello, cfg, &[]);
    assert!(
        h.server.wait_disconnect(1, SLOW_WAIT),
        "connection 1 is never dropped\n{}",
        h.diag()
    );
    assert!(
        h.server
            .wait_for(WAIT, |r| r.iter().any(|r| is_next(r) && r.conn > 1)),
        "{}",
        h.diag()
    );
    let ids: Vec<String> = (0..3)
        .map(|i| h.invoke(Invocation::new(format!(r#"{{"name":"R{i}"}}"#))))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let o = h.outcome(id);
        assert_response(&o, id, format!(r#""Hello R{i}!""#).as_bytes());
        assert!(o.request.conn > 1, "{}", h.diag());
    }
    let last = h.sentinel();
    for id in ids.iter().chain([&last]) {
        assert_eq!(h.outcomes_for(id).len(), 1, "{}", h.diag());
    }
    // An answer for the fake, if it was served, never reached the server as a request.
    assert!(h.server.outcomes().len() == ids.len() + 1, "{}", h.diag());
    let later: Vec<_> = h
        .server
        .violations()
        .into_iter()
        .filter(|v| v.conn > 1)
        .collect();
    assert!(later.is_empty(), "{later:?}\n{}", h.diag());
    h.expect_running();
}

// ---------------------------------------------------------------------------------------------
// 9. Many headers.

/// A `/next` head with 85, 128 or 300 small headers is served normally (no fixed cap below what
/// the 16 KiB head holds).
pub(crate) fn many_headers_on_next(t: &Transport) {
    let h = Harness::start(t, Bin::Context);
    let mut ids = Vec::new();
    for n in [85, 128, 300] {
        let mut inv = Invocation::new("{}");
        for i in 0..n {
            inv = inv.header(format!("X-Extra-{i}"), format!("v{i}"));
        }
        ids.push(h.invoke(inv.header("Lambda-Runtime-Aws-Tenant-Id", format!("t{n}"))));
    }
    for (id, n) in ids.iter().zip([85, 128, 300]) {
        let o = h.outcome(id);
        assert_eq!(o.kind, OutcomeKind::Response, "{}", h.diag());
        let v = json(&o.request.body);
        assert_eq!(v["request_id"], id.as_str());
        assert_eq!(
            v["tenant_id"],
            format!("t{n}"),
            "the headers after the extras were read"
        );
    }
    let last = h.sentinel();
    h.expect_answer_counts(&[(&ids[0], 1), (&ids[1], 1), (&ids[2], 1), (&last, 1)]);
    h.expect_no_violations();
}

// ---------------------------------------------------------------------------------------------
// 10. An inherited trace id.

/// `_X_AMZN_TRACE_ID` inherited from the process environment never reaches a handler whose
/// event had no trace header: not the first one, not one after a traced one.
pub(crate) fn inherited_trace_id_never_reaches_a_handler(t: &Transport) {
    let inherited = "Root=1-65f00000-000000000000000000inherited;Sampled=1";
    let h = Harness::start_with(
        t,
        Bin::Context,
        ServerConfig::default(),
        &[("_X_AMZN_TRACE_ID", inherited)],
    );
    let traced = "Root=1-65f00000-0123456789abcdef01234567;Sampled=1";
    let a = h.invoke(Invocation::new("{}").omit("Lambda-Runtime-Trace-Id"));
    let b = h.invoke(Invocation::new("{}").trace_id(traced));
    let c = h.invoke(Invocation::new("{}").omit("Lambda-Runtime-Trace-Id"));
    for (id, want) in [(&a, None), (&b, Some(traced)), (&c, None)] {
        let v = json(&h.outcome(id).request.body);
        assert_eq!(v["env_trace_id"].as_str(), want, "{v}");
        assert_eq!(v["xray_trace_id"].as_str(), want, "{v}");
    }
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&c, 1), (&last, 1)]);
}

// ---------------------------------------------------------------------------------------------
// 11. Garbage without a request id, for a while.

/// `/next` answered with unusable bytes 9 times in a row (`garbage_next`): the runtime polls
/// again with backoff (10 ms doubling to 1 s; lower bounds only, with slack for a loaded machine:
/// each gap between polls at least half its pause, all of them together at least 90% of the
/// pauses), logs at most about one line a second (counted against the time it took, with
/// slack), then serves the queued invocation.
pub(crate) fn garbage_next_backs_off(t: &Transport) {
    const GARBAGE: usize = 9;
    let mut h = Harness::start(t, Bin::Hello);
    h.server.garbage_next(GARBAGE, GARBAGE_NEXT);
    let id = h.invoke(Invocation::new(r#"{"name":"Patient"}"#));
    let o = h.outcome_within(&id, SLOW_WAIT);
    assert_response(&o, &id, br#""Hello Patient!""#);
    let polls = h.server.next_poll_times();
    let garbage = h.server.garbage_next_times();
    assert_eq!(garbage.len(), GARBAGE, "{}", h.diag());
    assert_eq!(
        polls[..GARBAGE],
        garbage[..],
        "the garbage went to the first polls"
    );
    let pauses: Vec<Duration> = (0..GARBAGE)
        .map(|k| Duration::from_millis((10u64 << k).min(1_000)))
        .collect();
    for (k, pause) in pauses.iter().enumerate() {
        let gap = polls[k + 1].duration_since(polls[k]);
        assert!(
            gap >= *pause / 2,
            "gap {} was {gap:?}, for a pause of {pause:?}\n{}",
            k + 1,
            h.diag()
        );
    }
    let total = polls[GARBAGE].duration_since(polls[0]);
    let paused: Duration = pauses.iter().sum();
    assert!(
        total >= paused * 9 / 10,
        "{total:?} for {paused:?} of pauses"
    );
    let marker = h.log_marker();
    let err = h.proc.stderr();
    let lines = err
        .lines()
        .filter(|l| l.contains("malformed /next response without a request id"))
        .count();
    let allowed = total.as_secs() as usize + 2;
    assert!(
        (1..=allowed).contains(&lines),
        "{lines} lines about unusable answers in {total:?} (at most {allowed})\n{}",
        h.diag()
    );
    let last = h.sentinel();
    h.expect_answer_counts(&[(&id, 1), (&marker, 1), (&last, 1)]);
    h.expect_no_violations();
    h.expect_running();
}

/// Unusable `/next` answers (no request id) that come slowly, 150 ms after their poll: the pause
/// before the next poll starts when the answer arrived, so each gap between polls is at least
/// the delay plus the pause (10, 20, 40 ms), never the delay alone (a pause timed from before
/// the wait for the answer would be spent by the time it arrives).
pub(crate) fn slow_unusable_answers_still_back_off(t: &Transport) {
    const DELAY: Duration = Duration::from_millis(150);
    const ROUNDS: usize = 3;
    let mut h = Harness::start(t, Bin::Hello);
    for _ in 0..ROUNDS {
        h.invoke(
            Invocation::new(r#"{"name":"X"}"#)
                .omit("Lambda-Runtime-Aws-Request-Id")
                .fault(Fault::Delay(DELAY)),
        );
    }
    let last = h.sentinel();
    let polls = h.server.next_poll_times();
    for k in 0..ROUNDS {
        let pause = Duration::from_millis(10 << k);
        let gap = polls[k + 1].duration_since(polls[k]);
        assert!(
            gap >= DELAY + pause * 9 / 10,
            "gap {} was {gap:?}: the answer took {DELAY:?}, then a pause of {pause:?}\n{}",
            k + 1,
            h.diag()
        );
    }
    h.expect_answer_counts(&[(&last, 1)]);
    h.expect_no_violations();
    h.expect_running();
}
