//! Every line parses as JSON and says what `json-subscriber` (configured as the service
//! configured it) says for the same events, field for field, whatever the values hold.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use serde_json::{Map, Value};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

use super::*;

/// A `MakeWriter` the test reads back.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("unpoisoned").extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.0.lock().expect("unpoisoned"));
        String::from_utf8(bytes).expect("lines are UTF-8")
    }
}

fn ours(capture: &Capture) -> Dispatch {
    Dispatch::new(tracing_subscriber::registry().with(JsonLines::new(capture.clone())))
}

/// The configuration the service had with `json-subscriber`.
fn reference(capture: &Capture) -> Dispatch {
    let mut json = json_subscriber::JsonLayer::new(capture.clone());
    json.with_timer("timestamp", tracing_subscriber::fmt::time::SystemTime)
        .with_level("level")
        .with_target("target")
        .with_flattened_event()
        .with_top_level_flattened_current_span();
    Dispatch::new(tracing_subscriber::registry().with(json))
}

/// Values for one event and its span.
#[derive(Clone, Debug)]
struct Values {
    message: String,
    text: String,
    number: i64,
    count: u64,
    ratio: f64,
    flag: bool,
    maybe: Option<String>,
    span_text: String,
    span_number: u64,
    recorded: Option<String>,
}

/// Logs `values` under `dispatch` the way the service logs: an event inside a span.
fn log(dispatch: &Dispatch, values: &Values) {
    tracing::dispatcher::with_default(dispatch, || {
        let span = tracing::info_span!(
            "request",
            request_id = values.span_text.as_str(),
            n = values.span_number,
            debugged = ?values.span_text,
            later = tracing::field::Empty,
        );
        if let Some(recorded) = &values.recorded {
            span.record("later", recorded.as_str());
            span.record("n", values.span_number.wrapping_add(1));
        }
        let _entered = span.enter();
        tracing::info!(
            target: "vodsign::http",
            text = values.text.as_str(),
            number = values.number,
            count = values.count,
            ratio = values.ratio,
            flag = values.flag,
            maybe = values.maybe.as_deref(),
            shown = %values.text,
            debugged = ?values.text,
            "message {}", values.message
        );
        // Outside any span, and without a message.
        tracing::warn!(target: "elsewhere", text = values.text.as_str());
    });
}

/// Every line of `text`, each checked to be one JSON object, timestamps removed after
/// checking their shape.
fn parsed(text: &str) -> Vec<Map<String, Value>> {
    assert!(text.ends_with('\n'), "lines end with a newline: {text:?}");
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("each line is JSON");
            let mut object = value.as_object().expect("an object").clone();
            let timestamp = object.remove("timestamp").expect("a timestamp");
            let timestamp = timestamp.as_str().expect("a string");
            // 2026-05-01T10:00:00.123456Z
            assert_eq!(timestamp.len(), 27, "{timestamp}");
            assert!(
                time::OffsetDateTime::parse(
                    timestamp,
                    &time::format_description::well_known::Rfc3339
                )
                .is_ok(),
                "{timestamp}"
            );
            object
        })
        .collect()
}

/// What is hard to escape: quotes, backslashes, every control character, DEL, non-ASCII
/// text and characters outside the BMP, mixed with plain text.
fn awkward_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            (0u8..0x20).prop_map(|b| char::from(b).to_string()),
            Just("\u{7f}".to_owned()),
            Just("é€😀\u{2028}".to_owned()),
            "[a-z =:,{}]{0,6}",
            any::<char>().prop_map(String::from),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn values() -> impl Strategy<Value = Values> {
    (
        (awkward_text(), awkward_text(), any::<i64>(), any::<u64>()),
        (
            prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(0.5),
                Just(1.0)
            ],
            any::<bool>(),
            prop::option::of(awkward_text()),
        ),
        (
            awkward_text(),
            any::<u64>(),
            prop::option::of(awkward_text()),
        ),
    )
        .prop_map(
            |(
                (message, text, number, count),
                (ratio, flag, maybe),
                (span_text, span_number, recorded),
            )| Values {
                message,
                text,
                number,
                count,
                ratio,
                flag,
                maybe,
                span_text,
                span_number,
                recorded,
            },
        )
}

