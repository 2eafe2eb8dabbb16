//! The upload-ticket endpoints through HTTP, on both backends: real SQLite files and a real
//! PostgreSQL (`support::postgres`). Each scenario is a function of the store URL, run once
//! per backend by the `both_backends!` tests at the bottom; then what needs PostgreSQL
//! (replicas, the server going away and coming back) and an unreachable store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use vodsign::config::{PolicyLimits, Settings};
use vodsign::signature::DecodedSignature;
use vodsign::uploads::{ContextKeys, ContextToken, KeyMatch};

use crate::support::app::{
    TestApp, add_key, assert_error, generated_context_keys, spawn_app_with_keys,
};
use crate::support::eventually;
use crate::support::postgres::{PgCluster, create_database, fresh_database, skipped};

type Answer = (StatusCode, HeaderMap, Value);

/// An app with uploads on `url`; `edit` may change the settings further.
async fn ticket_app(url: &str, keys: ContextKeys, edit: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_keys(keys, |s| {
        s.uploads.enabled = true;
        s.store.url = url.to_owned().into();
        s.store.timeout_ms = 1500;
        edit(s);
    })
    .await
}

fn request(method: &str, path: &str, key: &str, body: Option<&str>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"));
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

async fn create(app: &TestApp, key: &str, body: &str) -> Answer {
    app.call(request("POST", "/v1/uploads", key, Some(body)))
        .await
}

async fn resign(app: &TestApp, key: &str, id: &str) -> Answer {
    app.call(request(
        "POST",
        &format!("/v1/uploads/{id}/signature"),
        key,
        None,
    ))
    .await
}

async fn read(app: &TestApp, key: &str, id: &str) -> Answer {
    app.call(request("GET", &format!("/v1/uploads/{id}"), key, None))
        .await
}

async fn list(app: &TestApp, key: &str, query: &str) -> Answer {
    app.call(request("GET", &format!("/v1/uploads?{query}"), key, None))
        .await
}

/// The body of the answer to `request`, as text.
async fn raw_body(app: &TestApp, request: Request<Body>) -> String {
    use tower::ServiceExt as _;
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn id_of(answer: &Answer) -> String {
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.2);
    answer.2["data"]["uploadId"]
        .as_str()
        .expect("an uploadId")
        .to_owned()
}

/// The signature's parameters, after checking its MAC with the test's SecretKey.
fn signed_params(app: &TestApp, signature: &Value) -> Vec<(String, String)> {
    let decoded =
        DecodedSignature::decode(signature.as_str().expect("a signature")).expect("decodes");
    assert!(app.signer().verifies(&decoded), "signed with the test key");
    decoded.pairs().expect("a query")
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Made, signed again, read and listed; the signatures carry the upload's token, which
/// verifies under the context key and names the upload.
async fn lifecycle(url: &str) {
    let app = ticket_app(url, generated_context_keys(), |s| {
        let policy = s.policies.get_mut("default").expect("default");
        policy.allowed_class_ids = vec![1];
    })
    .await;
    let metadata = r#"{"title":"clip","n":1.50,"tags":["a","b"]}"#;
    let made = create(
        &app,
        &app.api_key,
        &format!(r#"{{"classId":1,"metadata":{metadata}}}"#),
    )
    .await;
    let id = id_of(&made);
    let data = &made.2["data"];
    assert_eq!(data["status"], "authorized");
    assert_eq!(made.1["cache-control"], "no-store");
    let expires_at = data["uploadExpiresAt"].as_str().expect("RFC 3339");
    let first = signed_params(&app, &data["signature"]);
    let token = param(&first, "sourceContext").expect("a sourceContext");
    assert_eq!(param(&first, "sessionContext"), Some(token));
    assert_eq!(param(&first, "classId"), Some("1"));
    let parsed = ContextToken::parse(token).expect("a vs1 token");
    assert_eq!(parsed.upload_id().as_str(), id);
    assert_eq!(app.context_keys.verify(&parsed), Some(KeyMatch::Current));
    assert_eq!(
        generated_context_keys().verify(&parsed),
        None,
        "another key does not verify it"
    );

    let again = resign(&app, &app.api_key, &id).await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.2);
    assert_eq!(again.2["data"]["signaturesIssued"], 2);
    assert_ne!(again.2["data"]["signature"], data["signature"]);
    let second = signed_params(&app, &again.2["data"]["signature"]);
    assert_eq!(param(&second, "sourceContext"), Some(token));
    assert_eq!(param(&second, "sessionContext"), Some(token));
    assert_eq!(param(&second, "classId"), Some("1"), "the same grant");
    assert_ne!(param(&second, "random"), param(&first, "random"));

    let got = read(&app, &app.api_key, &id).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.2);
    let upload = &got.2["data"];
    assert_eq!(upload["uploadId"], id.as_str());
    assert_eq!(upload["status"], "authorized");
    assert_eq!(upload["signaturesIssued"], 2);
    assert_eq!(upload["expiresAt"], expires_at);
    assert!(upload["createdAt"].is_string());
    assert!(upload.get("fileId").is_none(), "not known yet");
    // Metadata comes back exactly as given, number spelling included.
    let path = format!("/v1/uploads/{id}");
    let raw = raw_body(&app, request("GET", &path, &app.api_key, None)).await;
    assert!(raw.contains(&format!(r#""metadata":{metadata}"#)), "{raw}");

    let page = list(&app, &app.api_key, "").await;
    assert_eq!(page.0, StatusCode::OK, "{}", page.2);
    assert_eq!(page.2["data"]["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.2["data"]["items"][0]["uploadId"], id.as_str());
    assert!(page.2["data"]["nextCursor"].is_null());
}

/// Pages newest first, in creation order within one second, until a null cursor.
async fn pagination(url: &str) {
    let app = ticket_app(url, generated_context_keys(), |_| {}).await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(id_of(&create(&app, &app.api_key, "{}").await));
    }
    let first = list(&app, &app.api_key, "limit=2").await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.2);
    let items: Vec<&str> = first.2["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["uploadId"].as_str().expect("id"))
        .collect();
    assert_eq!(items, [made[2].as_str(), made[1].as_str()]);
    let cursor = first.2["data"]["nextCursor"].as_str().expect("a next page");
    let second = list(&app, &app.api_key, &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(second.2["data"]["items"][0]["uploadId"], made[0].as_str());
    assert_eq!(second.2["data"]["items"].as_array().map(Vec::len), Some(1));
    assert!(second.2["data"]["nextCursor"].is_null());
    let authorized = list(&app, &app.api_key, "status=authorized").await;
    assert_eq!(
        authorized.2["data"]["items"].as_array().map(Vec::len),
        Some(3)
    );
    let expired = list(&app, &app.api_key, "status=expired").await;
    assert_eq!(expired.2["data"]["items"].as_array().map(Vec::len), Some(0));
}

/// Another caller's upload is 404 like an unknown one, and lists show only one's own.
async fn owner_isolation(url: &str) {
    let mut bob = String::new();
    let app = ticket_app(url, generated_context_keys(), |s| {
        bob = add_key(s, "bob", "user-2", "default");
    })
    .await;
    let id = id_of(&create(&app, &app.api_key, "{}").await);
    let unknown = "upl_AAAAAAAAAAAAAAAAAAAAAA";
    for target in [id.as_str(), unknown] {
        assert_error(&read(&app, &bob, target).await, 404, 40402);
        assert_error(&resign(&app, &bob, target).await, 404, 40402);
    }
    let bobs = list(&app, &bob, "").await;
    assert_eq!(bobs.2["data"]["items"].as_array().map(Vec::len), Some(0));
    let mine = read(&app, &app.api_key, &id).await;
    assert_eq!(
        mine.2["data"]["signaturesIssued"], 1,
        "bob's tries counted nothing"
    );
}

/// At most `max_signatures` per upload, the first included.
async fn resign_limit(url: &str) {
    let app = ticket_app(url, generated_context_keys(), |s| {
        s.uploads.max_signatures = 2
    })
    .await;
    let id = id_of(&create(&app, &app.api_key, "{}").await);
    assert_eq!(resign(&app, &app.api_key, &id).await.0, StatusCode::OK);
    assert_error(&resign(&app, &app.api_key, &id).await, 409, 40901);
    let upload = read(&app, &app.api_key, &id).await;
    assert_eq!(
        upload.2["data"]["signaturesIssued"], 2,
        "the refusal counted nothing"
    );
}

/// A ticket's signatures never outlive it; once expired it is 410 and reads `expired`.
async fn expiry(url: &str) {
    let app = ticket_app(url, generated_context_keys(), |s| s.uploads.ttl_secs = 1).await;
    let made = create(&app, &app.api_key, "{}").await;
    let id = id_of(&made);
    let params = signed_params(&app, &made.2["data"]["signature"]);
    let current: u64 = param(&params, "currentTimeStamp")
        .expect("t")
        .parse()
        .expect("n");
    let expire: u64 = param(&params, "expireTime").expect("e").parse().expect("n");
    assert!(
        expire <= current + 1,
        "capped at the upload's expiry: {params:?}"
    );
    eventually("the upload expires", Duration::from_secs(10), async || {
        resign(&app, &app.api_key, &id).await.2["code"] == 41001
    })
    .await;
    assert_error(&resign(&app, &app.api_key, &id).await, 410, 41001);
    assert_eq!(
        read(&app, &app.api_key, &id).await.2["data"]["status"],
        "expired"
    );
    let expired = list(&app, &app.api_key, "status=expired").await;
    assert_eq!(expired.2["data"]["items"].as_array().map(Vec::len), Some(1));
}

/// A policy's quota counts uploads: re-signing spends rate, not quota.
async fn quota_counts_uploads(url: &str) {
    let app = ticket_app(url, generated_context_keys(), |s| {
        let limits = PolicyLimits::per_second(1000, 1000)
            .expect("valid")
            .with_quota(2, 3600)
            .expect("valid");
        s.policies.get_mut("default").expect("default").limits = Some(limits);
    })
    .await;
    let id = id_of(&create(&app, &app.api_key, "{}").await);
    for _ in 0..5 {
        let again = resign(&app, &app.api_key, &id).await;
        assert_eq!(again.0, StatusCode::OK, "{}", again.2);
    }
    id_of(&create(&app, &app.api_key, "{}").await);
    assert_error(&create(&app, &app.api_key, "{}").await, 429, 42902);
    assert_eq!(resign(&app, &app.api_key, &id).await.0, StatusCode::OK);
}

/// Malformed input gets the envelope: 400 for the body, metadata, cursor, id and query;
/// 403 (40302) for a client's own contexts, naming the field.
async fn bad_input(url: &str) {
    let app = ticket_app(url, generated_context_keys(), |s| {
        s.uploads.max_metadata_bytes = 64;
    })
    .await;
    let key = app.api_key.clone();
    let big = format!(r#"{{"metadata":{{"x":"{}"}}}}"#, "y".repeat(100));
    for body in [
        r#"{"metadata":[1,2]}"#,
        r#"{"metadata":"text"}"#,
        r#"{"metadata":null}"#,
        big.as_str(),
        "[1]",
        "{",
        r#"{"classId":1,"classId":1}"#,
        r#"{"unknownField":1}"#,
        r#"{"validitySeconds":"x"}"#,
    ] {
        let answer = create(&app, &key, body).await;
        assert_error(&answer, 400, 40001);
    }
    let big = create(
        &app,
        &key,
        &format!(r#"{{"metadata":{{"x":"{}"}}}}"#, "y".repeat(100)),
    )
    .await;
    assert!(
        big.2["message"].as_str().expect("m").contains("metadata"),
        "{}",
        big.2
    );
    for field in ["sourceContext", "sessionContext"] {
        let answer = create(&app, &key, &format!(r#"{{"{field}":"mine"}}"#)).await;
        assert_error(&answer, 403, 40302);
        assert!(
            answer.2["message"].as_str().expect("m").starts_with(field),
            "{}",
            answer.2
        );
    }
    for query in [
        "cursor=zzz",
        "cursor=",
        "limit=0",
        "limit=101",
        "limit=x",
        "status=gone",
        "other=1",
    ] {
        assert_error(&list(&app, &key, query).await, 400, 40001);
    }
    for id in ["upl_short", "nope", "upl_AAAAAAAAAAAAAAAAAAAAAB"] {
        assert_error(&read(&app, &key, id).await, 400, 40001);
        assert_error(&resign(&app, &key, id).await, 400, 40001);
    }
    assert_error(&list(&app, "vsk_test_wrong", "").await, 401, 40102);
    // Nothing was made by any of it.
    assert_eq!(
        list(&app, &key, "").await.2["data"]["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

/// Runs each scenario on a fresh SQLite file and on a fresh PostgreSQL database.
macro_rules! both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let url = format!("sqlite://{}", dir.path().join("uploads.db").display());
                    super::$scenario(&url).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    if crate::support::postgres::skipped(stringify!($scenario)) {
                        return;
                    }
                    let url = crate::support::postgres::fresh_database().await;
                    super::$scenario(&url).await;
                }
            )*
        }
    };
}

both_backends!(
    lifecycle,
    pagination,
    owner_isolation,
    resign_limit,
    expiry,
    quota_counts_uploads,
    bad_input,
);

/// Two instances on one PostgreSQL are one service: an upload made on one is re-signed,
/// read and listed on the other, and the limit holds across both.
#[tokio::test]
async fn two_replicas_share_their_uploads() {
    if skipped("two_replicas_share_their_uploads") {
        return;
    }
    let url = fresh_database().await;
    let keys = generated_context_keys();
    let a = ticket_app(&url, keys.clone(), |s| s.uploads.max_signatures = 3).await;
    // The same caller on both: the same API key in both configurations.
    let key = a.api_key.clone();
    let b = ticket_app(&url, keys, |s| {
        s.uploads.max_signatures = 3;
        s.api_keys[0].sha256 = vodsign::hash_key(&key);
    })
    .await;
    let id = id_of(&create(&a, &key, r#"{"metadata":{"k":"v"}}"#).await);
    let again = resign(&b, &key, &id).await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.2);
    assert_eq!(again.2["data"]["signaturesIssued"], 2);
    assert_eq!(read(&b, &key, &id).await.2["data"]["metadata"]["k"], "v");
    assert_eq!(
        list(&b, &key, "").await.2["data"]["items"][0]["uploadId"],
        id.as_str()
    );
    assert_eq!(resign(&a, &key, &id).await.0, StatusCode::OK);
    assert_error(&resign(&b, &key, &id).await, 409, 40901);
}

/// The store down: the ticket endpoints answer 503 (50301) quickly, /v1/signature still
/// signs, /readyz stays ready and names the store; back up, it all works without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_down_and_back() {
    if skipped("the_store_down_and_back") {
        return;
    }
    let cluster = Arc::new(PgCluster::start());
    let url = create_database(&cluster.url("postgres")).await;
    let app = ticket_app(&url, generated_context_keys(), |_| {}).await;
    let id = id_of(&create(&app, &app.api_key, "{}").await);

    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop_server())
        .await
        .expect("stopped");
    let started = Instant::now();
    assert_error(&create(&app, &app.api_key, "{}").await, 503, 50301);
    assert_error(&resign(&app, &app.api_key, &id).await, 503, 50301);
    assert_error(&read(&app, &app.api_key, &id).await, 503, 50301);
    assert_error(&list(&app, &app.api_key, "").await, 503, 50301);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded, not hung"
    );
    let (status, _, body) = app.post_signature("{}").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ready = app
        .call(Request::get("/readyz").body(Body::empty()).expect("r"))
        .await;
    assert_eq!(
        ready.0,
        StatusCode::OK,
        "reported, not unready: {}",
        ready.2
    );
    assert!(
        ready.2["data"]["dependencies"]["store"]
            .as_str()
            .is_some_and(|s| s.starts_with("down")),
        "{}",
        ready.2
    );

    let restarting = cluster.clone();
    tokio::task::spawn_blocking(move || restarting.start_server())
        .await
        .expect("restarted");
    eventually(
        "the ticket endpoints answer again",
        Duration::from_secs(30),
        async || read(&app, &app.api_key, &id).await.0 == StatusCode::OK,
    )
    .await;
    let again = resign(&app, &app.api_key, &id).await;
    assert_eq!(
        again.2["data"]["signaturesIssued"], 2,
        "nothing was counted while down"
    );
    id_of(&create(&app, &app.api_key, "{}").await);
    let ready = app
        .call(Request::get("/readyz").body(Body::empty()).expect("r"))
        .await;
    assert_eq!(ready.2["data"]["dependencies"]["store"], "up");
}

/// A store that was never reachable: the instance builds (no connection is made), its
/// migration fails naming `store.url` and never the URL, it still signs, and the ticket
/// endpoints answer 503 (50301).
#[tokio::test]
async fn an_unreachable_store_is_503_and_never_quoted() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://vodsign:hunter2-pw@127.0.0.1:{port}/vodsign");
    let mut settings = Settings::default();
    settings
        .policies
        .insert("default".into(), vodsign::config::PolicySettings::default());
    let key = add_key(&mut settings, "test", "user-1", "default");
    settings.uploads.enabled = true;
    settings.store.url = url.clone().into();
    settings.store.timeout_ms = 500;
    let app = vodsign::App::build_with_context_keys(
        settings,
        vodsign::VodCredentials::placeholder(),
        generated_context_keys(),
    )
    .await
    .expect("builds without a connection");
    let err = app
        .migrate_store()
        .await
        .expect_err("nothing listens")
        .to_string();
    assert!(err.contains("store.url"), "{err}");
    assert!(
        !err.contains("hunter2") && !err.contains("127.0.0.1"),
        "{err}"
    );
    let router = vodsign::router(app.into_state());
    let call = |req: Request<Body>| {
        let router = router.clone();
        async move {
            use tower::ServiceExt as _;
            let response = router.oneshot(req).await.expect("infallible");
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .expect("body")
                .to_bytes();
            let body: Value = serde_json::from_slice(&bytes).expect("json");
            (status, headers, body)
        }
    };
    let answer = call(request("POST", "/v1/uploads", &key, Some("{}"))).await;
    assert_error(&answer, 503, 50301);
    assert!(!answer.2.to_string().contains("hunter2"));
    let signed = call(request("POST", "/v1/signature", &key, Some("{}"))).await;
    assert_eq!(signed.0, StatusCode::OK, "{}", signed.2);
}
