//! A real server on a loopback port: the same answers over a socket, and a clean stop.

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::support::app::*;

#[tokio::test]
async fn serves_over_a_socket_and_stops_on_signal() {
    let app = spawn_app().await;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(vodsign::run(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
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
    stop.send(()).expect("server still running");
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("stops within 5 s")
        .expect("task joined");
    assert!(result.is_ok());
}
