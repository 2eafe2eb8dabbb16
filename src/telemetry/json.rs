//! The JSON log line: one `tracing` layer that writes the flat schema of
//! docs/observability.md straight into a reused per-thread buffer.
//!
//! A line is `timestamp`, `level`, `target`, `message`, then the event's other fields, then
//! the fields of the span the event belongs to (the request's) and that span's `name`, all
//! at the top level. A span's fields are written as JSON once, when the span is made (or a
//! field recorded), and copied into each line logged inside it.
//!
//! Why by hand: a general-purpose JSON formatter (`json-subscriber`, which this replaces)
//! collects an event's fields as `serde_json::Value`s in a map before writing them, a
//! `String` per string field, a map node per field, and formats the timestamp through `fmt`
//! for every line; the request line cost about 12,000 instructions that way, the largest
//! single cost of a `/healthz` request (docs/performance.md has the figures). Here a line
//! allocates nothing once its thread's buffer has grown: keys and strings are copied after
//! one scan for bytes that need escaping, numbers go through `itoa` and `serde_json`, and
//! the timestamp's date and time are formatted once a second per thread.
//!
//! Escaping is JSON's (RFC 8259 §7), byte for byte what `serde_json` writes: `"` and `\`,
//! the short escapes `\b \f \n \r \t`, `\u00XX` for the other control characters; all else,
//! being a `&str`, is valid UTF-8 already and copied. A property test checks every line
//! against `json-subscriber`'s output for the same events.

use std::cell::RefCell;
use std::fmt;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The layer writing JSON lines to `W`.
pub struct JsonLines<W> {
    make_writer: W,
}

impl<W> JsonLines<W> {
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// A span's fields as JSON members, each `,"key":value`, with where each starts so that a
/// field recorded again replaces its earlier value.
struct SpanFields {
    json: String,
    starts: Vec<(&'static str, usize)>,
}

impl SpanFields {
    fn with_capacity(fields: usize) -> Self {
        Self {
            json: String::with_capacity(48 * fields + 32),
            starts: Vec::with_capacity(fields + 1),
        }
    }

    /// Begins the member `key`, dropping an earlier value of it; returns the buffer to
    /// write the value into.
    fn member(&mut self, key: &'static str) -> &mut String {
        if let Some(at) = self.starts.iter().position(|(k, _)| *k == key) {
            let start = self.starts[at].1;
            let end = self.starts.get(at + 1).map_or(self.json.len(), |s| s.1);
            self.json.replace_range(start..end, "");
            self.starts.remove(at);
            for later in &mut self.starts[at..] {
                later.1 -= end - start;
            }
        }
        self.starts.push((key, self.json.len()));
        let json = &mut self.json;
        json.push(',');
        push_str(json, key);
        json.push(':');
        json
    }
}

impl Visit for SpanFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        push_f64(self.member(field.name()), value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field.name())
            .push_str(itoa::Buffer::new().format(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field.name())
            .push_str(itoa::Buffer::new().format(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field.name())
            .push_str(if value { "true" } else { "false" });
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        push_str(self.member(field.name()), value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        push_debug(self.member(name.strip_prefix("r#").unwrap_or(name)), value);
    }
}

/// One line being written: the line itself (the message goes straight in) and the event's
/// other fields, appended after the message.
#[derive(Default)]
struct Line {
    out: String,
    fields: String,
    clock: Clock,
}

/// An event's fields: `message` into the line, the others into `fields`.
struct EventFields<'a> {
    out: &'a mut String,
    fields: &'a mut String,
}

impl EventFields<'_> {
    fn member(&mut self, key: &str) -> &mut String {
        let json = if key == "message" {
            &mut *self.out
        } else {
            &mut *self.fields
        };
        json.push(',');
        push_str(json, key);
        json.push(':');
        json
    }
}

impl Visit for EventFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        push_f64(self.member(field.name()), value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field.name())
            .push_str(itoa::Buffer::new().format(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field.name())
            .push_str(itoa::Buffer::new().format(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field.name())
            .push_str(if value { "true" } else { "false" });
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        push_str(self.member(field.name()), value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        push_debug(self.member(field.name()), value);
    }
}

thread_local! {
    static LINE: RefCell<Line> = RefCell::new(Line::default());
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::with_capacity(attrs.metadata().fields().len());
        attrs.record(&mut fields);
        push_str(fields.member("name"), attrs.metadata().name());
        span.extensions_mut().replace(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(fields);
            // The span's name stays the last word on `name`, as when it was made.
            let name = span.metadata().name();
            push_str(fields.member("name"), name);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let write = |line: &mut Line| {
            line.write(event, &ctx);
            let _ = self
                .make_writer
                .make_writer_for(event.metadata())
                .write_all(line.out.as_bytes());
        };
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => write(&mut line),
            // A field's `Debug` that logs: a line of its own, in a buffer of its own.
            Err(_) => write(&mut Line::default()),
        });
    }
}

