//! `[admin]`: the operators' listener, which must never share the public one's port, and
//! whether it may reload the configuration (`POST /-/reload`).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Settings};

/// `[admin]`: the operators' listener (`/metrics`, `/healthz`, `/readyz`, `/-/reload`),
/// never the public one. Read at start-up only.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Serve the admin listener at all. Default `true`.
    pub enabled: bool,
    /// Address of the admin listener; must differ from `server.listen`.
    /// Default `127.0.0.1:8081`: next to the public 8080 and clear of a local monitoring
    /// stack (Prometheus 9090, Pushgateway 9091, Alertmanager 9093, node_exporter 9100,
    /// Grafana 3000), so the development config starts beside a local Prometheus.
    pub listen: SocketAddr,
    /// Answer `POST /-/reload` (the same reload as SIGHUP). Default `false`, as Prometheus's
    /// `--web.enable-lifecycle`: the admin listener binds the pod address in Kubernetes so
    /// Prometheus can scrape it, and changing what the service does is a step an operator
    /// turns on, not one anybody who can reach the port gets by default.
    pub enable_reload: bool,
    /// Answer the event relay's admin routes under `/-/webhooks/` (list, show and replay
    /// messages, list and re-enable endpoints). Default `false`, for the same reason as
    /// `enable_reload`: they show message bodies and change what is delivered.
    pub enable_webhook_admin: bool,
    /// The environment variable (or `<NAME>_FILE`) holding a token that `POST /-/reload`
    /// and the `/-/webhooks/` routes must carry as `Authorization: Bearer <token>`; unset:
    /// no token is asked for. `vodsign reload` reads the same variable to send it.
    pub reload_token_env: Option<String>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            enable_reload: false,
            enable_webhook_admin: false,
            reload_token_env: None,
        }
    }
}

/// Refuses an admin listener on the public address: `/metrics` must never be public.
pub(super) fn validate(settings: &Settings) -> Result<(), ConfigError> {
    let (admin, public) = (settings.admin.listen, settings.server.listen);
    if settings.admin.enabled && admin.port() == public.port() && admin.port() != 0 {
        return Err(ConfigError::key(
            "admin.listen",
            format!(
                "must not share port {} with server.listen; pick another port (default 8081)",
                admin.port()
            ),
        ));
    }
    if let Some(var) = &settings.admin.reload_token_env
        && (var.is_empty() || var.contains('='))
    {
        return Err(ConfigError::key(
            "admin.reload_token_env",
            "must name an environment variable (e.g. VODSIGN_ADMIN_TOKEN), not hold the token",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_port_must_differ_from_the_public_one() {
        let mut settings = Settings::default();
        assert!(validate(&settings).is_ok());
        settings.admin.listen = settings.server.listen;
        let err = validate(&settings).unwrap_err();
        assert!(err.to_string().contains("admin.listen"), "{err}");
        settings.admin.enabled = false;
        assert!(validate(&settings).is_ok());
    }

    #[test]
    fn the_default_admin_port_is_clear_of_a_local_monitoring_stack() {
        let settings = Settings::default();
        let port = settings.admin.listen.port();
        assert!(
            ![9090, 9091, 9093, 9100, 3000].contains(&port),
            "{port} is taken by Prometheus, Pushgateway, Alertmanager, node_exporter or Grafana"
        );
        assert_ne!(port, settings.server.listen.port());
    }
}
