//! What a valid configuration may still get wrong: settings that load, but leave the
//! service unusable or unprotected. `vodsign check-config` prints them; none stops start-up.

use super::Settings;

impl Settings {
    /// One sentence per doubtful setting, naming the key and what to do; empty when none.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.api_keys.is_empty()
            && self.auth.jwt.is_empty()
            && self.auth.introspection.is_empty()
        {
            warnings.push(
                "nobody can authenticate: there are no [[api_keys]], [[auth.jwt]] or \
                 [[auth.introspection]] entries, so every signature request gets 401; add one"
                    .to_owned(),
            );
        }
        for (name, policy) in &self.policies {
            if policy.limits.is_none() {
                warnings.push(format!(
                    "policy {name} has no [policies.{name}.limits]: its callers have no rate \
                     limit and no quota; add rate_per_second or rate_per_minute (and a quota)"
                ));
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApiKeySettings, PolicyLimits, PolicySettings};

    #[test]
    fn warns_when_nobody_can_authenticate_and_for_each_unlimited_policy() {
        let mut settings = Settings::default();
        settings
            .policies
            .insert("open".to_owned(), PolicySettings::default());
        let limited = PolicySettings {
            limits: Some(PolicyLimits::per_second(5, 10).expect("valid")),
            ..PolicySettings::default()
        };
        settings.policies.insert("limited".to_owned(), limited);
        let warnings = settings.warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("nobody can authenticate"));
        assert!(warnings[1].starts_with("policy open has no [policies.open.limits]"));

        settings.api_keys.push(ApiKeySettings {
            id: "k".to_owned(),
            sha256: "0".repeat(64),
            subject: "s".to_owned(),
            policy: "limited".to_owned(),
        });
        settings.policies.remove("open");
        assert_eq!(settings.warnings(), Vec::<String>::new());
    }
}
