//! `/openapi.json` describes the public API, and what it describes is really served.

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;

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
    let params: Vec<&str> = get["parameters"]
        .as_array()
        .expect("query parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["classId", "procedure", "validitySeconds", "sessionContext"] {
        assert!(params.contains(&name), "{name} missing from {params:?}");
    }
    assert!(post["requestBody"]["content"]["application/json"].is_object());
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
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let paths = spec["paths"].as_object().expect("paths");
    for (path, operations) in paths {
        for method in operations.as_object().expect("operations").keys() {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(path)
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
