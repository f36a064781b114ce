//! The shared integration suite: each case is a function of a [`Transport`] (the paths of its
//! example binaries) that runs them against the fake Runtime API (`lamina-server`), one case per
//! promise of DESIGN sections 2, 3, 5 and 6. [`suite!`] instantiates the cases for one transport
//! as a module of `#[test]`s, e.g. `on_std::handler_error`:
//!
//! - `examples/tests/suite.rs`: `on_std` and `on_mio` (`cargo test -p lamina-examples --test
//!   suite on_mio::`);
//! - `examples/tokio-transport/tests/suite.rs`: `on_tokio`, which includes this directory and
//!   `../common` through `#[path]`.
//!
//! Files: `contract.rs` (section 2), `faults.rs` (sections 3 and 5), `hostile.rs` (section 6,
//! issue 13), `streaming.rs` (streams under faults, issue 13).
//!
//! [`Transport`]: crate::common::Transport

mod contract;
mod faults;
mod hostile;
mod streaming;

pub(crate) use contract::*;
pub(crate) use faults::*;
pub(crate) use hostile::*;
pub(crate) use streaming::*;

/// `suite!(module, TRANSPORT)`: one `#[test]` per case every transport runs, in `mod module`;
/// `suite!(module, TRANSPORT, full)`: also the cases that need response streaming and SIGTERM
/// handling (graceful shutdown), which the std and mio transports have.
macro_rules! suite {
    ($module:ident, $transport:expr) => {
        $crate::cases::suite!(@cases $module, $transport, []);
    };
    ($module:ident, $transport:expr, full) => {
        $crate::cases::suite!(@cases $module, $transport, [
            // Issue 13, items 1-3: streamed responses.
            stream_then_a_clean_connection,
            failed_stream_then_next_served,
            stream_reset_midway,
            stream_answered_413,
            // Issue 13, item 6: SIGTERM while an answer's reply is awaited.
            sigterm_while_an_answer_is_unanswered,
        ]);
    };
    (@cases $module:ident, $transport:expr, [$($extra:ident),* $(,)?]) => {
        $crate::cases::suite!(@tests $module, $transport, [
            // Section 2: the contract.
            hello_roundtrip,
            echo_raw_bytes,
            large_event_echoed,
            path_prefix_and_http_scheme,
            cargo_lambda_style,
            ok_200_empty_answers_accepted,
            deadline_in_1970_passed_as_is,
            client_context_plain_json,
            client_context_base64,
            client_context_unparseable_is_dropped,
            cognito_identity,
            context_fields,
            header_names_case_insensitive,
            survives_a_freeze,
            snap_start_restores_before_the_first_next,
            invocation_id_echoed_on_response,
            invocation_id_echoed_on_error,
            invocation_id_invalid,
            // Sections 3 and 5: faults.
            request_id_with_slash_never_reflected,
            request_id_with_cr_never_reflected,
            request_id_too_long,
            trace_id_env_per_invocation,
            oversized_head_with_known_id,
            oversized_head_without_id,
            invalid_deadline_with_known_id,
            missing_deadline_with_known_id,
            missing_request_id,
            garbage_head,
            truncated_head,
            connection_closed_mid_next,
            connection_reset_mid_next,
            closed_mid_body,
            chunked_next_body,
            event_over_max,
            response_over_max,
            answer_413,
            answer_410,
            answer_400_403,
            answer_500_to_response,
            answer_500_to_error,
            next_403,
            next_500,
            resend_once_after_lost_response,
            resend_once_after_lost_error,
            init_failure,
            invalid_memory_size,
            runtime_api_missing,
            runtime_api_unparseable,
            connection_refused,
            handler_error,
            handler_error_json_escaping,
            handler_panic_keeps_serving,
            invalid_event,
            // Section 6 (issue 13): a hostile or broken Runtime API.
            early_answer_to_a_large_response,
            connection_close_on_every_next,
            connection_close_then_lost_answer_resent_once,
            unanswered_answer_counted_as_delivered,
            interim_responses_skipped,
            fake_response_after_next,
            fake_response_after_answer,
            fake_response_on_accept,
            many_headers_on_next,
            inherited_trace_id_never_reaches_a_handler,
            garbage_next_backs_off,
            slow_unusable_answers_still_back_off,
            $($extra,)*
        ]);
    };
    (@tests $module:ident, $transport:expr, [$($case:ident),* $(,)?]) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $crate::cases::$case(&$transport)
                }
            )*
        }
    };
}

pub(crate) use suite;