impl Line {
    /// Writes `event`'s whole line, newline included, into `self.out`.
    fn write<S>(&mut self, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Self { out, fields, clock } = self;
        out.clear();
        fields.clear();
        let metadata = event.metadata();
        out.push_str("{\"timestamp\":\"");
        clock.now(out);
        out.push_str("\",\"level\":\"");
        out.push_str(level(metadata.level()));
        out.push_str("\",\"target\":");
        push_str(out, metadata.target());
        event.record(&mut EventFields {
            out: &mut *out,
            fields: &mut *fields,
        });
        out.push_str(fields);
        if let Some(span) = ctx.event_span(event)
            && let Some(span_fields) = span.extensions().get::<SpanFields>()
        {
            out.push_str(&span_fields.json);
        } else {
            // Outside any span, the request the line was logged in, if any.
            let _ = REQUEST.try_with(|request| out.push_str(&request.json));
        }
        out.push_str("}\n");
    }
}

fn level(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// The wall clock as RFC 3339 UTC with microseconds, `2026-05-01T10:00:00.123456Z` (what
/// `tracing-subscriber`'s `SystemTime` writes), with the date and time up to the second
/// formatted once per second.
#[derive(Default)]
struct Clock {
    second: Option<u64>,
    prefix: String,
}

impl Clock {
    fn now(&mut self, out: &mut String) {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.write(since_epoch.as_secs(), since_epoch.subsec_micros(), out);
    }

    fn write(&mut self, seconds: u64, micros: u32, out: &mut String) {
        if self.second != Some(seconds) {
            self.prefix.clear();
            let time = i64::try_from(seconds)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let _ = fmt::Write::write_fmt(
                &mut self.prefix,
                format_args!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
                    time.year(),
                    u8::from(time.month()),
                    time.day(),
                    time.hour(),
                    time.minute(),
                    time.second()
                ),
            );
            self.second = Some(seconds);
        }
        out.push_str(&self.prefix);
        // Six digits, zero-padded: 1_000_000 + micros has seven, the first a `1`.
        let mut digits = itoa::Buffer::new();
        out.push_str(&digits.format(1_000_000 + micros.min(999_999))[1..]);
        out.push('Z');
    }
}

/// `value` as a JSON number; `null` when it has none (NaN, infinities), as `serde_json`.
fn push_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        // serde_json's shortest round-trip form (`1.0`, `1e300`), at most 24 ASCII bytes.
        let mut bytes = [0u8; 32];
        let mut cursor = std::io::Cursor::new(&mut bytes[..]);
        let written = serde_json::to_writer(&mut cursor, &value).is_ok();
        let len = usize::try_from(cursor.position()).unwrap_or(0);
        match std::str::from_utf8(&bytes[..len]) {
            Ok(number) if written => out.push_str(number),
            _ => out.push_str("null"),
        }
    } else {
        out.push_str("null");
    }
}

/// `value`'s `Debug` form as a JSON string, escaped as it is formatted.
fn push_debug(out: &mut String, value: &dyn fmt::Debug) {
    out.push('"');
    let _ = fmt::Write::write_fmt(&mut Escaped(out), format_args!("{value:?}"));
    out.push('"');
}

/// `value` as a JSON string.
pub(crate) fn push_str(out: &mut String, value: &str) {
    out.push('"');
    push_escaped(out, value);
    out.push('"');
}

/// A `fmt::Write` that escapes what it is given for inside a JSON string.
struct Escaped<'a>(&'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_escaped(self.0, s);
        Ok(())
    }
}

tokio::task_local! {
    /// The fields of the request whose future is running: set by [`in_request`].
    static REQUEST: RequestFields;
}

/// The fields of one request that every line logged while it runs carries, written as JSON
/// members once, when the request arrives: what a `request` span's fields would be, without
/// a span.
///
/// A span costs the registry a slot, the filter a check, and an enter and an exit for
/// every poll of the request's future; a task-local costs a swap of a thread-local per
/// poll. The HTTP layer makes one of these per request ([`in_request`]) when logs are
/// JSON; the text format, whose formatter reads spans only, gets a span instead.
pub struct RequestFields {
    json: String,
    /// A record of the request (its audit event) held back by [`defer_record`], to be
    /// written as the request's one line by [`end_request`].
    record: RefCell<Option<Vec<u8>>>,
}

impl RequestFields {
    /// No fields yet; room for the usual ones.
    pub fn new() -> Self {
        Self {
            json: String::with_capacity(192),
            record: RefCell::new(None),
        }
    }

