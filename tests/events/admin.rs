//! The relay's operator routes (`/-/webhooks/…` on the admin listener) on both backends,
//! driven through the router: listings with filters and pages, one message with its
//! deliveries, replays that reach a real receiver under the same `webhook-id`, re-enabling
//! after a 410, the switch and the token, and bad input answered with envelopes. No body
//! ever holds an endpoint's secret or URL.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use tower::ServiceExt as _;
use vodsign::events::{Clock, EventStore, ManualClock, Outcome, message::rfc3339};
use vodsign::uploads::UploadStore;
use vodsign::{WebhookAdminAccess, webhook_admin_router};

use super::receiver::Reply;
use super::{NOW_MS, OneEvent, SECRET, endpoint, keys, one_event, other, outbox, routes};

use crate::support::backends::on_both_backends;

on_both_backends!(
    lists_pending_and_dead_messages_with_filters_and_pages,
    shows_one_message_with_its_deliveries,
    replaying_a_dead_letter_delivers_it_under_the_same_webhook_id,
    replays_an_endpoints_dead_letters_since_a_time,
    re_enables_an_endpoint_a_410_disabled,
    refuses_when_off_and_without_the_token,
    bad_input_gets_envelopes,
);

/// Every body of a test, to check that no secret or URL ever appears in one.
#[derive(Default)]
struct Bodies(std::sync::Mutex<Vec<String>>);

struct Admin {
    router: Router,
    token: Option<&'static str>,
    bodies: Bodies,
}

impl Admin {
    fn new(events: &EventStore, endpoints: &[&str], clock: &ManualClock) -> Admin {
        Admin::with(
            events,
            endpoints,
            clock,
            true,
            Some("admin-token-for-tests"),
        )
    }

    fn with(
        events: &EventStore,
        endpoints: &[&str],
        clock: &ManualClock,
        enabled: bool,
        token: Option<&'static str>,
    ) -> Admin {
        let secret = token.map(SecretString::from);
        let clock: Arc<dyn Clock> = Arc::new(clock.clone());
        Admin {
            router: webhook_admin_router(
                events.clone(),
                endpoints.iter().map(|e| (*e).to_owned()).collect(),
                WebhookAdminAccess::new(enabled, secret.as_ref()),
                clock,
            ),
            token,
            bodies: Bodies::default(),
        }
    }

    async fn call_as(&self, method: &str, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::empty()).expect("a request"))
            .await
            .expect("an answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
        self.bodies.0.lock().expect("lock").push(text.clone());
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {uri}: not JSON ({e}): {text}"));
        (status, body)
    }

    async fn call(&self, method: &str, uri: &str) -> (StatusCode, Value) {
        self.call_as(method, uri, self.token).await
    }

    async fn ok(&self, method: &str, uri: &str) -> Value {
        let (status, body) = self.call(method, uri).await;
        assert_eq!(status, StatusCode::OK, "{method} {uri}: {body}");
        assert_eq!(body["code"], 0, "{body}");
        body
    }

    /// No body held the webhook secret (or its key part), a receiver's URL or the token.
    fn assert_no_secrets(&self, urls: &[&str]) {
        let key = SECRET.trim_start_matches("whsec_");
        for body in self.bodies.0.lock().expect("lock").iter() {
            assert!(!body.contains(key), "the secret in {body}");
            assert!(
                !body.contains("admin-token-for-tests"),
                "the token in {body}"
            );
            for url in urls {
                assert!(!body.contains(url), "a URL in {body}");
            }
        }
    }
}

