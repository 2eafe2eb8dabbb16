//! Every accepted algorithm family verifies; every known JWT attack is refused as Invalid.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tempfile::TempDir;
use vodsign::principal::CredentialKind;
use vodsign::{AuthError, TokenVerifier};

use crate::support::idp::TestIdp;
use crate::support::keys::{AUDIENCE, ISSUER, TestKey, good_claims, hmac_secret, jwks, now, with};
use crate::support::tokens::verifier;

const HS_ISS: &str = "https://hs.test/";
const ES_ISS: &str = "https://es.test/";
const ED_ISS: &str = "https://ed.test/";
const PEM_ISS: &str = "https://pem.test/";

/// One provider per key source: JWKS URL (RS256+PS256), HMAC env, JWKS file, PEM files.
pub struct Fixture {
    pub verifier: TokenVerifier,
    pub rsa: TestKey,
    pub ps: TestKey,
    pub es: TestKey,
    pub ed: TestKey,
    pub pem_rsa: TestKey,
    pub attacker: TestKey,
    pub hmac_secret: String,
    _idp: TestIdp,
    _dir: TempDir,
}

pub async fn fixture() -> Fixture {
    let idp = TestIdp::start("unused").await;
    let rsa = TestKey::rsa("rsa-1", Algorithm::RS256);
    let ps = TestKey::rsa("ps-1", Algorithm::PS256);
    idp.set_jwks(jwks(&[&rsa, &ps]));
    let es = TestKey::es256("es-1");
    let ed = TestKey::ed25519("ed-1");
    let pem_rsa = TestKey::rsa("pem-1", Algorithm::RS256);
    let attacker = TestKey::rsa("attacker-2", Algorithm::RS256);
    let dir = tempfile::tempdir().unwrap();
    let es_jwks = dir.path().join("es.jwks.json");
    std::fs::write(&es_jwks, jwks(&[&es]).to_string()).unwrap();
    let ed_pem = dir.path().join("ed.pem");
    std::fs::write(&ed_pem, &ed.public_pem).unwrap();
    let rsa_pem = dir.path().join("rsa.pem");
    std::fs::write(&rsa_pem, &pem_rsa.public_pem).unwrap();
    let secret = hmac_secret();
    let access = json!({"required_scopes": ["vod.upload"], "policy_claim": "vod_policy",
        "default_policy": "standard"});
    let provider = |name: &str, iss: &str, algs: Value, source: (&str, Value)| {
        let mut p = json!({"name": name, "issuer": iss, "audiences": [AUDIENCE, "other-app"],
            "algorithms": algs, "access": access.clone(), "jwks_refresh_cooldown_secs": 3600});
        p[source.0] = source.1;
        p
    };
    let cfg = json!({"jwt": [
        provider("main", ISSUER, json!(["RS256", "PS256"]), ("jwks_url", json!(idp.jwks_url()))),
        provider("hs", HS_ISS, json!(["HS256"]), ("hmac_secret_env", json!("TEST_HS_SECRET"))),
        provider("es", ES_ISS, json!(["ES256"]), ("jwks_file", json!(es_jwks))),
        provider("ed", ED_ISS, json!(["EdDSA"]), ("public_key_file", json!(ed_pem))),
        provider("pem", PEM_ISS, json!(["RS256"]), ("public_key_file", json!(rsa_pem))),
    ]});
    let verifier = verifier(cfg, &[("TEST_HS_SECRET", &secret)]).await;
    Fixture {
        verifier,
        rsa,
        ps,
        es,
        ed,
        pem_rsa,
        attacker,
        hmac_secret: secret,
        _idp: idp,
        _dir: dir,
    }
}

