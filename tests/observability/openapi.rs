//! `/openapi.json` describes the public API, and what it describes is really served.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use crate::support::app::*;

async fn spec(app: &TestApp) -> Value {
    let request = Request::get("/openapi.json")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = app.call(request).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    body
}

#[tokio::test]
async fn the_description_is_openapi_3_1_with_both_signature_operations() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        spec["openapi"]
    );
    let signature = &spec["paths"]["/v1/signature"];
    let get = &signature["get"];
    let post = &signature["post"];
    assert!(get.is_object() && post.is_object(), "{signature}");
    // The query fields: one optional object parameter in exploded form style, so each field
    // is its own `name=value` pair and the SignatureRequest schema describes them.
    let params = get["parameters"].as_array().expect("query parameters");
    assert_eq!(params.len(), 1, "{params:?}");
    let fields = &params[0];
    assert_eq!(fields["in"], "query");
    assert_eq!(fields["style"], "form");
    assert_eq!(fields["explode"], true);
    assert_eq!(fields["required"], false);
    assert_eq!(
        fields["schema"]["$ref"],
        "#/components/schemas/SignatureRequest"
    );
    let properties = spec["components"]["schemas"]["SignatureRequest"]["properties"]
        .as_object()
        .expect("fields");
    for name in ["classId", "procedure", "validitySeconds", "sessionContext"] {
        assert!(properties.contains_key(name), "{name} missing");
    }
    // The body may be left out: an optional SignatureRequest, not `oneOf: [null, ...]`.
    let body = &post["requestBody"];
    assert_eq!(body["required"], false, "{body}");
    assert_eq!(
        body["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/SignatureRequest"})
    );
    for op in [get, post] {
        assert!(op["security"][0]["bearer"].is_array(), "{op}");
        for status in ["200", "400", "401", "403", "429", "503"] {
            assert!(op["responses"][status].is_object(), "{status} in {op}");
        }
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let schemas = &spec["components"]["schemas"];
    assert!(schemas["ErrorEnvelope"]["properties"]["code"].is_object());
    assert!(schemas["SignatureRequest"]["properties"]["classId"].is_object());
    assert!(spec["paths"]["/healthz"]["get"].is_object());
    assert!(spec["paths"]["/readyz"]["get"].is_object());
}

/// Every `$ref` in `value`, recursively.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_resolves_and_both_operations_answer_alike() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let mut found = Vec::new();
    refs(&spec, &mut found);
    assert!(
        found.contains(&"#/components/schemas/Success_Issued"),
        "{found:?}"
    );
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(
            spec["components"]["schemas"][name].is_object(),
            "{target} is referenced but not described"
        );
    }
    let signature = &spec["paths"]["/v1/signature"];
    assert_eq!(
        signature["get"]["responses"],
        signature["post"]["responses"]
    );
}

