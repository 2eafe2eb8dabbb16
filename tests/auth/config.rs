//! The `[auth]` configuration: the documented example parses with its defaults, and every
//! bad setting stops start-up with an error naming its key.

use figment::Figment;
use figment::providers::{Format, Toml};
use serde_json::{Value, json};
use vodsign::config::AuthSettings;

use crate::support::keys::{AUDIENCE, ISSUER, good_claims, hmac_secret, hs256};
use crate::support::tokens::{try_verifier, verifier};

const EXAMPLE: &str = r#"
[auth]
[[auth.jwt]]
name = "corp-idp"
issuer = "https://idp.example.com/"
audiences = ["vodsign"]
algorithms = ["RS256", "ES256"]
jwks_url = "https://idp.example.com/.well-known/jwks.json"
access = { required_scopes = ["vod.upload"], default_policy = "standard" }

[[auth.introspection]]
name = "legacy-oauth"
introspection_url = "https://oauth.example.com/introspect"
client_id = "vodsign"
client_secret_env = "VODSIGN_INTROSPECTION_SECRET"
access = { required_claim = { claim = "roles", value = "uploader" }, policy_claim = "vod_policy" }
"#;

/// The config as the service would load it, or figment's error message.
fn parse(toml: &str) -> Result<AuthSettings, String> {
    Figment::from(Toml::string(toml))
        .extract_inner("auth")
        .map_err(|e| e.to_string())
}

#[test]
fn documented_example_parses_with_defaults() {
    let cfg = parse(EXAMPLE).unwrap();
    let jwt = &cfg.jwt[0];
    assert_eq!(
        jwt.algorithms,
        [
            jsonwebtoken::Algorithm::RS256,
            jsonwebtoken::Algorithm::ES256
        ]
    );
    assert_eq!(
        (
            jwt.jwks_refresh_secs,
            jwt.jwks_refresh_cooldown_secs,
            jwt.jwks_timeout_ms
        ),
        (300, 30, 5000)
    );
    assert_eq!((jwt.leeway_secs, jwt.subject_claim.as_str()), (60, "sub"));
    assert_eq!(jwt.subject_fallback_claim, None);
    assert_eq!(
        (jwt.verified_cache_max_entries, jwt.verified_cache_ttl_secs),
        (10_000, 60)
    );
    let intro = &cfg.introspection[0];
    assert_eq!(
        (
            intro.timeout_ms,
            intro.cache_ttl_secs,
            intro.negative_cache_ttl_secs
        ),
        (2000, 60, 5)
    );
    assert_eq!(intro.cache_max_entries, 10_000);
    assert_eq!(intro.subject_fallback_claim.as_deref(), Some("client_id"));
    assert_eq!(intro.access.role_claim, "roles");
}