fn claims(iss: &str, sub: &str) -> Value {
    with(good_claims(sub), "iss", json!(iss))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token assembled by hand: any header, any payload, any signature bytes.
fn raw(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

fn hmac_with(header: Header, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

#[tokio::test]
async fn accepts_each_algorithm_family_with_subject_and_policy() {
    let f = fixture().await;
    let hs_header = Header::new(Algorithm::HS256);
    let cases = [
        (
            "HS256",
            hmac_with(hs_header, f.hmac_secret.as_bytes(), &claims(HS_ISS, "u-hs")),
            "hs",
            "u-hs",
        ),
        ("RS256", f.rsa.sign(&claims(ISSUER, "u-rs")), "main", "u-rs"),
        ("PS256", f.ps.sign(&claims(ISSUER, "u-ps")), "main", "u-ps"),
        ("ES256", f.es.sign(&claims(ES_ISS, "u-es")), "es", "u-es"),
        ("EdDSA", f.ed.sign(&claims(ED_ISS, "u-ed")), "ed", "u-ed"),
        (
            "RS256 from PEM",
            f.pem_rsa.sign(&claims(PEM_ISS, "u-pem")),
            "pem",
            "u-pem",
        ),
    ];
    for (case, token, provider, subject) in cases {
        let p = f
            .verifier
            .verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_eq!(p.subject, subject, "{case}");
        assert_eq!(p.policy, "standard", "{case}");
        assert_eq!(p.credential_id, provider, "{case}");
        assert_eq!(p.kind, CredentialKind::Jwt, "{case}");
    }
}

#[tokio::test]
async fn accepts_at_jwt_type_absent_type_and_policy_from_claim() {
    let f = fixture().await;
    let mut header = f.rsa.header();
    header.typ = Some("at+jwt".into());
    let c = with(claims(ISSUER, "u1"), "vod_policy", json!("unlimited"));
    let p = f
        .verifier
        .verify(&f.rsa.sign_with(header, &c))
        .await
        .unwrap();
    assert_eq!(p.policy, "unlimited");
    let mut header = f.rsa.header();
    header.typ = None;
    assert!(
        f.verifier
            .verify(&f.rsa.sign_with(header, &c))
            .await
            .is_ok()
    );
    // A second accepted audience, in an array.
    let c = with(claims(ISSUER, "u1"), "aud", json!(["x", "other-app"]));
    assert!(f.verifier.verify(&f.rsa.sign(&c)).await.is_ok());
}

#[tokio::test]
async fn refuses_every_attack_as_invalid() {
    let f = fixture().await;
    let good = claims(ISSUER, "victim");
    let valid = f.rsa.sign(&good);
    let parts: Vec<&str> = valid.split('.').collect();
    let es_header = json!({"alg": "ES256", "typ": "JWT", "kid": "es-1"});
    let rsa_pem = f.pem_rsa.public_pem.as_bytes();

    let mut hs_as_rsa = Header::new(Algorithm::HS256);
    hs_as_rsa.kid = Some("rsa-1".into());
    let n = match &f.rsa.jwk.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::RSA(p) => p.n.clone(),
        _ => unreachable!("RSA key"),
    };
    let header_with = |edit: &dyn Fn(&mut Header)| {
        let mut h = f.attacker.header();
        edit(&mut h);
        f.attacker.sign_with(h, &good)
    };
    let attacker_jwk = f.attacker.jwk.clone();
    let mut typ_jwe = f.rsa.header();
    typ_jwe.typ = Some("dpop+jwt".into());

    let cases: Vec<(&str, &str, String)> = vec![
        (
            "alg none",
            "header is malformed",
            raw(json!({"alg": "none", "typ": "JWT"}), &good, b""),
        ),
        (
            "alg none, kid known",
            "header is malformed",
            raw(json!({"alg": "none", "kid": "rsa-1"}), &good, b""),
        ),
        (
            "HS256 signed with the RSA public PEM",
            "algorithm is not accepted",
            hmac_with(
                Header::new(Algorithm::HS256),
                rsa_pem,
                &claims(PEM_ISS, "v"),
            ),
        ),
        (
            "HS256 with kid of an RSA JWK, PEM as secret",
            "algorithm is not accepted",
            hmac_with(hs_as_rsa.clone(), f.rsa.public_pem.as_bytes(), &good),
        ),
        (
            "HS256 with kid of an RSA JWK, modulus as secret",
            "algorithm is not accepted",
            hmac_with(hs_as_rsa, n.as_bytes(), &good),
        ),
        (
            "expired",
            "expired",
            f.rsa.sign(&with(good.clone(), "exp", json!(now() - 3600))),
        ),
        (
            "nbf in the future",
            "not valid yet",
            f.rsa.sign(&with(good.clone(), "nbf", json!(now() + 3600))),
        ),
        (
            "iat in the future",
            "issued in the future",
            f.rsa.sign(&with(good.clone(), "iat", json!(now() + 3600))),
        ),
        (
            "exp not a number",
            "exp",
            f.rsa.sign(&with(good.clone(), "exp", json!("tomorrow"))),
        ),
        (
            "wrong iss",
            "issuer is not trusted",
            f.rsa
                .sign(&with(good.clone(), "iss", json!("https://evil.test/"))),
        ),
        (
            "iss not a string",
            "no iss claim",
            f.rsa.sign(&with(good.clone(), "iss", json!([ISSUER]))),
        ),
        (
            "wrong aud",
            "(aud)",
            f.rsa
                .sign(&with(good.clone(), "aud", json!("someone-else"))),
        ),
        (
            "missing aud",
            "aud claim",
            f.rsa.sign(&with(good.clone(), "aud", Value::Null)),
        ),
        (
            "missing exp",
            "exp claim",
            f.rsa.sign(&with(good.clone(), "exp", Value::Null)),
        ),
        (
            "missing subject",
            "names no caller",
            f.rsa.sign(&with(good.clone(), "sub", Value::Null)),
        ),
        (
            "payload tampered",
            "signature does not verify",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(with(good.clone(), "sub", json!("admin"))
                    .to_string()
                    .as_bytes()),
                parts[2]
            ),
        ),
        (
            "signature stripped",
            "signature does not verify",
            format!("{}.{}.", parts[0], parts[1]),
        ),
        (
            "signature of another key, known kid",
            "signature does not verify",
            {
                let mut h = f.attacker.header();
                h.kid = Some("rsa-1".into());
                f.attacker.sign_with(h, &good)
            },
        ),
        ("unknown kid", "(kid) is unknown", f.attacker.sign(&good)),
        (
            "jku to the attacker's key set",
            "names its own key",
            header_with(&|h| h.jku = Some("http://127.0.0.1:9/jwks".into())),
        ),
        (
            "jwk of the attacker",
            "names its own key",
            header_with(&|h| h.jwk = Some(attacker_jwk.clone())),
        ),
        (
            "jwk of the attacker, known kid",
            "names its own key",
            header_with(&|h| {
                h.kid = Some("rsa-1".into());
                h.jwk = Some(attacker_jwk.clone());
            }),
        ),
        (
            "x5u to the attacker",
            "names its own key",
            header_with(&|h| h.x5u = Some("http://127.0.0.1:9/cert".into())),
        ),
        (
            "x5c of the attacker",
            "names its own key",
            header_with(&|h| h.x5c = Some(vec!["MIIB".into()])),
        ),
        ("typ not a JWT", "typ", f.rsa.sign_with(typ_jwe, &good)),
        (
            "ECDSA r = s = 0",
            "signature does not verify",
            raw(es_header.clone(), &claims(ES_ISS, "v"), &[0u8; 64]),
        ),
        (
            "ECDSA signature of wrong length",
            "signature does not verify",
            raw(es_header, &claims(ES_ISS, "v"), &[1u8; 12]),
        ),
        ("ES256 key claimed as ES384", "algorithm", {
            let mut h = f.es.header();
            h.alg = Algorithm::ES384;
            raw(
                serde_json::to_value(&h).unwrap(),
                &claims(ES_ISS, "v"),
                &[1u8; 96],
            )
        }),
        (
            "16 KiB token",
            "too large",
            f.rsa
                .sign(&with(good.clone(), "pad", json!("x".repeat(16 * 1024)))),
        ),
        (
            "non-base64 characters",
            "characters",
            "eyJ!!!.eyJ***.c2ln".to_owned(),
        ),
        (
            "base64 that is not JSON",
            "malformed",
            "aGVsbG8.d29ybGQ.c2ln".to_owned(),
        ),
        (
            "header of invalid base64 length",
            "malformed",
            format!("e.{}.{}", parts[1], parts[2]),
        ),
        (
            "two segments",
            "not a JWT",
            format!("{}.{}", parts[0], parts[1]),
        ),
        (
            "four segments",
            "not a JWT",
            format!("{valid}.{}", parts[2]),
        ),
        (
            "five segments (JWE shape)",
            "not a JWT",
            "a.b.c.d.e".to_owned(),
        ),
        (
            "whitespace inside",
            "characters",
            format!("{} {}", parts[0], parts[1]),
        ),
    ];
    for (case, reason, token) in cases {
        let result = f.verifier.verify(&token).await;
        assert!(
            matches!(&result, Err(AuthError::Invalid(why)) if why.contains(reason)),
            "{case}: expected Invalid(..{reason}..), got {result:?}"
        );
    }
    // The checks above refuse for the stated reason, not because the base token was bad.
    assert!(f.verifier.verify(&valid).await.is_ok());
    let padded = f
        .rsa
        .sign(&with(good.clone(), "pad", json!("x".repeat(4 * 1024))));
    assert!(
        f.verifier.verify(&padded).await.is_ok(),
        "a 5 KiB token is under the cap"
    );
}

#[tokio::test]
async fn missing_scope_or_unknown_policy_is_forbidden() {
    let f = fixture().await;
    let no_scope = with(claims(ISSUER, "u1"), "scope", json!("openid profile"));
    let err = f.verifier.verify(&f.rsa.sign(&no_scope)).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Forbidden(m) if m.contains("vod.upload")),
        "{err:?}"
    );
    let gold = with(claims(ISSUER, "u1"), "vod_policy", json!("gold"));
    let err = f.verifier.verify(&f.rsa.sign(&gold)).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Forbidden(m) if m.contains("gold")),
        "{err:?}"
    );
}
