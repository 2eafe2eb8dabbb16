//! Request ids: a client's `x-request-id` is kept only when it is a sane token, so ids
//! that reach logs and envelopes are short and printable; otherwise the service makes one.

use axum::http::HeaderValue;

/// Longest client-supplied request id kept.
const MAX_LEN: usize = 128;

/// True for 1..=128 characters of letters, digits and `-_.:`.
pub fn is_well_formed(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// A new request id: a random (version 4) UUID, lowercase and hyphenated, formatted on the
/// stack. Its randomness comes from the thread's generator (`uuid`'s `fast-rng`), not a
/// system call: unique across replicas without coordination, and cheap.
pub fn generate() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).expect("a UUID is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_id_is_a_well_formed_v4_uuid_and_new_each_time() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(is_well_formed(a.as_bytes()));
        let parsed = uuid::Uuid::parse_str(a.to_str().expect("ascii")).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a.to_str().expect("ascii"), parsed.hyphenated().to_string());
    }
}
