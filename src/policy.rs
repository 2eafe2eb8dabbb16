//! Policies: what a caller may get.
//!
//! A [`Policy`] is built once from its `[policies.NAME]` settings (refused at start-up if
//! inconsistent). [`Policy::grant`] takes the authenticated [`Principal`] and the client's
//! [`SignatureRequest`] and answers either a [`Grant`] (every parameter to sign except the
//! time, the random value and the SecretId) or a precise [`PolicyError`].

use serde::Deserialize;

use crate::config::{ConfigError, PolicySettings};
use crate::principal::Principal;
use crate::signature::{
    ClassId, InvalidParam, Procedure, RawUploadOptions, SecretId, SessionContext, SignParams,
    SourceContext, StorageRegion, TaskNotifyMode, TaskPriority, UploadOptions, Validity,
    VodSubAppId, check_task_flow,
};
pub use template::{Template, Values};

/// What a client may ask for: the body of `POST /v1/signature` or the query of `GET`.
/// Every field is optional: leave it out to get the policy's value (`null` is not a value,
/// so it is refused like any other wrong type). An unknown field is refused, so a typo
/// never silently does nothing. `taskPriority` and `taskNotifyMode` need a `procedure`
/// (the OpenAPI document says so with `dependentRequired`).
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignatureRequest {
    /// Task flow to run after the upload; must be the policy's or one it allows.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 256,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$"
    )]
    pub procedure: Option<String>,
    /// Video category id.
    #[serde(default, deserialize_with = "whole")]
    #[schema(nullable = false)]
    pub class_id: Option<u64>,
    /// Storage region, e.g. `ap-chongqing`.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        max_length = 32,
        pattern = "^[a-z]{2,4}(-[a-z0-9]+)+$"
    )]
    pub storage_region: Option<String>,
    /// VOD sub-application id.
    #[serde(default, deserialize_with = "whole")]
    #[schema(nullable = false)]
    pub vod_sub_app_id: Option<u64>,
    /// Task flow priority, -10 to 10; only together with `procedure`.
    #[serde(default, deserialize_with = "whole")]
    #[schema(nullable = false, minimum = -10, maximum = 10)]
    pub task_priority: Option<i64>,
    /// How the task flow's progress is notified; only together with `procedure`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NotifyMode>, nullable = false)]
    pub task_notify_mode: Option<String>,
    /// Passed back in VOD's event notifications (up to 1000 characters), if the policy
    /// lets clients send one.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 1000,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$"
    )]
    pub session_context: Option<String>,
    /// The client's part of the sourceContext, if the policy's template has `{client}`.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 250,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$"
    )]
    pub source_context: Option<String>,
    /// How long the signature stays valid, in seconds, up to the policy's maximum.
    #[serde(default, deserialize_with = "whole")]
    #[schema(nullable = false, minimum = 1, maximum = 7776000)]
    pub validity_seconds: Option<u64>,
}

/// A field that is there must hold a value: `null` gets the type error any other wrong
/// type gets (an absent field is `None` through `#[serde(default)]`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// An integer field that is there: JSON Schema counts `600.0` as the integer 600, and so
/// does the body (a fraction or a `null` gets the type error).
fn whole<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Whole,
{
    T::deserialize_whole(deserializer).map(Some)
}

/// The integer types of [`SignatureRequest`], read through [`WholeNumber`].
trait Whole: Sized + TryFrom<i64> + TryFrom<u64> {
    fn deserialize_whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

impl Whole for u64 {
    fn deserialize_whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_u64(WholeNumber(std::marker::PhantomData))
    }
}

impl Whole for i64 {
    fn deserialize_whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_i64(WholeNumber(std::marker::PhantomData))
    }
}

/// Takes an integer, or a float without a fraction (`-7.0`), that fits `T`.
struct WholeNumber<T>(std::marker::PhantomData<T>);