#[test]
fn unknown_keys_and_algorithms_are_refused() {
    let typo = EXAMPLE.replace("audiences =", "audience =");
    assert!(parse(&typo).unwrap_err().contains("audience"));
    let none = EXAMPLE.replace(r#"["RS256", "ES256"]"#, r#"["none"]"#);
    assert!(parse(&none).is_err());
    let stray = format!("{EXAMPLE}\n[auth.extra]\nx = 1\n");
    assert!(parse(&stray).is_err());
}

fn jwt(edit: Value) -> Value {
    let mut p = json!({"name": "p", "issuer": ISSUER, "audiences": [AUDIENCE],
        "algorithms": ["HS256"], "hmac_secret_env": "SECRET",
        "access": {"default_policy": "standard"}});
    for (k, v) in edit.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    p
}

#[tokio::test]
async fn bad_settings_name_their_key() {
    let cases = [
        (
            "no secret",
            json!({"jwt": [jwt(json!({}))]}),
            vec![],
            "auth.jwt[0].hmac_secret_env",
        ),
        (
            "both VAR and VAR_FILE",
            json!({"jwt": [jwt(json!({}))]}),
            vec![("SECRET", "a"), ("SECRET_FILE", "/nonexistent")],
            "auth.jwt[0].hmac_secret_env",
        ),
        (
            "unreadable VAR_FILE",
            json!({"jwt": [jwt(json!({}))]}),
            vec![("SECRET_FILE", "/nonexistent/secret")],
            "auth.jwt[0].hmac_secret_env",
        ),
        (
            "HS256 from a JWKS URL",
            json!({"jwt": [jwt(json!({"hmac_secret_env": null, "jwks_url": "http://127.0.0.1:9/"}))]}),
            vec![],
            "auth.jwt[0].algorithms",
        ),
        (
            "RS256 with an HMAC secret",
            json!({"jwt": [jwt(json!({"algorithms": ["RS256"]}))]}),
            vec![("SECRET", "a")],
            "auth.jwt[0].algorithms",
        ),
        (
            "two key sources",
            json!({"jwt": [jwt(json!({"algorithms": ["RS256"], "hmac_secret_env": null,
                "jwks_url": "http://127.0.0.1:9/", "jwks_file": "/x"}))]}),
            vec![],
            "auth.jwt[0]",
        ),
        (
            "no key source",
            json!({"jwt": [jwt(json!({"algorithms": ["RS256"], "hmac_secret_env": null}))]}),
            vec![],
            "auth.jwt[0]",
        ),
        (
            "no audiences",
            json!({"jwt": [jwt(json!({"audiences": []}))]}),
            vec![("SECRET", "a")],
            "auth.jwt[0].audiences",
        ),
        (
            "no policy source",
            json!({"jwt": [jwt(json!({"access": {}}))]}),
            vec![("SECRET", "a")],
            "auth.jwt[0].access",
        ),
        (
            "undefined default policy",
            json!({"jwt": [jwt(json!({"access": {"default_policy": "gold"}}))]}),
            vec![("SECRET", "a")],
            "auth.jwt[0].access.default_policy",
        ),
        (
            "issuer twice",
            json!({"jwt": [jwt(json!({})), jwt(json!({"name": "q"}))]}),
            vec![("SECRET", "a")],
            "auth.jwt[1]",
        ),
        (
            "introspection secret missing",
            json!({"introspection": [{"name": "i",
            "introspection_url": "http://127.0.0.1:9/", "client_id": "c",
            "client_secret_env": "ISECRET", "access": {"default_policy": "standard"}}]}),
            vec![],
            "auth.introspection[0].client_secret_env",
        ),
    ];
    for (case, cfg, env, key) in cases {
        let err = try_verifier(cfg, &env).await.expect_err(case);
        assert_eq!(err.setting(), Some(key), "{case}: {err}");
        assert!(!err.rule().is_empty(), "{case}");
    }
}

#[tokio::test]
async fn hmac_secret_is_read_from_the_file_variable() {
    let secret = hmac_secret();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{secret}\n")).unwrap();
    let path = file.path().to_str().unwrap();
    let v = verifier(json!({"jwt": [jwt(json!({}))]}), &[("SECRET_FILE", path)]).await;
    let p = v
        .verify(&hs256(&secret, &good_claims("file-user")))
        .await
        .unwrap();
    assert_eq!(p.subject, "file-user");
    assert!(
        v.verify(&hs256("another secret", &good_claims("x")))
            .await
            .is_err()
    );
}

/// The commented `[auth]` sample in the configuration reference, uncommented, is valid.
#[test]
fn reference_config_auth_sample_parses() {
    let reference = include_str!("../../config/vodsign.example.toml");
    let start = reference
        .find("# [[auth.jwt]]")
        .expect("the reference documents [[auth.jwt]]");
    let sample: String = reference[start..]
        .lines()
        .map(|line| {
            line.strip_prefix("# ")
                .or(line.strip_prefix('#'))
                .unwrap_or(line)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let cfg = parse(&format!("[auth]\n{sample}")).unwrap();
    assert_eq!((cfg.jwt.len(), cfg.introspection.len()), (1, 1));
    assert_eq!(cfg.jwt[0].jwks_refresh_cooldown_secs, 30);
    assert_eq!(
        (
            cfg.jwt[0].verified_cache_max_entries,
            cfg.jwt[0].verified_cache_ttl_secs
        ),
        (10_000, 60)
    );
    assert_eq!(cfg.introspection[0].access.required_scopes, ["vod.upload"]);
}
