//! VOD down: the instance stays ready and keeps signing, reports `vod_events` down, logs
//! the outage once, and picks up the queued events when VOD is back, without a restart.

use std::time::Duration;

use crate::support::eventually;
use crate::support::fake_vod::events::new_file_upload;

use super::{Rig, client, get_json};

const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vod_down_keeps_the_instance_ready_and_signing_and_it_recovers_alone() {
    let rig = Rig::new(None).await;
    let service = rig.start().await;
    eventually("pulling", PATIENCE, async || {
        rig.fake.calls().iter().any(|c| c.action == "PullEvents")
    })
    .await;

    rig.fake.set_unavailable(true);
    let readyz = service.url("/readyz");
    eventually("vod_events reported down", PATIENCE, async || {
        let (status, body) = get_json(&readyz, None).await;
        status == 200
            && body["data"]["dependencies"]["vod_events"]
                .as_str()
                .is_some_and(|s| s.starts_with("down"))
    })
    .await;
    let signed = client()
        .post(service.url("/v1/signature"))
        .bearer_auth(&rig.api_key)
        .json(&serde_json::json!({"validitySeconds": 60}))
        .send()
        .await
        .expect("POST /v1/signature");
    assert_eq!(signed.status(), 200, "signing does not need VOD");
    // Queued while VOD is down (after the last long poll that could still take it).
    rig.fake
        .push(new_file_upload("5285890799000000020", "console upload"));
    // Several failed pulls, one warning.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let warnings = service
        .logs()
        .lines()
        .filter(|l| l.contains("cannot pull VOD events"))
        .count();
    assert_eq!(warnings, 1, "{}", service.logs());
    assert!(rig.receiver.received().is_empty());

    rig.fake.set_unavailable(false);
    eventually("delivered after the outage", PATIENCE, async || {
        rig.receiver.received().len() == 1
    })
    .await;
    eventually("vod_events reported up", PATIENCE, async || {
        let (status, body) = get_json(&readyz, None).await;
        status == 200 && body["data"]["dependencies"]["vod_events"] == "up"
    })
    .await;
    assert!(service.logs().contains("VOD API reachable again"));
}