    /// Adds the string field `key` (a name from the documented schema: never escaped).
    pub fn str(&mut self, key: &'static str, value: &str) -> &mut Self {
        debug_assert!(!key.bytes().any(needs_escape));
        self.json.push_str(",\"");
        self.json.push_str(key);
        self.json.push_str("\":");
        push_str(&mut self.json, value);
        self
    }

    /// Adds the field `key` as the JSON string of `value`'s `Display` (an address).
    pub fn display(&mut self, key: &'static str, value: &dyn fmt::Display) -> &mut Self {
        debug_assert!(!key.bytes().any(needs_escape));
        self.json.push_str(",\"");
        self.json.push_str(key);
        self.json.push_str("\":\"");
        let _ = fmt::Write::write_fmt(&mut Escaped(&mut self.json), format_args!("{value}"));
        self.json.push('"');
        self
    }
}

impl Default for RequestFields {
    fn default() -> Self {
        Self::new()
    }
}

/// A request whose future is dropped before [`end_request`] (a client that left) still
/// writes the record it held back: nothing acknowledged to the audit trail is lost.
impl Drop for RequestFields {
    fn drop(&mut self) {
        if let Some(line) = self.record.get_mut().take() {
            super::json_line(&line);
        }
    }
}

/// Holds back `line` (one JSON object and its newline, already on the log stream's
/// schema) to be written by [`end_request`] as the request's one line, with the request's
/// route and latency added. Outside a request ([`in_request`]), gives `line` back to be
/// written at once. A second record in one request writes the first.
pub fn defer_record(line: Vec<u8>) -> Result<(), Vec<u8>> {
    let mut line = Some(line);
    let _ = REQUEST.try_with(|request| {
        let earlier = std::mem::replace(&mut *request.record.borrow_mut(), line.take());
        if let Some(earlier) = earlier {
            super::json_line(&earlier);
        }
    });
    line.map_or(Ok(()), Err)
}

/// Writes the record the request held back ([`defer_record`]) with `route` and
/// `latency_us` added before its closing brace: the request's access record and its audit
/// record in one line. False, writing nothing, when no record was held back.
pub fn end_request(route: &str, latency_us: u64) -> bool {
    let Ok(Some(mut line)) = REQUEST.try_with(|request| request.record.borrow_mut().take()) else {
        return false;
    };
    if !line.ends_with(b"}\n") {
        super::json_line(&line);
        return false;
    }
    line.truncate(line.len() - 2);
    let mut tail = String::with_capacity(64);
    tail.push_str(",\"route\":");
    push_str(&mut tail, route);
    tail.push_str(",\"latency_us\":");
    tail.push_str(itoa::Buffer::new().format(latency_us));
    tail.push_str("}\n");
    line.extend_from_slice(tail.as_bytes());
    super::json_line(&line);
    true
}

/// Runs `future` as request `fields`'s: every JSON line it logs outside a span carries
/// those fields, then `"name":"request"` (as a `request` span's lines do).
pub async fn in_request<F: Future>(mut fields: RequestFields, future: F) -> F::Output {
    fields.json.push_str(",\"name\":\"request\"");
    REQUEST.scope(fields, future).await
}

/// Whether byte `b` must be escaped inside a JSON string.
const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `word` must be escaped: a byte below 0x20, a `"` or a
/// `\` (exact tests for "some byte is below n" and "some byte is zero", from Sean
/// Anderson's Bit Twiddling Hacks). Bytes of multi-byte UTF-8 characters (0x80 and up)
/// never match.
const fn word_needs_escape(word: u64) -> bool {
    const fn has_zero(v: u64) -> bool {
        v.wrapping_sub(ONES) & !v & HIGHS != 0
    }
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    below_space || has_zero(word ^ (ONES * b'"' as u64)) || has_zero(word ^ (ONES * b'\\' as u64))
}

/// Appends `value` escaped for inside a JSON string. Eight bytes are checked at a time, and
/// runs that need nothing are copied whole: a log line's strings (ids, routes, addresses)
/// almost never need escaping, and a byte at a time was the largest cost of a line.
fn push_escaped(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("a slice of eight bytes"));
            if !word_needs_escape(word) {
                at += 8;
                continue;
            }
        }
        // Some byte of these eight (or of the last few) needs escaping: one at a time.
        let end = (at + 8).min(bytes.len());
        for (i, &b) in bytes.iter().enumerate().take(end).skip(at) {
            if needs_escape(b) {
                // `i` is an ASCII byte's index, so a char boundary.
                out.push_str(&value[copied..i]);
                push_escape(out, b);
                copied = i + 1;
            }
        }
        at = end;
    }
    out.push_str(&value[copied..]);
}

/// The escape of byte `b`, one that [`needs_escape`], as `serde_json` writes it.
fn push_escape(out: &mut String, b: u8) {
    match b {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests;
