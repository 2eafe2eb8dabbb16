//! `vodsign inspect`: Tencent's online signature checker, offline.
//!
//! Decodes a signature, lists its parameters, checks the MAC when the key is known, checks
//! the time window, and warns about what VOD is known to reject. Pure: the clock and the
//! key are arguments.
//!
//! It reads other people's signatures too, so it is more lenient than the decoder the
//! service trusts: an empty value (`procedure=`, as Tencent's own Node.js sample sends) is
//! noted and read as absent, the way VOD reads it, instead of refused.
//!
//! A `sourceContext` or `sessionContext` that is vodsign's signed context (`vs1.…`) is
//! described by [`context`]: the upload it names and whether its tag verifies; one that does
//! not verify, or only looks like a token, makes the signature not valid for a ticket.

pub mod context;

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::credentials::{PLACEHOLDER_SECRET_ID, PLACEHOLDER_SECRET_KEY};
use crate::signature::encode::PARAMETER_ORDER;
use crate::signature::is_canonical_integer;
use crate::signature::{DecodeError, DecodedSignature, Signer, Validity};
use context::{ContextKeyring, TokenFinding};

/// Parameter names of the retired legacy signature (`s,f,t,e,r,...`).
const LEGACY: [&str; 8] = ["s", "f", "t", "e", "r", "a", "b", "u"];
const INTEGERS: [&str; 7] = [
    "currentTimeStamp",
    "expireTime",
    "random",
    "classId",
    "taskPriority",
    "oneTimeValid",
    "vodSubAppId",
];
const REQUIRED: [&str; 4] = ["secretId", "currentTimeStamp", "expireTime", "random"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacCheck {
    Verified,
    Mismatch,
    /// No key was given.
    NotChecked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeCheck {
    Valid { seconds_left: u64 },
    Expired { seconds_ago: u64 },
    NotYetValid { seconds_until: u64 },
    Unknown,
}

/// What `inspect` found.
#[derive(Debug, Clone)]
pub struct Report {
    pub original: String,
    pub params: Vec<(String, String)>,
    pub mac: MacCheck,
    pub time: TimeCheck,
    /// Problems VOD rejects the signature for.
    pub errors: Vec<String>,
    /// Things that may work but are risky, or that VOD refuses for reasons outside the
    /// signature itself (the development placeholder credentials).
    pub warnings: Vec<String>,
    /// What VOD accepts but vodsign would not write (empty values).
    pub notes: Vec<String>,
    /// Made with vodsign's development placeholder credentials, which VOD refuses.
    pub placeholder: bool,
    /// Each context parameter that is (or looks like) a vodsign context token, with what
    /// it is, as one line.
    pub contexts: Vec<(String, TokenFinding, String)>,
}

impl Report {
    /// Valid: the MAC did not fail, the time window holds, and no error was found.
    pub fn is_valid(&self) -> bool {
        self.mac != MacCheck::Mismatch
            && matches!(self.time, TimeCheck::Valid { .. })
            && self.errors.is_empty()
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "original: {}", self.original);
        let _ = writeln!(out, "parameters:");
        for (name, value) in &self.params {
            let _ = writeln!(out, "  {name} = {value:?}");
        }
        let mac = match self.mac {
            MacCheck::Verified => "verified with VODSIGN_SECRET_KEY",
            MacCheck::Mismatch => "DOES NOT VERIFY with VODSIGN_SECRET_KEY (wrong key, or altered)",
            MacCheck::NotChecked => "not checked (set VODSIGN_SECRET_KEY to check it)",
        };
        let _ = writeln!(out, "mac: {mac}");
        let time = match self.time {
            TimeCheck::Valid { seconds_left } => format!("valid for {seconds_left} more seconds"),
            TimeCheck::Expired { seconds_ago } => format!("EXPIRED {seconds_ago} seconds ago"),
            TimeCheck::NotYetValid { seconds_until } => {
                format!("NOT YET VALID: issued {seconds_until} seconds in the future (clock skew?)")
            }
            TimeCheck::Unknown => "unknown (timestamps missing or malformed)".to_owned(),
        };
        let _ = writeln!(out, "time: {time}");
        for (name, _, line) in &self.contexts {
            let _ = writeln!(out, "context: {name}: {line}");
        }
        for error in &self.errors {
            let _ = writeln!(out, "error: {error}");
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let verdict = match (self.is_valid(), self.placeholder) {
            (true, false) => "VALID",
            (true, true) => {
                "VALID, but VOD refuses it: made with the development placeholder credentials"
            }
            (false, _) => "INVALID",
        };
        let _ = writeln!(out, "verdict: {verdict}");
        out
    }
}

/// Inspects `signature` at Unix time `now`, checking the MAC when `signer` is given (a
/// context token is described, its tag not checked).
pub fn inspect(signature: &str, signer: Option<&Signer>, now: u64) -> Result<Report, DecodeError> {
    let keyring = ContextKeyring {
        var: crate::config::DEFAULT_CONTEXT_KEY_ENV,
        keys: None,
    };
    inspect_with_context(signature, signer, keyring, now)
}

/// [`inspect`], checking the tags of context tokens with `keyring`.
pub fn inspect_with_context(
    signature: &str,
    signer: Option<&Signer>,
    keyring: ContextKeyring<'_>,
    now: u64,
) -> Result<Report, DecodeError> {
    let decoded = DecodedSignature::decode(signature.trim())?;
    let mac = match signer {
        Some(signer) if signer.verifies(&decoded) => MacCheck::Verified,
        Some(_) => MacCheck::Mismatch,
        None => MacCheck::NotChecked,
    };
    let params = decoded.pairs()?;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    // VOD reads an empty value as absent: every check below but the duplicate count does
    // too.
    for (name, value) in &params {
        if value.is_empty() {
            notes.push(format!(
                "{name} is empty: VOD treats an empty parameter as absent (vodsign never signs one)"
            ));
        }
    }
    let present: Vec<&(String, String)> = params.iter().filter(|(_, v)| !v.is_empty()).collect();

    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (name, _) in &params {
        *counts.entry(name.as_str()).or_default() += 1;
    }
    let legacy: Vec<&str> = LEGACY
        .into_iter()
        .filter(|n| counts.contains_key(n))
        .collect();
    if !legacy.is_empty() {
        errors.push(format!(
            "legacy parameters {} belong to a retired API; use secretId, currentTimeStamp, expireTime, random",
            legacy.join(", ")
        ));
    }
    for (name, count) in &counts {
        if *count > 1 {
            errors.push(format!("{name} appears {count} times"));
        }
        if !PARAMETER_ORDER.contains(name) && !LEGACY.contains(name) {
            warnings.push(format!(
                "unknown parameter {name}: VOD may ignore or reject it"
            ));
        }
    }
    for name in REQUIRED {
        if !present.iter().any(|(n, _)| n == name) && legacy.is_empty() {
            errors.push(format!("required parameter {name} is missing"));
        }
    }
    let value = |name: &str| {
        present
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    for name in INTEGERS {
        if let Some(v) = value(name)
            && !is_canonical_integer(v)
        {
            errors.push(format!(
                "{name} = {v:?} is not a plain decimal integer (no fraction, exponent, '+' or leading zero)"
            ));
        }
    }
    if value("random").is_some_and(|v| is_canonical_integer(v) && v.parse::<u32>().is_err()) {
        errors.push("random is outside the unsigned 32-bit range".to_owned());
    }
    check_plus_signs(&decoded.original, &mut warnings);
    let placeholder = value("secretId") == Some(PLACEHOLDER_SECRET_ID)
        || Signer::new(PLACEHOLDER_SECRET_KEY.as_bytes()).verifies(&decoded);
    if placeholder {
        warnings.push(format!(
            "made with vodsign's development placeholder credentials (SecretId \
             {PLACEHOLDER_SECRET_ID}): VOD refuses it; give the service the real VOD API key \
             (VODSIGN_SECRET_ID and VODSIGN_SECRET_KEY)"
        ));
    }
    if let Some(err) = without_empty_values(&decoded).params().err()
        && !matches!(
            err,
            DecodeError::Unknown(_)
                | DecodeError::Duplicate(_)
                | DecodeError::Missing(_)
                | DecodeError::NotInteger(_)
        )
        && legacy.is_empty()
    {
        errors.push(err.to_string());
    }

    let contexts = check_contexts(&present, keyring, &mut errors);

    let current = value("currentTimeStamp").and_then(|v| v.parse::<u64>().ok());
    let expire = value("expireTime").and_then(|v| v.parse::<u64>().ok());
    let time = match (current, expire) {
        (Some(current), Some(expire)) => {
            if expire.saturating_sub(current) > u64::from(Validity::MAX_SECONDS) {
                warnings.push(format!(
                    "validity of {} seconds is over VOD's 90-day limit",
                    expire.saturating_sub(current)
                ));
            }
            if current > now {
                TimeCheck::NotYetValid {
                    seconds_until: current - now,
                }
            } else if expire <= now {
                TimeCheck::Expired {
                    seconds_ago: now - expire,
                }
            } else {
                TimeCheck::Valid {
                    seconds_left: expire - now,
                }
            }
        }
        _ => TimeCheck::Unknown,
    };
    Ok(Report {
        original: decoded.original,
        params,
        mac,
        time,
        errors,
        warnings,
        notes,
        placeholder,
        contexts,
    })
}

/// The context parameters that are (or look like) vodsign context tokens, each described
/// in a line; an error for each refused, and for two tokens that differ (a ticket's
/// signatures carry the same one in both).
fn check_contexts(
    present: &[&(String, String)],
    keyring: ContextKeyring<'_>,
    errors: &mut Vec<String>,
) -> Vec<(String, TokenFinding, String)> {
    let mut found = Vec::new();
    for (name, value) in present {
        if !matches!(name.as_str(), "sourceContext" | "sessionContext") {
            continue;
        }
        let Some(finding) = keyring.check(value) else {
            continue;
        };
        let line = match &finding {
            TokenFinding::Token { upload, tag } => format!(
                "vodsign context token naming upload {upload}; tag {}",
                keyring.describe(*tag)
            ),
            TokenFinding::Malformed(why) => {
                format!("looks like a vodsign context token but is not one: {why}")
            }
        };
        match &finding {
            TokenFinding::Token { .. } if finding.is_refused() => errors.push(format!(
                "{name}: its context token does not verify: forged, tampered with or \
                 foreign; not valid for an upload ticket"
            )),
            TokenFinding::Malformed(_) => errors.push(format!(
                "{name} starts like a vodsign context token (vs1.) but is malformed; vodsign \
                 never writes such a value"
            )),
            TokenFinding::Token { .. } => {}
        }
        found.push(((*name).clone(), value.clone(), finding, line));
    }
    if let [(_, a, ..), (_, b, ..)] = found.as_slice()
        && a != b
    {
        errors.push(
            "sourceContext and sessionContext carry different context tokens; a ticket's \
             signatures carry the same token in both"
                .to_owned(),
        );
    }
    found
        .into_iter()
        .map(|(name, _, finding, line)| (name, finding, line))
        .collect()
}

/// `decoded` without its empty `name=` pairs, for the strict decoder: VOD reads them as
/// absent, and the strict decoder (rightly, for what the service signs) refuses them.
fn without_empty_values(decoded: &DecodedSignature) -> DecodedSignature {
    let original = decoded
        .original
        .split('&')
        .filter(|pair| {
            !pair
                .split_once('=')
                .is_some_and(|(_, value)| value.is_empty())
        })
        .collect::<Vec<_>>()
        .join("&");
    DecodedSignature {
        mac: decoded.mac,
        original,
    }
}

/// A raw `+` reads as a space to a form parser and as a plus to a strict one.
fn check_plus_signs(original: &str, warnings: &mut Vec<String>) {
    for pair in original.split('&') {
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if raw.contains('+') {
            warnings.push(format!(
                "{name} contains a raw '+': a strict parser reads a plus, a form parser a space; encode it as %2B or %20"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::sign_original;

    const KEY: &[u8] = b"IamSecretKey";

    fn check(original: &str, now: u64) -> Report {
        inspect(&sign_original(KEY, original), Some(&Signer::new(KEY)), now).expect("decodes")
    }

    #[test]
    fn a_fresh_signature_is_valid() {
        let r = check(
            "secretId=a&currentTimeStamp=100&expireTime=200&random=1",
            150,
        );
        assert_eq!(r.mac, MacCheck::Verified);
        assert_eq!(r.time, TimeCheck::Valid { seconds_left: 50 });
        assert!(r.is_valid(), "{}", r.render());
    }

    #[test]
    fn time_window_is_checked() {
        let original = "secretId=a&currentTimeStamp=100&expireTime=200&random=1";
        assert_eq!(
            check(original, 200).time,
            TimeCheck::Expired { seconds_ago: 0 }
        );
        assert_eq!(
            check(original, 90).time,
            TimeCheck::NotYetValid { seconds_until: 10 }
        );
        assert!(!check(original, 201).is_valid());
    }

    #[test]
    fn wrong_key_is_a_mismatch_and_no_key_is_not_checked() {
        let sig = sign_original(KEY, "secretId=a&currentTimeStamp=1&expireTime=9&random=1");
        let wrong = inspect(&sig, Some(&Signer::new(b"other")), 5).expect("decodes");
        assert_eq!(wrong.mac, MacCheck::Mismatch);
        assert!(!wrong.is_valid());
        let unchecked = inspect(&sig, None, 5).expect("decodes");
        assert_eq!(unchecked.mac, MacCheck::NotChecked);
        assert!(unchecked.render().contains("not checked"));
    }

    #[test]
    fn known_rejections_are_reported() {
        let r = check(
            "secretId=a&currentTimeStamp=1571215095.5&expireTime=1886575095&random=1&sourceContext=a+b&foo=1",
            1_571_215_100,
        );
        let text = r.render();
        assert!(
            text.contains("currentTimeStamp = \"1571215095.5\" is not a plain decimal"),
            "{text}"
        );
        assert!(text.contains("raw '+'"), "{text}");
        assert!(text.contains("unknown parameter foo"), "{text}");
        assert!(!r.is_valid());
        let long = check(
            "secretId=a&currentTimeStamp=1571215095&expireTime=1886575095&random=1",
            1_571_215_100,
        );
        assert!(
            long.render().contains("over VOD's 90-day limit"),
            "{}",
            long.render()
        );
        assert!(!long.is_valid());
    }

    #[test]
    fn empty_values_are_read_as_absent_with_a_note() {
        // Tencent's Node.js sample sends `procedure=` and `sourceContext=`.
        let r = check(
            "secretId=a&currentTimeStamp=100&expireTime=200&random=1&procedure=&sourceContext=",
            150,
        );
        assert!(r.is_valid(), "{}", r.render());
        assert_eq!(r.notes.len(), 2, "{}", r.render());
        assert!(
            r.render()
                .contains("note: procedure is empty: VOD treats an empty parameter as absent"),
            "{}",
            r.render()
        );
        // Absent is absent: an empty required parameter is missing, an empty integer is
        // not checked as one.
        let r = check(
            "secretId=&currentTimeStamp=100&expireTime=200&random=1&classId=",
            150,
        );
        assert!(
            r.render()
                .contains("required parameter secretId is missing"),
            "{}",
            r.render()
        );
        assert!(
            !r.render().contains("classId = \"\" is not"),
            "{}",
            r.render()
        );
        assert!(!r.is_valid());
        // A value that is only `=` is not empty.
        let r = check(
            "secretId=a&currentTimeStamp=100&expireTime=200&random=1&procedure==",
            150,
        );
        assert!(r.notes.is_empty(), "{}", r.render());
    }

    #[test]
    fn the_development_placeholder_is_warned_about() {
        let by_id = check(
            &format!(
                "secretId={PLACEHOLDER_SECRET_ID}&currentTimeStamp=100&expireTime=200&random=1"
            ),
            150,
        );
        let text = by_id.render();
        assert!(
            text.contains("warning: made with vodsign's development placeholder"),
            "{text}"
        );
        assert!(
            text.contains("verdict: VALID, but VOD refuses it"),
            "{text}"
        );
        let original = "secretId=AKIDother&currentTimeStamp=100&expireTime=200&random=1";
        let by_key = inspect(
            &sign_original(PLACEHOLDER_SECRET_KEY.as_bytes(), original),
            None,
            150,
        )
        .expect("decodes");
        assert!(by_key.placeholder, "{}", by_key.render());
        assert!(!check(original, 150).placeholder);
    }

    #[test]
    fn legacy_vector_is_recognised() {
        let r = check(
            "s=AKID&f=x.mp4&t=1437995644&e=1437995704&r=2081660421",
            1_437_995_650,
        );
        assert!(r.render().contains("legacy parameters"), "{}", r.render());
        assert!(!r.is_valid());
    }
}
