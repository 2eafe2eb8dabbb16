//! Signing keys generated per run, and tokens minted with them: for the integration tests
//! (`tests/support/mod.rs` includes this file) and the JWT benches.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://idp.test/";
pub const AUDIENCE: &str = "vodsign";

/// A private key of one algorithm, its public half as a JWK and as PEM.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Jwk,
    pub public_pem: String,
}

impl TestKey {
    fn new(kid: &str, alg: Algorithm, encoding: EncodingKey, public_pem: String) -> TestKey {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).expect("public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.key_algorithm = Some(KeyAlgorithm::from(alg));
        TestKey {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk,
            public_pem,
        }
    }

    /// An RSA key (2048 bits; generated once per run, then shared under other kids).
    pub fn rsa(kid: &str, alg: Algorithm) -> TestKey {
        static PEMS: OnceLock<[(String, String); 2]> = OnceLock::new();
        let pems = PEMS.get_or_init(|| [rsa_pems(), rsa_pems()]);
        let (private, public) = &pems[usize::from(kid.ends_with('2'))];
        let encoding = EncodingKey::from_rsa_pem(private.as_bytes()).expect("RSA key loads");
        TestKey::new(kid, alg, encoding, public.clone())
    }

    pub fn es256(kid: &str) -> TestKey {
        let secret = p256::SecretKey::from_slice(&random_bytes()).expect("valid P-256 scalar");
        let private = secret.to_pkcs8_pem(LineEnding::LF).expect("pkcs8");
        let public = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("spki");
        let encoding = EncodingKey::from_ec_pem(private.as_bytes()).expect("EC key loads");
        TestKey::new(kid, Algorithm::ES256, encoding, public)
    }

    pub fn ed25519(kid: &str) -> TestKey {
        let seed = random_bytes();
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("spki");
        // jsonwebtoken reads the 48-byte PKCS#8 v1 form: a fixed ASN.1 prefix, then the seed.
        let mut der = hex_prefix("302e020100300506032b657004220420");
        der.extend_from_slice(&seed);
        TestKey::new(
            kid,
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(&der),
            public,
        )
    }

    /// A token with a standard header (`typ: JWT`, this key's `alg` and `kid`).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(self.header(), claims)
    }

    pub fn header(&self) -> Header {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header
    }

    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signing works")
    }
}

fn rsa_pems() -> (String, String) {
    let mut rng = getrandom::SysRng;
    let key = rsa::PrivateKey::new(&mut rng, 2048).expect("RSA key generation");
    let private = key.to_pkcs8_pem(LineEnding::LF).expect("pkcs8").to_string();
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("spki");
    (private, public)
}

fn hex_prefix(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("OS randomness");
    bytes
}

/// An HMAC secret of 32 random bytes, printable so it can sit in an environment variable.
pub fn hmac_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}

pub fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).expect("non-empty secret"),
    )
    .expect("signing works")
}

pub fn jwks(keys: &[&TestKey]) -> Value {
    serde_json::to_value(JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    })
    .expect("JWKS serializes")
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Claims that pass every check of the test providers.
pub fn good_claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "exp": now() + 300,
        "iat": now(),
        "scope": "openid vod.upload",
    })
}

/// `claims` with `key` set to `value` (or removed when `value` is null).
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    let map = claims.as_object_mut().expect("claims are an object");
    if value.is_null() {
        map.remove(key);
    } else {
        map.insert(key.to_owned(), value);
    }
    claims
}