impl<T: TryFrom<i64> + TryFrom<u64>> serde::de::Visitor<'_> for WholeNumber<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
    }

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "only whole numbers strictly inside the target range are cast"
    )]
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        // 2^63 and 2^64 are exact in f64; a whole number below them casts exactly.
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        const TWO_64: f64 = 18_446_744_073_709_551_616.0;
        let unexpected = serde::de::Unexpected::Float(v);
        if v.fract() != 0.0 || !v.is_finite() {
            return Err(E::invalid_type(unexpected, &self));
        }
        if (-TWO_63..0.0).contains(&v) {
            self.visit_i64(v as i64)
        } else if (0.0..TWO_64).contains(&v) {
            self.visit_u64(v as u64)
        } else {
            Err(E::invalid_value(unexpected, &self))
        }
    }
}

/// The values of `taskNotifyMode`, for the OpenAPI document (the request keeps the text,
/// checked by [`TaskNotifyMode`]'s parser with a message naming the field).
#[derive(utoipa::ToSchema)]
#[schema(as = TaskNotifyMode)]
#[allow(
    dead_code,
    reason = "a description of the accepted values, not a value"
)]
pub enum NotifyMode {
    Finish,
    Change,
    None,
}

/// The fields that mean nothing without a `procedure`, as the OpenAPI document's
/// `dependentRequired` names them ([`check_task_flow`] enforces it).
pub const NEED_PROCEDURE: [&str; 2] = ["taskPriority", "taskNotifyMode"];

impl SignatureRequest {
    /// The optional parameters the client asked for, unchecked. `sourceContext` is the
    /// client's part only (the policy's template makes the signed one); `oneTimeValid` is
    /// the policy's alone, so never asked for.
    pub fn upload_options(&self) -> RawUploadOptions {
        RawUploadOptions {
            class_id: self.class_id,
            procedure: self.procedure.clone(),
            task_priority: self.task_priority,
            task_notify_mode: self.task_notify_mode.clone(),
            source_context: self.source_context.clone(),
            session_context: self.session_context.clone(),
            one_time_valid: None,
            vod_sub_app_id: self.vod_sub_app_id,
            storage_region: self.storage_region.clone(),
        }
    }
}

/// Why a request cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The value itself is invalid, whatever the policy (40001).
    #[error(transparent)]
    Invalid(#[from] InvalidParam),
    /// A valid value this caller's policy does not allow (40302).
    #[error("{field}: {message}")]
    NotAllowed {
        field: &'static str,
        message: String,
    },
    /// This caller may not upload at all (40301).
    #[error("{0}")]
    Forbidden(String),
}

fn not_allowed(field: &'static str, message: impl Into<String>) -> PolicyError {
    PolicyError::NotAllowed {
        field,
        message: message.into(),
    }
}

/// Everything a signature will carry except `secretId`, `currentTimeStamp` and `random`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub validity: Validity,
    pub options: UploadOptions,
}

impl Grant {
    /// The full parameter set, with the three values that change on every call.
    pub fn into_params(self, secret_id: SecretId, now: u64, random: u32) -> SignParams {
        SignParams {
            secret_id,
            current_time: now,
            validity: self.validity,
            random,
            options: self.options,
        }
    }
}

/// A policy value: the default used when the client asks for nothing, and the values a
/// client may ask for (the default is always allowed).
#[derive(Debug, Clone)]
struct Choice<T> {
    default: Option<T>,
    allowed: Vec<T>,
}

