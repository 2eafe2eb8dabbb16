//! Parsing `[limits]` and `[policies.NAME.limits]` from TOML.

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;
use vodsign::Limiter;
use vodsign::config::{BackendKind, LimitsSettings, OnBackendError, PolicyLimits};

#[derive(Deserialize)]
struct Doc {
    limits: LimitsSettings,
}

fn limits(toml: &str) -> Result<LimitsSettings, String> {
    Figment::from(Toml::string(toml))
        .extract::<Doc>()
        .map(|d| d.limits)
        .map_err(|e| e.to_string())
}

fn policy(toml: &str) -> Result<PolicyLimits, String> {
    Figment::from(Toml::string(toml))
        .extract::<PolicyLimits>()
        .map_err(|e| e.to_string())
}

#[test]
fn empty_limits_table_takes_the_defaults() {
    let cfg = limits("[limits]").expect("defaults");
    assert_eq!(cfg.backend, BackendKind::Memory);
    assert_eq!(cfg.key_prefix, "vodsign:");
    assert_eq!(cfg.on_backend_error, OnBackendError::Deny);
    assert_eq!(cfg.max_in_flight, 512);
    assert_eq!(cfg.auth_failures.max, 20);
    assert!(cfg.validate().is_ok());
}

#[test]
fn full_limits_table_parses() {
    let cfg = limits(
        r#"[limits]
        backend = "redis"
        redis_url = "redis://:hunter2@127.0.0.1:6390/0"
        key_prefix = "vs:"
        call_timeout_ms = 100
        on_backend_error = "allow"
        trusted_proxies = ["10.0.0.0/8", "::1/128"]
        forwarded_header = "forwarded"
        max_in_flight = 64
        auth_failures = { max = 5, window_seconds = 60, ipv6_prefix = 56 }"#,
    )
    .expect("valid");
    assert_eq!(cfg.trusted_proxies.len(), 2);
    assert_eq!(cfg.auth_failures.ipv6_prefix, 56);
    assert!(cfg.validate().is_ok());
    let debug = format!("{cfg:?}");
    assert!(
        !debug.contains("hunter2"),
        "password leaked in Debug: {debug}"
    );
}

#[test]
fn unknown_keys_are_refused() {
    let err = limits("[limits]\nbackend = \"memory\"\nmax_inflight = 3").expect_err("typo");
    assert!(err.contains("max_inflight"), "{err}");
}

#[test]
fn invalid_values_name_their_key() {
    let cases = [
        ("backend = \"redis\"", "limits.redis_url"),
        (
            "backend = \"redis\"\nredis_url = \"http://:pw@x\"",
            "limits.redis_url",
        ),
        ("max_in_flight = 0", "limits.max_in_flight"),
        (
            "auth_failures = { window_seconds = 0 }",
            "limits.auth_failures.window_seconds",
        ),
        (
            "auth_failures = { ipv6_prefix = 129 }",
            "limits.auth_failures.ipv6_prefix",
        ),
        (
            "max_in_flight_per_principal = 1000001",
            "limits.max_in_flight_per_principal",
        ),
    ];
    for (body, key) in cases {
        let err = limits(&format!("[limits]\n{body}"))
            .expect("parses")
            .validate()
            .expect_err(body);
        assert_eq!(err.setting(), Some(key), "{body}");
        assert!(!err.to_string().contains(":pw@"), "{err}");
    }
}

#[test]
fn the_per_caller_share_defaults_to_32_and_0_turns_it_off() {
    assert_eq!(LimitsSettings::default().max_in_flight_per_principal, 32);
    let off = limits("[limits]\nmax_in_flight_per_principal = 0").expect("parses");
    assert_eq!(off.max_in_flight_per_principal, 0);
    assert!(off.validate().is_ok());
}

#[tokio::test]
async fn from_config_refuses_a_bad_config() {
    let cfg = limits("[limits]\nmemory_max_keys = 0").expect("parses");
    let err = Limiter::from_config(&cfg).await.expect_err("invalid");
    assert_eq!(err.setting(), Some("limits.memory_max_keys"));
}

#[test]
fn policy_limits_parse() {
    let p = policy("rate_per_minute = 60\nburst = 10\nquota = { max = 1000, per = \"day\" }")
        .expect("valid");
    assert_eq!(p.burst().get(), 10);
    assert_eq!(p.interval().as_secs(), 1);
    let q = p.quota().expect("quota");
    assert_eq!((q.max.get(), q.window_seconds.get()), (1000, 86_400));

    let p =
        policy("rate_per_second = 4\nquota = { max = 5, window_seconds = 3600 }").expect("valid");
    assert_eq!(p.burst().get(), 4, "burst defaults to the rate");
    assert_eq!(p.interval().as_millis(), 250);
}

#[test]
fn policy_limits_errors_say_what_to_do() {
    let cases = [
        (
            "burst = 3",
            "exactly one of rate_per_second and rate_per_minute",
        ),
        ("rate_per_second = 1\nrate_per_minute = 1", "exactly one"),
        ("rate_per_second = 0", "rate_per_second must be at least 1"),
        ("rate_per_minute = 5\nburst = 0", "burst must be at least 1"),
        (
            "rate_per_minute = 5\nquota = { max = 0, per = \"day\" }",
            "quota.max",
        ),
        (
            "rate_per_minute = 5\nquota = { max = 9 }",
            "and window_seconds",
        ),
        (
            "rate_per_minute = 5\nquota = { max = 9, per = \"week\" }",
            "week",
        ),
        ("rate_per_minute = 5\nrate = 3", "rate"),
    ];
    for (body, needle) in cases {
        let err = policy(body).expect_err(body);
        assert!(err.contains(needle), "{body}: {err}");
    }
}

#[test]
fn a_single_trusted_proxy_address_is_a_network_of_one() {
    let cfg = limits(
        r#"[limits]
        trusted_proxies = ["10.0.0.1", "::1", "192.168.0.0/16"]"#,
    )
    .expect("bare addresses are accepted");
    let nets: Vec<String> = cfg.trusted_proxies.iter().map(|n| n.to_string()).collect();
    assert_eq!(nets, ["10.0.0.1/32", "::1/128", "192.168.0.0/16"]);
}

#[test]
fn a_trusted_proxy_cidr_with_host_bits_set_is_refused_with_the_network() {
    let err = limits(
        r#"[limits]
        trusted_proxies = ["10.0.0.1/8"]"#,
    )
    .unwrap_err();
    assert!(
        err.contains("10.0.0.1/8 has host bits set; write 10.0.0.0/8"),
        "{err}"
    );
    assert!(err.contains("10.0.0.1/32"), "{err}");
}

#[test]
fn a_bad_trusted_proxy_is_quoted() {
    let err = limits(
        r#"[limits]
        trusted_proxies = ["10.0.0.300/8"]"#,
    )
    .unwrap_err();
    assert!(
        err.contains("\"10.0.0.300/8\" is not an IP address or CIDR"),
        "{err}"
    );
}
