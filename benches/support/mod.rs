//! Shared set-up for the benches: signing parameters and a service state with a generated
//! API key, built the way `tests/api/helpers.rs` builds it.

#![allow(dead_code)] // each bench binary uses a different part of this module

use secrecy::SecretString;
use vodsign::app::{App, AppState, VodCredentials};
use vodsign::auth::api_key;
use vodsign::config::{ApiKeySettings, PolicySettings, Settings};
use vodsign::signature::{
    ClassId, Procedure, SecretId, SessionContext, SignParams, SourceContext, TaskNotifyMode,
    TaskPriority, Validity, VodSubAppId,
};

/// The SecretKey every bench signs with (a bench needs no real one).
pub const SECRET_KEY: &[u8] = b"bench-secret-key-0123456789abcdef";

/// What most requests sign: the four required parameters, a server-written
/// sourceContext and oneTimeValid (the default policy's output).
pub fn typical_params() -> SignParams {
    let mut p = SignParams::new(
        SecretId::try_from("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE").expect("valid"),
        1_700_000_000,
        Validity::try_from(3600).expect("valid"),
        2_081_660_421,
    );
    p.source_context = Some(SourceContext::try_from("user-1234567").expect("valid"));
    p.one_time_valid = Some(true);
    p
}

/// Every optional parameter set, with values that need escaping (the spec's V3 shape).
pub fn maximal_params() -> SignParams {
    let mut p = SignParams::new(
        SecretId::try_from("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE").expect("valid"),
        1_571_215_095,
        Validity::try_from(3600).expect("valid"),
        4_294_967_295,
    );
    p.class_id = Some(ClassId(42));
    p.procedure = Some(Procedure::try_from("QCVB_SimpleProcessFile(1, 1)").expect("valid"));
    p.task_priority = Some(TaskPriority::try_from(-10).expect("valid"));
    p.task_notify_mode = Some(TaskNotifyMode::Change);
    p.source_context = Some(SourceContext::try_from(r#"{"uid":"u 1&2=3+4%"}"#).expect("valid"));
    p.session_context = Some(SessionContext::try_from("会话/ctx ~!*'()").expect("valid"));
    p.one_time_valid = Some(true);
    p.vod_sub_app_id = Some(VodSubAppId(1_500_000_001));
    p.storage_region = Some("ap-chongqing".parse().expect("valid"));
    p
}

/// A built service state with one API key for policy "default"; returns the key too.
pub fn app_state() -> (AppState, String) {
    let key = api_key::generate_key("bench");
    let mut settings = Settings::default();
    settings.api_keys.push(ApiKeySettings {
        id: "bench".into(),
        sha256: api_key::hash_key(&key),
        subject: "user-1234567".into(),
        policy: "default".into(),
    });
    settings
        .policies
        .insert("default".into(), PolicySettings::default());
    let credentials = VodCredentials {
        secret_id: SecretId::try_from("AKIDbench").expect("valid"),
        secret_key: SecretString::from(String::from_utf8_lossy(SECRET_KEY).into_owned()),
        placeholder: false,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let app = runtime
        .block_on(App::build(settings, credentials))
        .expect("bench settings are valid");
    (app.into_state(), key)
}