fn ids(body: &Value, key: &str) -> Vec<String> {
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Makes every due message of `endpoint` dead, as a last failed attempt would.
async fn dead_letter_all(events: &EventStore, endpoint: &str, now_ms: i64) {
    let lease = events
        .due(now_ms, 1000, Duration::from_secs(60))
        .await
        .expect("claimed");
    for m in lease.messages.iter().filter(|m| m.endpoint == endpoint) {
        assert!(
            events
                .dead_letter(m.id, &lease.token, now_ms, "HTTP 500")
                .await
                .expect("settled")
        );
    }
    events.release(&lease.token).await.expect("released");
}

async fn lists_pending_and_dead_messages_with_filters_and_pages(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [
        endpoint("app", "http://127.0.0.1:9/hook"),
        endpoint("crm", "http://127.0.0.1:9/crm"),
    ];
    events
        .ingest(
            &[other("h1", 1), other("h2", 2)],
            &keys(),
            &routes(&eps),
            NOW_MS,
        )
        .await
        .expect("ingested");
    dead_letter_all(&events, "app", NOW_MS).await;
    events
        .ingest(&[other("h3", 3)], &keys(), &routes(&eps), NOW_MS + 60_000)
        .await
        .expect("ingested");
    let clock = ManualClock::new(NOW_MS + 120_000);
    let admin = Admin::new(&events, &["app", "crm"], &clock);

    let all = admin.ok("GET", "/-/webhooks/messages").await;
    assert_eq!(
        ids(&all, "status"),
        ["dead", "pending", "dead", "pending", "pending", "pending"],
        "pending and dead by default, oldest first: {all}"
    );
    assert!(all["nextCursor"].is_null());
    assert!(
        all["messages"][0].get("body").is_none(),
        "listings leave bodies out"
    );
    assert_eq!(all["messages"][0]["lastError"], "HTTP 500");
    assert_eq!(all["messages"][0]["attempts"], 1);
    assert_eq!(all["messages"][0]["createdAt"], rfc3339(NOW_MS));

    let dead = admin.ok("GET", "/-/webhooks/messages?status=dead").await;
    assert_eq!(ids(&dead, "endpoint"), ["app", "app"]);
    let crm = admin.ok("GET", "/-/webhooks/messages?endpoint=crm").await;
    assert_eq!(ids(&crm, "endpoint"), ["crm", "crm", "crm"]);
    let since = rfc3339(NOW_MS + 30_000);
    let recent = admin
        .ok("GET", &format!("/-/webhooks/messages?since={since}"))
        .await;
    assert_eq!(recent["messages"].as_array().expect("a list").len(), 2);
    let by_secs = admin
        .ok(
            "GET",
            &format!("/-/webhooks/messages?since={}", (NOW_MS + 30_000) / 1000),
        )
        .await;
    assert_eq!(ids(&by_secs, "webhookId"), ids(&recent, "webhookId"));
    let delivered = admin
        .ok("GET", "/-/webhooks/messages?status=delivered")
        .await;
    assert!(ids(&delivered, "id").is_empty());

    // Pages of two, followed by their cursors, give each message once.
    let mut seen = Vec::new();
    let mut uri = "/-/webhooks/messages?limit=2".to_owned();
    for _ in 0..10 {
        let page = admin.ok("GET", &uri).await;
        let batch = page["messages"].as_array().expect("a list");
        assert!(batch.len() <= 2);
        seen.extend(batch.iter().map(|m| m["id"].as_i64().expect("an id")));
        match page["nextCursor"].as_str() {
            Some(cursor) => uri = format!("/-/webhooks/messages?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let listed: Vec<i64> = all["messages"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["id"].as_i64().expect("an id"))
        .collect();
    assert_eq!(seen, listed);

    let endpoints = admin.ok("GET", "/-/webhooks/endpoints").await;
    let list = endpoints["endpoints"].as_array().expect("a list");
    assert_eq!(list.len(), 2);
    assert_eq!(
        (&list[0]["name"], &list[0]["pending"], &list[0]["dead"]),
        (&Value::from("app"), &Value::from(1), &Value::from(2))
    );
    assert_eq!(list[1]["pending"], 3);
    assert_eq!(list[1]["disabled"], false);
    admin.assert_no_secrets(&["127.0.0.1:9"]);
}

async fn shows_one_message_with_its_deliveries(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [
        endpoint("app", "http://127.0.0.1:9/hook"),
        endpoint("crm", "http://127.0.0.1:9/crm"),
    ];
    events
        .ingest(&[other("h1", 1)], &keys(), &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    dead_letter_all(&events, "app", NOW_MS).await;
    let admin = Admin::new(&events, &["app", "crm"], &ManualClock::new(NOW_MS));
    let listed = admin.ok("GET", "/-/webhooks/messages").await;
    let id = ids(&listed, "webhookId")[0].clone();

    let shown = admin.ok("GET", &format!("/-/webhooks/messages/{id}")).await;
    assert_eq!(shown["webhookId"], id.as_str());
    assert_eq!(shown["type"], "vod.unattributed");
    assert_eq!(shown["body"]["type"], "vod.unattributed");
    assert_eq!(shown["body"]["data"]["vod"]["EventType"], "PullComplete");
    let deliveries = shown["deliveries"].as_array().expect("a list");
    assert_eq!(deliveries.len(), 2, "one per endpoint: {shown}");
    assert_eq!(
        (&deliveries[0]["endpoint"], &deliveries[0]["status"]),
        (&Value::from("app"), &Value::from("dead"))
    );
    assert_eq!(deliveries[0]["lastError"], "HTTP 500");
    assert_eq!(deliveries[0]["lastAttemptAt"], rfc3339(NOW_MS));
    assert_eq!(deliveries[1]["status"], "pending");
    assert_eq!(deliveries[1]["attempts"], 0);
    admin.assert_no_secrets(&["127.0.0.1:9"]);
}

async fn replaying_a_dead_letter_delivers_it_under_the_same_webhook_id(
    store: &UploadStore,
    _url: &str,
) {
    let OneEvent {
        receiver,
        events,
        clock,
        worker,
    } = one_event(store, Reply::Status(500)).await;
    // Three attempts ([5, 300]), then a dead letter.
    for _ in 0..3 {
        let round = worker.round().await.expect("round");
        assert_eq!(round.outcomes.len(), 1, "{round:?}");
        clock.advance_ms(400_000);
    }
    let admin = Admin::new(&events, &["app"], &clock);
    let dead = admin.ok("GET", "/-/webhooks/messages?status=dead").await;
    let id = ids(&dead, "webhookId")
        .pop()
        .expect("one dead letter after the schedule");
    assert_eq!(dead["messages"][0]["attempts"], 3);

    receiver.set_default(Reply::Ok);
    let replayed = admin
        .ok("POST", &format!("/-/webhooks/messages/{id}/replay"))
        .await;
    assert_eq!(replayed["replayed"], serde_json::json!(["app"]));
    assert_eq!(replayed["disabledEndpoints"], serde_json::json!([]));
    let round = worker.round().await.expect("round");
    assert_eq!(round.outcomes[0].2, Outcome::Delivered);
    let last = receiver.received().pop().expect("received");
    assert_eq!(last.webhook_id, id, "the same webhook-id");
    assert!(last.verified);
    assert_eq!(
        last.timestamp * 1000,
        clock.now_ms(),
        "a new attempt's time"
    );

    let shown = admin.ok("GET", &format!("/-/webhooks/messages/{id}")).await;
    assert_eq!(shown["deliveries"][0]["status"], "delivered");
    assert_eq!(shown["deliveries"][0]["attempts"], 1, "a fresh schedule");
    // Replaying one endpoint's delivery only; an endpoint it never went to is a 404.
    let again = admin
        .ok(
            "POST",
            &format!("/-/webhooks/messages/{id}/replay?endpoint=app"),
        )
        .await;
    assert_eq!(again["replayed"], serde_json::json!(["app"]));
    let (status, body) = admin
        .call(
            "POST",
            &format!("/-/webhooks/messages/{id}/replay?endpoint=nope"),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, 40401.into())
    );
    admin.assert_no_secrets(&[&receiver.url]);
}

async fn replays_an_endpoints_dead_letters_since_a_time(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [
        endpoint("app", "http://127.0.0.1:9/hook"),
        endpoint("crm", "http://127.0.0.1:9/crm"),
    ];
    let hour = 3_600_000;
    events
        .ingest(&[other("h1", 1)], &keys(), &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    dead_letter_all(&events, "app", NOW_MS).await;
    events
        .ingest(&[other("h2", 2)], &keys(), &routes(&eps), NOW_MS + hour)
        .await
        .expect("ingested");
    dead_letter_all(&events, "app", NOW_MS + hour).await;
    dead_letter_all(&events, "crm", NOW_MS + hour).await;
    let admin = Admin::new(
        &events,
        &["app", "crm"],
        &ManualClock::new(NOW_MS + 2 * hour),
    );

    let since = rfc3339(NOW_MS + hour / 2);
    let body = admin
        .ok(
            "POST",
            &format!("/-/webhooks/endpoints/app/replay?since={since}"),
        )
        .await;
    assert_eq!(body["replayed"], 1, "only the later one: {body}");
    assert_eq!(body["since"], since.as_str());
    let dead = admin.ok("GET", "/-/webhooks/messages?status=dead").await;
    assert_eq!(
        ids(&dead, "endpoint"),
        ["app", "crm", "crm"],
        "the older one and the other endpoint's stay dead"
    );
    let body = admin
        .ok("POST", "/-/webhooks/endpoints/app/replay?since=0")
        .await;
    assert_eq!(body["replayed"], 1);
    let pending = admin
        .ok("GET", "/-/webhooks/messages?status=pending&endpoint=app")
        .await;
    assert_eq!(ids(&pending, "attempts").len(), 2);
    assert!(
        pending["messages"]
            .as_array()
            .expect("a list")
            .iter()
            .all(|m| m["attempts"] == 0 && m["nextAttemptAt"] == rfc3339(NOW_MS + 2 * hour)),
        "due now, on a fresh schedule: {pending}"
    );
    let (status, body) = admin.call("POST", "/-/webhooks/endpoints/app/replay").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "since is required: {body}");
    assert!(
        body["message"]
            .as_str()
            .expect("a message")
            .contains("since=")
    );
}

async fn re_enables_an_endpoint_a_410_disabled(store: &UploadStore, _url: &str) {
    let OneEvent {
        receiver,
        events,
        clock,
        worker,
    } = one_event(store, Reply::Status(410)).await;
    let round = worker.round().await.expect("round");
    assert_eq!(round.outcomes[0].2, Outcome::Disabled);
    let admin = Admin::new(&events, &["app"], &clock);

    let listed = admin.ok("GET", "/-/webhooks/endpoints").await;
    let app = &listed["endpoints"][0];
    assert_eq!(
        (&app["name"], &app["disabled"]),
        (&"app".into(), &true.into())
    );
    assert_eq!(app["disabledAt"], rfc3339(NOW_MS));
    assert!(
        app["disabledReason"]
            .as_str()
            .expect("a reason")
            .contains("410")
    );
    assert_eq!(app["pending"], 1, "its message is held, not dropped");
    clock.advance_ms(60_000);
    assert!(worker.round().await.expect("round").outcomes.is_empty());

    receiver.set_default(Reply::Ok);
    let enabled = admin.ok("POST", "/-/webhooks/endpoints/app/enable").await;
    assert_eq!(enabled["wasDisabled"], true);
    let round = worker.round().await.expect("round");
    assert_eq!(round.outcomes[0].2, Outcome::Delivered);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].webhook_id, got[1].webhook_id);
    let listed = admin.ok("GET", "/-/webhooks/endpoints").await;
    assert_eq!(listed["endpoints"][0]["disabled"], false);
    let again = admin.ok("POST", "/-/webhooks/endpoints/app/enable").await;
    assert_eq!(again["wasDisabled"], false, "idempotent");
    admin.assert_no_secrets(&[&receiver.url]);
}

async fn refuses_when_off_and_without_the_token(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [endpoint("app", "http://127.0.0.1:9/hook")];
    events
        .ingest(&[other("h", 1)], &keys(), &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    let clock = ManualClock::new(NOW_MS);
    let routes = [
        ("GET", "/-/webhooks/messages"),
        ("GET", "/-/webhooks/messages/msg_x"),
        ("POST", "/-/webhooks/messages/msg_x/replay"),
        ("GET", "/-/webhooks/endpoints"),
        ("POST", "/-/webhooks/endpoints/app/replay?since=0"),
        ("POST", "/-/webhooks/endpoints/app/enable"),
    ];
    let off = Admin::with(&events, &["app"], &clock, false, None);
    for (method, uri) in routes {
        let (status, body) = off.call(method, uri).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {body}");
        assert_eq!(body["code"], 40301);
        assert!(
            body["message"]
                .as_str()
                .expect("a message")
                .contains("enable_webhook_admin")
        );
    }
    let guarded = Admin::new(&events, &["app"], &clock);
    for (method, uri) in routes {
        let (status, body) = guarded.call_as(method, uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(body["code"], 40101);
        let (status, body) = guarded
            .call_as(method, uri, Some("admin-token-for-test"))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(body["code"], 40102);
    }
    assert_eq!(events.disabled_endpoints().await.expect("listed").len(), 0);
    let open = Admin::with(&events, &["app"], &clock, true, None);
    open.ok("GET", "/-/webhooks/endpoints").await;
    guarded.ok("GET", "/-/webhooks/endpoints").await;
    guarded.assert_no_secrets(&["127.0.0.1:9"]);
    off.assert_no_secrets(&[]);
    let debug = format!(
        "{:?}",
        WebhookAdminAccess::new(true, Some(&SecretString::from("admin-token-for-tests")))
    );
    assert!(!debug.contains("admin-token"), "{debug}");
}

async fn bad_input_gets_envelopes(store: &UploadStore, _url: &str) {
    let events = outbox(store);
    let eps = [endpoint("app", "http://127.0.0.1:9/hook")];
    events
        .ingest(&[other("h", 1)], &keys(), &routes(&eps), NOW_MS)
        .await
        .expect("ingested");
    let admin = Admin::new(&events, &["app"], &ManualClock::new(NOW_MS));
    let cases: &[(&str, &str, StatusCode, u32, &str)] = &[
        (
            "GET",
            "/-/webhooks/messages/nope",
            StatusCode::BAD_REQUEST,
            40001,
            "webhook id",
        ),
        (
            "GET",
            "/-/webhooks/messages/msg_a%20b",
            StatusCode::BAD_REQUEST,
            40001,
            "webhook id",
        ),
        (
            "GET",
            "/-/webhooks/messages/msg_AAAAAAAAAAAAAAAAAAAAAA",
            StatusCode::NOT_FOUND,
            40401,
            "no message",
        ),
        (
            "POST",
            "/-/webhooks/messages/msg_AAAAAAAAAAAAAAAAAAAAAA/replay",
            StatusCode::NOT_FOUND,
            40401,
            "no message",
        ),
        (
            "POST",
            "/-/webhooks/messages/x/replay",
            StatusCode::BAD_REQUEST,
            40001,
            "webhook id",
        ),
        (
            "GET",
            "/-/webhooks/messages?status=lost",
            StatusCode::BAD_REQUEST,
            40001,
            "status",
        ),
        (
            "GET",
            "/-/webhooks/messages?status=dead,",
            StatusCode::BAD_REQUEST,
            40001,
            "status",
        ),
        (
            "GET",
            "/-/webhooks/messages?endpoint=nope",
            StatusCode::NOT_FOUND,
            40401,
            "no endpoint",
        ),
        (
            "GET",
            "/-/webhooks/messages?endpoint=a%20b",
            StatusCode::BAD_REQUEST,
            40001,
            "endpoint name",
        ),
        (
            "GET",
            "/-/webhooks/messages?since=yesterday",
            StatusCode::BAD_REQUEST,
            40001,
            "RFC 3339",
        ),
        (
            "GET",
            "/-/webhooks/messages?since=2027-13-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
            40001,
            "RFC 3339",
        ),
        (
            "GET",
            "/-/webhooks/messages?since=99999999999999999999",
            StatusCode::BAD_REQUEST,
            40001,
            "RFC 3339",
        ),
        (
            "GET",
            "/-/webhooks/messages?since=9223372036854775807",
            StatusCode::BAD_REQUEST,
            40001,
            "RFC 3339",
        ),
        (
            "GET",
            "/-/webhooks/messages?limit=0",
            StatusCode::BAD_REQUEST,
            40001,
            "limit",
        ),
        (
            "GET",
            "/-/webhooks/messages?limit=201",
            StatusCode::BAD_REQUEST,
            40001,
            "limit",
        ),
        (
            "GET",
            "/-/webhooks/messages?limit=ten",
            StatusCode::BAD_REQUEST,
            40001,
            "limit",
        ),
        (
            "GET",
            "/-/webhooks/messages?cursor=-1",
            StatusCode::BAD_REQUEST,
            40001,
            "cursor",
        ),
        (
            "GET",
            "/-/webhooks/messages?cursor=abc",
            StatusCode::BAD_REQUEST,
            40001,
            "cursor",
        ),
        (
            "GET",
            "/-/webhooks/messages?colour=red",
            StatusCode::BAD_REQUEST,
            40001,
            "query",
        ),
        (
            "GET",
            "/-/webhooks/messages?limit=1&limit=2",
            StatusCode::BAD_REQUEST,
            40001,
            "query",
        ),
        (
            "POST",
            "/-/webhooks/endpoints/nope/enable",
            StatusCode::NOT_FOUND,
            40401,
            "no endpoint",
        ),
        (
            "POST",
            "/-/webhooks/endpoints/a.b/enable",
            StatusCode::BAD_REQUEST,
            40001,
            "endpoint name",
        ),
        (
            "POST",
            "/-/webhooks/endpoints/nope/replay?since=0",
            StatusCode::NOT_FOUND,
            40401,
            "no endpoint",
        ),
        (
            "POST",
            "/-/webhooks/endpoints/app/replay?since=soon",
            StatusCode::BAD_REQUEST,
            40001,
            "RFC 3339",
        ),
        (
            "POST",
            "/-/webhooks/endpoints/app/replay?since=0&x=1",
            StatusCode::BAD_REQUEST,
            40001,
            "query",
        ),
    ];
    for (method, uri, status, code, says) in cases {
        let (got, body) = admin.call(method, uri).await;
        assert_eq!(got, *status, "{method} {uri}: {body}");
        assert_eq!(body["code"], *code, "{method} {uri}: {body}");
        assert!(
            body["message"].as_str().expect("a message").contains(says),
            "{method} {uri}: {body}"
        );
    }
    // An endpoint no longer configured but still in the outbox is known.
    let unconfigured = Admin::new(&events, &[], &ManualClock::new(NOW_MS));
    let held = unconfigured
        .ok("GET", "/-/webhooks/messages?endpoint=app")
        .await;
    assert_eq!(ids(&held, "endpoint"), ["app"]);
    admin.assert_no_secrets(&["127.0.0.1:9"]);
}
