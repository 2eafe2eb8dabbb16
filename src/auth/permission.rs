//! May this authenticated caller upload, and under which policy?
//!
//! Each provider has its own rules (its `access` table, [`AccessSettings`]): required scopes, a value
//! required in a named claim, and where the policy name comes from. A caller who proved who
//! they are but fails these gets [`AuthError::Forbidden`] saying what is missing; a token that
//! names a policy the service does not define is refused, never mapped to a fallback.

use std::collections::BTreeSet;

use crate::auth::AuthError;
use crate::auth::claims::{Claims, claim_strings, granted_scopes};
use crate::config::{AccessSettings, ConfigError};

/// The checked form of [`AccessSettings`]: every configured policy name is known to exist.
#[derive(Clone, Debug)]
pub(crate) struct AccessRules {
    config: AccessSettings,
    /// Only consulted for names read from tokens; configured names were checked at start-up.
    policy_names: BTreeSet<String>,
}

impl AccessRules {
    /// Checks `config` against the service's policies; `key` is the config path of the table.
    pub(crate) fn new(
        config: &AccessSettings,
        policy_names: &BTreeSet<String>,
        key: &str,
    ) -> Result<Self, ConfigError> {
        let unknown = |name: &str| !policy_names.contains(name);
        if config.policy_claim.is_none()
            && config.role_policies.is_empty()
            && config.default_policy.is_none()
        {
            return Err(ConfigError::key(
                key,
                "set default_policy, policy_claim or role_policies so callers get a policy",
            ));
        }
        if let Some(name) = config.default_policy.as_deref().filter(|n| unknown(n)) {
            return Err(ConfigError::key(
                format!("{key}.default_policy"),
                format!("policy `{name}` is not defined"),
            ));
        }
        if let Some(rp) = config.role_policies.iter().find(|rp| unknown(&rp.policy)) {
            return Err(ConfigError::key(
                format!("{key}.role_policies"),
                format!(
                    "role `{}` maps to undefined policy `{}`",
                    rp.role, rp.policy
                ),
            ));
        }
        if config
            .required_scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(ConfigError::key(
                format!("{key}.required_scopes"),
                "each scope must be one non-empty word",
            ));
        }
        if let Some(rc) = &config.required_claim
            && (rc.claim.is_empty() || rc.value.is_empty())
        {
            return Err(ConfigError::key(
                format!("{key}.required_claim"),
                "both claim and value must be non-empty",
            ));
        }
        Ok(AccessRules {
            config: config.clone(),
            policy_names: policy_names.clone(),
        })
    }

    /// The policy this caller uploads under, or why they may not upload.
    pub(crate) fn decide(&self, claims: &Claims) -> Result<String, AuthError> {
        let scopes = granted_scopes(claims);
        if let Some(missing) = self
            .config
            .required_scopes
            .iter()
            .find(|s| !scopes.contains(&s.as_str()))
        {
            return Err(AuthError::Forbidden(format!(
                "the token lacks the scope `{missing}` needed to upload; ask the identity \
                 provider to grant it"
            )));
        }
        if let Some(rc) = &self.config.required_claim
            && !claim_strings(claims, &rc.claim).contains(&rc.value.as_str())
        {
            return Err(AuthError::Forbidden(format!(
                "the token's `{}` claim does not contain `{}`, which uploading requires; ask \
                 the identity provider to grant it",
                rc.claim, rc.value
            )));
        }
        self.policy(claims)
    }

    fn policy(&self, claims: &Claims) -> Result<String, AuthError> {
        if let Some(claim) = &self.config.policy_claim
            && let Some(value) = claims.get(claim)
        {
            let Some(name) = value.as_str() else {
                return Err(AuthError::Forbidden(format!(
                    "the token's `{claim}` claim must be a string naming an upload policy"
                )));
            };
            if !self.policy_names.contains(name) {
                let shown: String = name.chars().take(64).collect();
                return Err(AuthError::Forbidden(format!(
                    "the token's `{claim}` claim names policy `{shown}`, which this service \
                     does not define; ask the identity provider to fix the claim"
                )));
            }
            return Ok(name.to_owned());
        }
        let roles = claim_strings(claims, &self.config.role_claim);
        if let Some(rp) = self
            .config
            .role_policies
            .iter()
            .find(|rp| roles.contains(&rp.role.as_str()))
        {
            return Ok(rp.policy.clone());
        }
        self.config.default_policy.clone().ok_or_else(|| {
            AuthError::Forbidden(
                "no upload policy applies to this caller: the token carries neither a policy \
                 claim nor a role this service maps to a policy"
                    .to_owned(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn names() -> BTreeSet<String> {
        ["standard", "unlimited"].map(String::from).into()
    }

    fn rules(toml_like: Value) -> Result<AccessRules, ConfigError> {
        let config: AccessSettings = serde_json::from_value(toml_like).expect("valid access table");
        AccessRules::new(&config, &names(), "auth.jwt[0].access")
    }

    fn claims(value: Value) -> Claims {
        serde_json::from_value(value).expect("object")
    }

    #[test]
    fn refuses_config_without_policy_source_or_with_unknown_policy() {
        assert!(rules(json!({})).is_err());
        let err = rules(json!({"default_policy": "gold"})).expect_err("unknown policy");
        assert_eq!(err.setting(), Some("auth.jwt[0].access.default_policy"));
        assert!(rules(json!({"role_policies": [{"role": "a", "policy": "gold"}]})).is_err());
    }

    #[test]
    fn missing_scope_or_role_is_forbidden_and_named() {
        let r = rules(json!({"required_scopes": ["vod.upload"],
            "required_claim": {"claim": "roles", "value": "uploader"},
            "default_policy": "standard"}))
        .expect("valid");
        let err = r
            .decide(&claims(json!({"scope": "openid", "roles": ["uploader"]})))
            .expect_err("no scope");
        assert!(matches!(err, AuthError::Forbidden(m) if m.contains("vod.upload")));
        let err = r
            .decide(&claims(json!({"scp": ["vod.upload"], "roles": "viewer"})))
            .expect_err("no role");
        assert!(matches!(err, AuthError::Forbidden(m) if m.contains("uploader")));
        assert_eq!(
            r.decide(&claims(json!({"scp": ["vod.upload"], "roles": "uploader"}))),
            Ok("standard".into())
        );
    }

    #[test]
    fn policy_claim_then_roles_then_default() {
        let r = rules(json!({"policy_claim": "vod_policy",
            "role_policies": [{"role": "admin", "policy": "unlimited"}],
            "default_policy": "standard"}))
        .expect("valid");
        let decide = |v| r.decide(&claims(v));
        assert_eq!(
            decide(json!({"vod_policy": "standard", "roles": ["admin"]})),
            Ok("standard".into())
        );
        assert_eq!(decide(json!({"roles": ["admin"]})), Ok("unlimited".into()));
        assert_eq!(decide(json!({"roles": ["x"]})), Ok("standard".into()));
        assert!(matches!(
            decide(json!({"vod_policy": "gold"})),
            Err(AuthError::Forbidden(m)) if m.contains("`gold`")
        ));
        assert!(matches!(
            decide(json!({"vod_policy": 1})),
            Err(AuthError::Forbidden(_))
        ));
    }
}
