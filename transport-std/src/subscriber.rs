//! A `tracing` subscriber that writes lamina's lines (the `tracing` feature).
//!
//! Installed at start unless the program installed a global subscriber of its own. What it
//! writes:
//!
//! - the same line format as lamina's logger (see [`crate::log`]): text
//!   `timestamp<TAB>requestId<TAB>LEVEL<TAB>message key=value …`, or with
//!   `AWS_LAMBDA_LOG_FORMAT=JSON` one object per line whose keys are `timestamp`, `level`,
//!   `message`, then the event's own fields as JSON values (`{"order_id":42,"paid":true}`,
//!   strings escaped, other values by their `Debug`), then `requestId` and `xrayTraceId`;
//! - levels and targets filtered by `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG` directives, as the
//!   `log` facade is.
//!
//! The runtime enters one span per invocation, `invocation` (target `lamina`, level `ERROR` so
//! that no level filter hides it), with the fields `requestId` and `xrayTraceId`. Any span
//! with a `requestId` field attaches it to the lines written inside it (the `log` facade's too),
//! on whatever thread it is entered: `tokio::spawn(fut.in_current_span())` (or
//! [`crate::spawn`]) carries the invocation into a task. Other fields of spans are not
//! written.
//!
//! A hand-written subscriber rather than `tracing-subscriber`'s fmt layer: it keeps the line
//! format byte for byte the one lamina's logger writes, and costs a fraction of the code.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use lamina_core::context::MAX_TRACE_ID;
use lamina_core::{Context, Id, LogLevel};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, EnteredSpan, Id as SpanId, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_core::span::Current;

use crate::log::{self, Body, Line, filter};

/// Enters the invocation's span on this thread, until the guard is dropped.
pub(crate) fn enter(ctx: &Context) -> EnteredSpan {
    let span = tracing::error_span!(
        target: "lamina",
        "invocation",
        requestId = ctx.request_id.as_str(),
        xrayTraceId = tracing::field::Empty
    );
    if let Some(trace) = ctx.xray_trace_id.as_deref() {
        span.record("xrayTraceId", trace);
    }
    span.entered()
}

/// Installs the subscriber as the global default, unless the program has its own.
pub(crate) fn install() {
    let _ = tracing::subscriber::set_global_default(Lamina::default());
}

struct SpanData {
    metadata: &'static Metadata<'static>,
    refs: usize,
    request_id: Option<Id>,
    /// Bounded like the context's: a span per invocation allocates nothing beyond the map's
    /// (reused) slot.
    xray_trace_id: Option<heapless::String<MAX_TRACE_ID>>,
}

/// The subscriber.
#[derive(Default)]
struct Lamina {
    spans: Mutex<HashMap<u64, SpanData>>,
    next: AtomicU64,
}

thread_local! {
    /// The spans entered on this thread, innermost last, each with the request id its entry
    /// replaced (when it carries one).
    static STACK: RefCell<Vec<(SpanId, Option<Id>)>> = const { RefCell::new(Vec::new()) };
}