#[tokio::test]
async fn every_described_operation_is_routed() {
    // With upload tickets on (a throwaway SQLite file), so their routes exist too.
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("uploads.db").display());
    let app = crate::support::app::spawn_app_with(|s| {
        s.uploads.enabled = true;
        s.store.url = url.into();
    })
    .await;
    let spec = spec(&app).await;
    let made = app
        .call(
            Request::post("/v1/uploads")
                .header("authorization", format!("Bearer {}", app.api_key))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    let upload_id = made.2["data"]["uploadId"]
        .as_str()
        .expect("an upload")
        .to_owned();
    let paths = spec["paths"].as_object().expect("paths");
    for (path, operations) in paths {
        let uri = path.replace("{uploadId}", &upload_id);
        for method in operations.as_object().expect("operations").keys() {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header("authorization", format!("Bearer {}", app.api_key))
                .body(Body::empty())
                .expect("request");
            let (status, _, body) = app.call(request).await;
            assert!(
                status.is_success(),
                "{method} {path} is described but answered {status}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn the_request_schema_says_what_the_service_accepts() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let request = &spec["components"]["schemas"]["SignatureRequest"];
    assert_eq!(request["additionalProperties"], false);
    assert_eq!(
        request["dependentRequired"],
        json!({"taskPriority": ["procedure"], "taskNotifyMode": ["procedure"]})
    );
    // No field is nullable: `null` is refused, not read as "left out".
    for (name, field) in request["properties"].as_object().expect("fields") {
        assert!(
            !field.to_string().contains("null"),
            "{name} allows null: {field}"
        );
    }
    let (status, _, body) = app.post_signature(r#"{"procedure":null}"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("procedure:")),
        "{body}"
    );
    // JSON Schema's integer includes 600.0; so does the service.
    let (status, _, body) = app.post_signature(r#"{"validitySeconds":600.0}"#).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = app.post_signature(r#"{"validitySeconds":600.5}"#).await;
    assert_eq!(status, 400, "{body}");
    // What dependentRequired says, both ways in.
    let (status, _, body) = app.get_signature("taskPriority=1").await;
    assert_eq!(
        (status.as_u16(), &body["code"]),
        (400, &json!(40001)),
        "{body}"
    );
    let (status, _, body) = app.post_signature(r#"{"taskNotifyMode":"Finish"}"#).await;
    assert_eq!(
        (status.as_u16(), &body["code"]),
        (400, &json!(40001)),
        "{body}"
    );

    // taskNotifyMode: the enum is exactly what the parser takes.
    let modes = spec["components"]["schemas"]["TaskNotifyMode"]["enum"]
        .as_array()
        .expect("an enum")
        .iter()
        .map(|v| v.as_str().expect("text"))
        .collect::<Vec<_>>();
    assert_eq!(modes, ["Finish", "Change", "None"]);
    for mode in &modes {
        assert!(mode.parse::<vodsign::signature::TaskNotifyMode>().is_ok());
    }
    assert_eq!(
        request["properties"]["taskNotifyMode"]["$ref"],
        "#/components/schemas/TaskNotifyMode"
    );
}

#[tokio::test]
async fn error_codes_servers_and_headers_are_described() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    assert_eq!(spec["servers"][0]["url"], "/");
    let codes = spec["components"]["schemas"]["ErrorEnvelope"]["properties"]["code"]["enum"]
        .as_array()
        .expect("the codes are an enum")
        .clone();
    assert_eq!(codes.len(), 17, "{codes:?}");
    // Answers the service really gives carry codes of the enum.
    let wrong_key = Request::post("/v1/signature")
        .header("authorization", "Bearer vsk_test_wrong")
        .body(Body::empty())
        .expect("request");
    let no_key = Request::get("/v1/signature")
        .body(Body::empty())
        .expect("request");
    let nowhere = Request::get("/nowhere")
        .body(Body::empty())
        .expect("request");
    let put = Request::put("/v1/signature")
        .body(Body::empty())
        .expect("request");
    for request in [wrong_key, no_key, nowhere, put] {
        let (_, _, body) = app.call(request).await;
        assert!(codes.contains(&body["code"]), "{body} not in {codes:?}");
    }
    let (_, _, body) = app.get_signature("classId=x").await;
    assert!(codes.contains(&body["code"]), "{body}");

    let signature = &spec["paths"]["/v1/signature"];
    for method in ["get", "post"] {
        let responses = &signature[method]["responses"];
        for (status, response) in responses.as_object().expect("responses") {
            assert_eq!(
                response["headers"]["x-request-id"]["required"], true,
                "{method} {status}"
            );
        }
        assert_eq!(responses["429"]["headers"]["Retry-After"]["required"], true);
        assert_eq!(
            responses["401"]["headers"]["WWW-Authenticate"]["required"],
            true
        );
        for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
            for status in ["200", "429"] {
                assert_eq!(
                    responses[status]["headers"][name]["schema"]["type"], "integer",
                    "{name} on {status}"
                );
            }
        }
    }
    for path in ["/healthz", "/readyz"] {
        assert!(
            spec["paths"][path]["get"]["responses"]["200"]["headers"]["x-request-id"].is_object()
        );
    }
}

#[tokio::test]
async fn the_described_headers_are_sent() {
    let app = spawn_app_with(|settings| {
        let policy = settings
            .policies
            .get_mut("default")
            .expect("default policy");
        policy.limits =
            Some(vodsign::config::PolicyLimits::per_second(1, 1).expect("valid limits"));
    })
    .await;
    let (status, headers, body) = app.post_signature("").await;
    assert_eq!(status, 200, "{body}");
    for name in [
        "x-request-id",
        "cache-control",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(
            headers.contains_key(name),
            "{name} missing from {headers:?}"
        );
    }
    let (status, headers, body) = app.post_signature("").await;
    assert_eq!(status, 429, "{body}");
    for name in [
        "x-request-id",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(
            headers.contains_key(name),
            "{name} missing from {headers:?}"
        );
    }
}