impl<T> Choice<T> {
    /// A policy's `X` and `allowed_X` settings, each value checked by `parse`.
    fn parse<R: Clone>(
        default: &Option<R>,
        allowed: &[R],
        parse: impl Fn(R) -> Result<T, InvalidParam>,
    ) -> Result<Self, InvalidParam> {
        Ok(Self {
            default: default.clone().map(&parse).transpose()?,
            allowed: allowed
                .iter()
                .cloned()
                .map(&parse)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl<T: PartialEq + Clone + std::fmt::Display> Choice<T> {
    fn pick(&self, field: &'static str, asked: Option<T>) -> Result<Option<T>, PolicyError> {
        let Some(asked) = asked else {
            return Ok(self.default.clone());
        };
        if self.default.as_ref() == Some(&asked) || self.allowed.contains(&asked) {
            return Ok(Some(asked));
        }
        let options: Vec<String> = self
            .default
            .iter()
            .chain(self.allowed.iter())
            .map(ToString::to_string)
            .collect();
        Err(not_allowed(
            field,
            if options.is_empty() {
                "your policy does not let clients choose this value; leave it out".to_owned()
            } else {
                format!(
                    "{asked} is not allowed by your policy; use one of: {}",
                    options.join(", ")
                )
            },
        ))
    }
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    allow_upload: bool,
    validity: Validity,
    max_validity: Validity,
    procedure: Choice<Procedure>,
    class_id: Choice<ClassId>,
    storage_region: Choice<StorageRegion>,
    vod_sub_app_id: Choice<VodSubAppId>,
    task_priority: Choice<TaskPriority>,
    task_notify_mode: Choice<TaskNotifyMode>,
    one_time_valid: bool,
    source_context: Option<Template>,
    allow_client_session_context: bool,
}

impl Policy {
    /// Validates `[policies.NAME]`; the error names the offending key.
    pub fn from_settings(name: &str, s: &PolicySettings) -> Result<Self, ConfigError> {
        let key = |field: &str| format!("policies.{name}.{field}");
        let invalid = |field: &str, e: InvalidParam| ConfigError::key(key(field), e.rule);
        let validity =
            Validity::try_from(s.validity_seconds).map_err(|e| invalid("validity_seconds", e))?;
        let max_validity = match s.max_validity_seconds {
            Some(max) => Validity::try_from(max).map_err(|e| invalid("max_validity_seconds", e))?,
            None => validity,
        };
        if max_validity < validity {
            return Err(ConfigError::key(
                key("max_validity_seconds"),
                "must not be smaller than validity_seconds",
            ));
        }
        // A file with several faults is refused for the first in this order; a bad
        // `allowed_X` entry is reported under its key `X`.
        let procedure = Choice::parse(&s.procedure, &s.allowed_procedures, Procedure::try_from)
            .map_err(|e| invalid("procedure", e))?;
        let storage_region = Choice::parse(
            &s.storage_region,
            &s.allowed_storage_regions,
            StorageRegion::try_from,
        )
        .map_err(|e| invalid("storage_region", e))?;
        let task_notify_mode = Choice::parse(
            &s.task_notify_mode,
            &s.allowed_task_notify_modes,
            |mode: String| mode.parse(),
        )
        .map_err(|e| invalid("task_notify_mode", e))?;
        let task_priority = Choice::parse(
            &s.task_priority,
            &s.allowed_task_priorities,
            TaskPriority::try_from,
        )
        .map_err(|e| invalid("task_priority", e))?;
        let source_context = if s.source_context.is_empty() {
            None
        } else {
            let template = Template::parse(&s.source_context)
                .map_err(|rule| ConfigError::key(key("source_context"), rule))?;
            Some(template)
        };
        Ok(Self {
            name: name.to_owned(),
            allow_upload: s.allow_upload,
            validity,
            max_validity,
            procedure,
            class_id: Choice {
                default: s.class_id.map(ClassId),
                allowed: s.allowed_class_ids.iter().copied().map(ClassId).collect(),
            },
            storage_region,
            vod_sub_app_id: Choice {
                default: s.vod_sub_app_id.map(VodSubAppId),
                allowed: s
                    .allowed_vod_sub_app_ids
                    .iter()
                    .copied()
                    .map(VodSubAppId)
                    .collect(),
            },
            task_priority,
            task_notify_mode,
            one_time_valid: s.one_time_valid,
            source_context,
            allow_client_session_context: s.allow_client_session_context,
        })
    }

    /// Decides what `principal` gets for `request`.
    pub fn grant(
        &self,
        principal: &Principal,
        request: &SignatureRequest,
    ) -> Result<Grant, PolicyError> {
        if !self.allow_upload {
            return Err(PolicyError::Forbidden(format!(
                "policy {} does not allow uploads; ask the service operator to enable it",
                self.name
            )));
        }
        let validity = match request.validity_seconds {
            None => self.validity,
            Some(asked) => {
                let asked = Validity::try_from(asked)?;
                if asked > self.max_validity {
                    return Err(not_allowed(
                        "validitySeconds",
                        format!(
                            "your policy allows at most {} seconds",
                            self.max_validity.seconds()
                        ),
                    ));
                }
                asked
            }
        };

        // Each value is checked where the policy first looks at it, not all at once with
        // `UploadOptions::try_from`: a request with several faults is refused for the
        // first one in this order (a 40302 for `procedure` before a 40001 for
        // `storageRegion`, say), and a sessionContext or sourceContext the policy does
        // not take is refused as such before its text is looked at.
        let asked = request.upload_options();
        let asked_procedure = asked.procedure.map(Procedure::try_from).transpose()?;
        let procedure = self.procedure.pick("procedure", asked_procedure)?;

        let asked_priority = asked
            .task_priority
            .map(TaskPriority::try_from)
            .transpose()?;
        let asked_mode = asked
            .task_notify_mode
            .as_deref()
            .map(str::parse::<TaskNotifyMode>)
            .transpose()?;
        check_task_flow(
            procedure.is_some(),
            asked_priority.is_some(),
            asked_mode.is_some(),
        )?;
        let task_priority = self.task_priority.pick("taskPriority", asked_priority)?;
        let task_notify_mode = self.task_notify_mode.pick("taskNotifyMode", asked_mode)?;

        let asked_region = asked
            .storage_region
            .map(StorageRegion::try_from)
            .transpose()?;
        let storage_region = self.storage_region.pick("storageRegion", asked_region)?;
        let class_id = self.class_id.pick("classId", asked.class_id.map(ClassId))?;
        let vod_sub_app_id = self
            .vod_sub_app_id
            .pick("vodSubAppId", asked.vod_sub_app_id.map(VodSubAppId))?;

        let session_context = match asked.session_context {
            None => None,
            Some(_) if !self.allow_client_session_context => {
                return Err(not_allowed(
                    "sessionContext",
                    "your policy does not let clients send one; leave it out",
                ));
            }
            Some(text) => Some(SessionContext::try_from(text)?),
        };

        let source_context = self.source_context(principal, asked.source_context.as_deref())?;

        Ok(Grant {
            validity,
            options: UploadOptions {
                class_id,
                procedure,
                task_priority,
                task_notify_mode,
                source_context,
                session_context,
                one_time_valid: self.one_time_valid.then_some(true),
                vod_sub_app_id,
                storage_region,
            },
        })
    }

    fn source_context(
        &self,
        principal: &Principal,
        client: Option<&str>,
    ) -> Result<Option<SourceContext>, PolicyError> {
        let accepts_client = self
            .source_context
            .as_ref()
            .is_some_and(Template::accepts_client);
        if let Some(text) = client {
            if !accepts_client {
                return Err(not_allowed(
                    "sourceContext",
                    "your policy sets sourceContext itself; leave it out",
                ));
            }
            // Validates the client's own part (control characters, emptiness) on its own.
            SourceContext::try_from(text)?;
        }
        let Some(template) = &self.source_context else {
            return Ok(None);
        };
        let rendered = template.render(Values {
            subject: &principal.subject,
            credential_id: &principal.credential_id,
            policy: &principal.policy,
            client,
        });
        if rendered.is_empty() {
            return Ok(None);
        }
        SourceContext::try_from(rendered).map(Some).map_err(|e| {
            if client.is_some() {
                PolicyError::Invalid(InvalidParam {
                    field: "sourceContext",
                    rule: format!(
                        "with the server's part added it {}; send a shorter sourceContext",
                        e.rule
                    ),
                })
            } else {
                PolicyError::Forbidden(format!(
                    "your identity does not fit policy {}'s sourceContext ({}); ask the service operator",
                    self.name, e.rule
                ))
            }
        })
    }
}

mod template;
#[cfg(test)]
mod tests;