proptest! {
    #[test]
    fn lines_say_what_json_subscriber_says(values in values()) {
        let (new, old) = (Capture::default(), Capture::default());
        log(&ours(&new), &values);
        log(&reference(&old), &values);
        let (new_text, old_text) = (new.take(), old.take());
        let (new_lines, old_lines) = (parsed(&new_text), parsed(&old_text));
        prop_assert_eq!(&new_lines, &old_lines, "\nours: {}\nreference: {}", new_text, old_text);
        prop_assert_eq!(new_lines.len(), 2);
        // Fields the test put in are there (the comparison alone would pass on two
        // formatters dropping the same field).
        let line = &new_lines[0];
        prop_assert_eq!(&line["message"], &Value::from(format!("message {}", values.message)));
        prop_assert_eq!(&line["text"], &Value::from(values.text.as_str()));
        prop_assert_eq!(&line["request_id"], &Value::from(values.span_text.as_str()));
        prop_assert_eq!(&line["name"], &Value::from("request"));
        prop_assert_eq!(line.get("later").is_some(), values.recorded.is_some());
    }

    /// The order the schema documents: timestamp, level, target, message, then the rest.
    #[test]
    fn lines_start_with_timestamp_level_target_and_message(values in values()) {
        let new = Capture::default();
        log(&ours(&new), &values);
        let text = new.take();
        let first = text.lines().next().expect("a line");
        let line: Value = serde_json::from_str(first).expect("JSON");
        let start = format!(
            "{{\"timestamp\":{},\"level\":\"INFO\",\"target\":\"vodsign::http\",\"message\":{},",
            line["timestamp"],
            Value::from(format!("message {}", values.message)),
        );
        prop_assert!(first.starts_with(&start), "{} does not start with {}", first, start);
    }
}

/// Each ASCII byte at each position of a string two words long, so that both the
/// eight-bytes-at-a-time check and the tail see it.
#[test]
fn escaping_is_serde_jsons_for_every_ascii_byte_anywhere() {
    for b in 0u8..0x80 {
        for at in 0..19 {
            let mut text: Vec<char> = "abcdefghijklmnopqrs".chars().collect();
            text[at] = char::from(b);
            let text: String = text.into_iter().collect();
            let mut ours = String::new();
            push_str(&mut ours, &text);
            assert_eq!(
                ours,
                serde_json::to_string(&text).expect("serializes"),
                "byte {b:#04x} at {at}"
            );
        }
    }
}

proptest! {
    #[test]
    fn any_string_is_escaped_as_serde_json_escapes_it(
        text in prop_oneof![any::<String>(), awkward_text()],
    ) {
        let mut ours = String::new();
        push_str(&mut ours, &text);
        prop_assert_eq!(ours, serde_json::to_string(&text).expect("serializes"));
    }
}

#[test]
fn the_timestamp_is_formatted_as_tracing_subscriber_formats_it() {
    let mut clock = Clock::default();
    let mut out = String::new();
    clock.write(1_777_629_600, 123_456, &mut out);
    assert_eq!(out, "2026-05-01T10:00:00.123456Z");
    out.clear();
    // The same second again, from the cache; then the next one.
    clock.write(1_777_629_600, 7, &mut out);
    clock.write(1_777_629_601, 999_999, &mut out);
    assert_eq!(
        out,
        "2026-05-01T10:00:00.000007Z2026-05-01T10:00:01.999999Z"
    );
}

#[test]
fn a_field_recorded_again_replaces_its_value() {
    let capture = Capture::default();
    tracing::dispatcher::with_default(&ours(&capture), || {
        let span = tracing::info_span!("request", a = 1, b = "x", c = tracing::field::Empty);
        span.record("a", 2);
        span.record("c", "set");
        span.record("b", "y");
        tracing::info_span!("inner").in_scope(|| {});
        span.in_scope(|| tracing::info!("inside"));
    });
    let text = capture.take();
    let line: Value = serde_json::from_str(text.trim_end()).expect("JSON");
    assert_eq!(line["a"], 2);
    assert_eq!(line["b"], "y");
    assert_eq!(line["c"], "set");
    assert_eq!(line["name"], "request");
    assert_eq!(text.matches("\"a\":").count(), 1, "{text}");
}
