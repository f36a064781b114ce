//! Streamed responses under faults (issue 13, items 1 to 3; DESIGN 6 "Streams"): a stream owns
//! its connection from head to final chunk or trailers; once it ends (finished, failed, reset or
//! refused) nothing more is written to it, and the next `/next` goes out on a clean connection.
//! For the transports that stream (std, mio).

use lamina_server::{Answer, Invocation, OutcomeKind};

use crate::common::*;

/// Checks that after the streamed answer `o` nothing more was written on its connection, that
/// the runtime closed it, and that the next `/next` went out on another connection.
fn expect_stream_connection_left_alone(h: &Harness, o: &lamina_server::Outcome) {
    let poll = h.next_poll_after(&o.request);
    assert_ne!(poll.conn, o.request.conn, "{}", h.diag());
    assert!(
        h.server.wait_disconnect(o.request.conn, WAIT),
        "the stream's connection is never closed\n{}",
        h.diag()
    );
    h.expect_no_violations();
}

/// Item 1: After a streamed response, finished or failed in its trailers, no stray byte reaches the
/// idle connection (the server records any as a violation until the runtime closes it), and the
/// next invocation is served on a clean connection.
pub(crate) fn stream_then_a_clean_connection(t: &Transport) {
    for bin in [Bin::Stream, Bin::StreamFail] {
        let mut h = Harness::start(t, bin);
        let ids: Vec<String> = (0..2)
            .map(|_| h.invoke(Invocation::new(r#"{"pause_ms":0}"#)))
            .collect();
        for id in &ids {
            let o = h.outcome(id);
            match bin {
                Bin::Stream => assert_response(&o, id, STREAMED.as_bytes()),
                _ => assert_failed_stream(&o, id),
            }
            assert!(o.request.complete, "{o:?}");
            expect_stream_connection_left_alone(&h, &o);
        }
        let last = h.sentinel();
        h.expect_answer_counts(&[(&ids[0], 1), (&ids[1], 1), (&last, 1)]);
        h.expect_only_runtime_requests(&[&ids[0], &ids[1], &last], false);
        h.expect_no_violations();
        h.expect_running();
    }
}

/// Item 2: A stream that fails midway (after 3 chunks, 10 ms apart): its error trailers arrive
/// complete, then the runtime polls `/next` and serves the next invocation.
pub(crate) fn failed_stream_then_next_served(t: &Transport) {
    let mut h = Harness::start(t, Bin::StreamFail);
    let a = h.invoke(Invocation::new(r#"{"pause_ms":10}"#));
    let b = h.invoke(Invocation::new(r#"{"pause_ms":10}"#));
    let oa = h.outcome(&a);
    assert_failed_stream(&oa, &a);
    expect_stream_connection_left_alone(&h, &oa);
    assert_failed_stream(&h.outcome(&b), &b);
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&last, 1)]);
    h.expect_running();
}

/// Item 2: The connection reset midway through a stream (`Answer::ResetAfterChunks`: after 2 chunks,
/// while the handler is still writing; and after the head, before any chunk was read): the
/// runtime does not hang, never resends a stream, and serves the next invocation on a new
/// connection.
pub(crate) fn stream_reset_midway(t: &Transport) {
    let mut h = Harness::start(t, Bin::Stream);
    let a = h.invoke(Invocation::new(r#"{"pause_ms":20}"#).answer(Answer::ResetAfterChunks(2)));
    let b = h.invoke(Invocation::new(r#"{"pause_ms":0}"#).answer(Answer::ResetAfterChunks(1)));
    let after = h.invoke(Invocation::new(r#"{"pause_ms":0}"#));
    let o = h.outcome(&after);
    assert_response(&o, &after, STREAMED.as_bytes());
    for id in [&a, &b] {
        let cut = h.outcome(id);
        assert_eq!(cut.status_sent, 0, "{}", h.diag());
        assert!(!cut.request.complete, "{cut:?}");
        let poll = h.next_poll_after(&cut.request);
        assert_ne!(poll.conn, cut.request.conn, "{}", h.diag());
    }
    let last = h.sentinel();
    h.expect_answer_counts(&[(&a, 1), (&b, 1), (&after, 1), (&last, 1)]);
    h.expect_no_violations();
    h.expect_running();
}

/// Item 3: A streamed response answered `413` (sent as soon as its head arrived; the body is still
/// read): `/error` `Function.ResponseSizeTooLarge` for that invocation, on another connection;
/// the process keeps running and serves the next invocation.
pub(crate) fn stream_answered_413(t: &Transport) {
    let mut h = Harness::start(t, Bin::Stream);
    let a = h.invoke(Invocation::new(r#"{"pause_ms":0}"#).answer(Answer::Status(413)));
    let b = h.invoke(Invocation::new(r#"{"pause_ms":10}"#).answer(Answer::Status(413)));
    let last = h.sentinel();
    for id in [&a, &b] {
        let answers = h.outcomes_for(id);
        assert_eq!(answers.len(), 2, "{}", h.diag());
        // The server records the stream once it has drained it, which can be after the
        // runtime's /error (sent as soon as the 413 was read) was recorded: found by kind.
        let by_kind = |kind| answers.iter().find(|o| o.kind == kind);
        let (Some(stream), Some(error)) =
            (by_kind(OutcomeKind::Response), by_kind(OutcomeKind::Error))
        else {
            panic!("a refused stream and an /error expected\n{}", h.diag())
        };
        assert_eq!(stream.status_sent, 413);
        assert_error(error, id, "Function.ResponseSizeTooLarge");
        assert_ne!(error.request.conn, stream.request.conn, "{}", h.diag());
    }
    h.expect_answer_counts(&[(&a, 2), (&b, 2), (&last, 1)]);
    h.expect_only_runtime_requests(&[&a, &b, &last], false);
    h.expect_no_violations();
    h.expect_running();
}
