//! `[[api_keys]]`: the API keys by their SHA-256; `crate::auth::api_key` checks them
//! against the policies and verifies presented keys.

use serde::{Deserialize, Serialize};

/// One `[[api_keys]]` entry. The key itself is never stored: only its SHA-256, which
/// `Debug` does not show either.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// The key's id: the part between `vsk_` and the next `_` of the key. Letters, digits, `-`.
    pub id: String,
    /// Hex SHA-256 of the whole key, as printed by `vodsign hash-key`.
    pub sha256: String,
    /// Who the key acts for: feeds the sourceContext template.
    pub subject: String,
    /// Name of the policy in `[policies]` that applies to this key.
    pub policy: String,
}

impl std::fmt::Debug for ApiKeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeySettings")
            .field("id", &self.id)
            .field("sha256", &"[REDACTED]")
            .field("subject", &self.subject)
            .field("policy", &self.policy)
            .finish()
    }
}