fn level(l: &Level) -> LogLevel {
    match *l {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

impl Lamina {
    fn spans(&self) -> MutexGuard<'_, HashMap<u64, SpanData>> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The trace id of the innermost span on this thread that has one.
    fn trace_id(&self) -> Option<heapless::String<MAX_TRACE_ID>> {
        STACK.with(|stack| {
            let stack = stack.try_borrow().ok()?;
            let spans = self.spans();
            stack
                .iter()
                .rev()
                .find_map(|(id, _)| spans.get(&id.into_u64())?.xray_trace_id.clone())
        })
    }
}

/// Reads the fields of a span that matter here.
struct SpanFields<'a>(&'a mut SpanData);

impl Visit for SpanFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "requestId" => self.0.request_id = Id::new(value.as_bytes()),
            "xrayTraceId" => self.0.xray_trace_id = heapless::String::try_from(value).ok(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "requestId" | "xrayTraceId") {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

impl Subscriber for Lamina {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        log::enabled_for(level(metadata.level()), metadata.target())
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        use tracing::level_filters::LevelFilter;
        Some(match filter::most_verbose() {
            m if m == filter::OFF => LevelFilter::OFF,
            m if m <= LogLevel::Trace as u8 => LevelFilter::TRACE,
            m if m <= LogLevel::Debug as u8 => LevelFilter::DEBUG,
            m if m <= LogLevel::Info as u8 => LevelFilter::INFO,
            m if m <= LogLevel::Warn as u8 => LevelFilter::WARN,
            _ => LevelFilter::ERROR,
        })
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> SpanId {
        let mut data = SpanData {
            metadata: attrs.metadata(),
            refs: 1,
            request_id: None,
            xray_trace_id: None,
        };
        attrs.record(&mut SpanFields(&mut data));
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.spans().insert(id, data);
        SpanId::from_u64(id)
    }

    fn record(&self, span: &SpanId, values: &Record<'_>) {
        if let Some(data) = self.spans().get_mut(&span.into_u64()) {
            values.record(&mut SpanFields(data));
        }
    }

    fn record_follows_from(&self, _span: &SpanId, _follows: &SpanId) {}

    fn event(&self, event: &Event<'_>) {
        let trace_id = self.trace_id();
        log::write(
            level(event.metadata().level()),
            None,
            &EventBody(event, trace_id.as_deref()),
        );
    }

    fn enter(&self, span: &SpanId) {
        let request_id = self
            .spans()
            .get(&span.into_u64())
            .and_then(|d| d.request_id.clone());
        let replaced = request_id.map(|mut id| {
            log::swap_request_id(&mut id);
            id
        });
        STACK.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.push((span.clone(), replaced));
            }
        });
    }

    fn exit(&self, span: &SpanId) {
        let entry = STACK.with(|s| {
            let mut s = s.try_borrow_mut().ok()?;
            let at = s.iter().rposition(|(id, _)| id == span)?;
            Some(s.remove(at))
        });
        if let Some((_, Some(mut previous))) = entry {
            log::swap_request_id(&mut previous);
        }
    }

    fn clone_span(&self, span: &SpanId) -> SpanId {
        if let Some(data) = self.spans().get_mut(&span.into_u64()) {
            data.refs += 1;
        }
        span.clone()
    }

    fn try_close(&self, span: SpanId) -> bool {
        let mut spans = self.spans();
        let key = span.into_u64();
        match spans.get_mut(&key) {
            Some(data) if data.refs > 1 => {
                data.refs -= 1;
                false
            }
            Some(_) => {
                spans.remove(&key);
                true
            }
            None => false,
        }
    }

    fn current_span(&self) -> Current {
        let top = STACK.with(|s| s.try_borrow().ok()?.last().map(|(id, _)| id.clone()));
        match top.and_then(|id| Some((self.spans().get(&id.into_u64())?.metadata, id))) {
            Some((metadata, id)) => Current::new(id, metadata),
            None => Current::none(),
        }
    }
}

/// An event as a line's body, with the trace id of the span it is in.
struct EventBody<'a, 'e>(&'a Event<'e>, Option<&'a str>);

impl Body for EventBody<'_, '_> {
    fn trace_id(&self) -> Option<&str> {
        self.1
    }

    fn message(&self, line: &mut Line) {
        self.0.record(&mut Message(line));
    }

    fn fields(&self, line: &mut Line, json: bool) {
        self.0.record(&mut Fields { line, json });
    }
}

/// Writes the `message` field only.
struct Message<'a>(&'a mut Line);

impl Visit for Message<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = self.0.write_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            // The message is `format_args!`, whose `Debug` is its text.
            let _ = write!(self.0, "{value:?}");
        }
    }
}

/// Writes every field but `message`: `,"key":value` in JSON, ` key=value` in text.
struct Fields<'a> {
    line: &'a mut Line,
    json: bool,
}

impl Fields<'_> {
    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        // `log.*` fields are what tracing-log adds for a `log` record.
        if name == "message" || name.starts_with("log.") {
            return false;
        }
        if self.json {
            self.line.raw(",\"");
            self.line.escape = true;
            let _ = self.line.write_str(name);
            self.line.escape = false;
            self.line.raw("\":");
        } else {
            self.line.raw(" ");
            let _ = self.line.write_str(name);
            self.line.raw("=");
        }
        true
    }

    /// A value written as it is (a number or a boolean: JSON as well as text).
    fn plain(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.key(field) {
            self.line.raw_fmt(value);
        }
    }

    fn string(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if !self.key(field) {
            return;
        }
        if self.json {
            self.line.raw("\"");
            self.line.escape = true;
            let _ = self.line.write_fmt(value);
            self.line.escape = false;
            self.line.raw("\"");
        } else {
            let _ = self.line.write_fmt(value);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, format_args!("{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, format_args!("{value}"));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.plain(field, format_args!("{value}"));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.plain(field, format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.plain(field, format_args!("{value}"));
        } else {
            // JSON has no NaN or infinity.
            self.string(field, format_args!("{value}"));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, format_args!("{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.string(field, format_args!("{value}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.string(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.string(field, format_args!("{value:?}"));
    }
}
