//! A real server on a loopback port: the same answers over a socket, and a clean stop.

use crate::support::app::*;

#[tokio::test]
async fn serves_over_a_socket_and_stops_on_signal() {
    let app = spawn_app().await;
    let served = serve(&app).await;
    let address = served.address;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://{address}/v1/signature"))
        .bearer_auth(&app.api_key)
        .json(&serde_json::json!({"validitySeconds": 60}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let signature = body["data"]["signature"].as_str().expect("signature");
    let decoded = vodsign::signature::DecodedSignature::decode(signature).expect("decodes");
    assert!(app.signer().verifies(&decoded));
    served.stop(std::time::Duration::from_secs(5)).await;
}
