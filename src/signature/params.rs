//! Validated parameter types ("parse, don't validate").
//!
//! Each bounded value of the spec's parameter table is a newtype whose only constructor
//! checks the rule, so [`SignParams`] can only ever hold values VOD accepts. The optional
//! parameters travel together as [`UploadOptions`]; [`RawUploadOptions`] is the same list
//! unchecked, with one conversion between them.

use std::fmt;
use std::str::FromStr;

/// Why a parameter value was refused. `field` is the spec's parameter name, so the HTTP
/// layer can name it in a 40001 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct InvalidParam {
    pub field: &'static str,
    pub rule: String,
}

impl InvalidParam {
    fn new(field: &'static str, rule: impl Into<String>) -> Self {
        Self {
            field,
            rule: rule.into(),
        }
    }
}

/// Refuses control characters (C0, DEL, C1): they have no business in a signed value and
/// some intermediaries mangle them.
fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), InvalidParam> {
    if value.is_empty() {
        return Err(InvalidParam::new(
            field,
            "must not be empty (leave the parameter out instead)",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidParam::new(
            field,
            "must not contain control characters",
        ));
    }
    let count = value.chars().count();
    if count > max_chars {
        return Err(InvalidParam::new(
            field,
            format!("must be at most {max_chars} characters (got {count})"),
        ));
    }
    Ok(())
}

macro_rules! text_param {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest value accepted, in Unicode characters.
            pub const MAX_CHARS: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidParam;
            fn try_from(value: String) -> Result<Self, InvalidParam> {
                check_text($field, &value, $max)?;
                Ok(Self(value))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidParam;
            fn try_from(value: &str) -> Result<Self, InvalidParam> {
                Self::try_from(value.to_owned())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_param!(
    /// The SecretId of the VOD API key (not secret: it travels inside every signature).
    SecretId,
    "secretId",
    128
);
text_param!(
    /// A task-flow template name run after upload.
    Procedure,
    "procedure",
    256
);
text_param!(
    /// Returned in the upload-complete event: how the app learns who uploaded what.
    SourceContext,
    "sourceContext",
    250
);
text_param!(
    /// Returned in the task-flow event.
    SessionContext,
    "sessionContext",
    1000
);

/// Seconds between `currentTimeStamp` and `expireTime`: 1 ..= 7,776,000 (90 days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Validity(u32);

impl Validity {
    pub const MAX_SECONDS: u32 = 7_776_000;

    pub fn seconds(self) -> u32 {
        self.0
    }
}

impl TryFrom<u64> for Validity {
    type Error = InvalidParam;
    fn try_from(seconds: u64) -> Result<Self, InvalidParam> {
        match u32::try_from(seconds) {
            Ok(s) if (1..=Self::MAX_SECONDS).contains(&s) => Ok(Self(s)),
            _ => Err(InvalidParam::new(
                "validitySeconds",
                format!(
                    "must be between 1 and {} seconds (90 days), got {seconds}",
                    Self::MAX_SECONDS
                ),
            )),
        }
    }
}

/// Video category id, ≥ 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(pub u64);

impl fmt::Display for ClassId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Sub-application id; unset or 0 means the primary application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VodSubAppId(pub u64);

impl fmt::Display for VodSubAppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Task priority, -10 ..= 10; only meaningful together with a procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskPriority(i8);

impl TaskPriority {
    pub fn get(self) -> i8 {
        self.0
    }
}

impl fmt::Display for TaskPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<i64> for TaskPriority {
    type Error = InvalidParam;
    fn try_from(value: i64) -> Result<Self, InvalidParam> {
        match i8::try_from(value) {
            Ok(v) if (-10..=10).contains(&v) => Ok(Self(v)),
            _ => Err(InvalidParam::new(
                "taskPriority",
                format!("must be an integer between -10 and 10, got {value}"),
            )),
        }
    }
}

/// How task-flow state changes are notified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskNotifyMode {
    Finish,
    Change,
    None,
}

impl TaskNotifyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskNotifyMode::Finish => "Finish",
            TaskNotifyMode::Change => "Change",
            TaskNotifyMode::None => "None",
        }
    }
}

impl fmt::Display for TaskNotifyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskNotifyMode {
    type Err = InvalidParam;
    fn from_str(s: &str) -> Result<Self, InvalidParam> {
        match s {
            "Finish" => Ok(Self::Finish),
            "Change" => Ok(Self::Change),
            "None" => Ok(Self::None),
            _ => Err(InvalidParam::new(
                "taskNotifyMode",
                "must be one of Finish, Change or None",
            )),
        }
    }
}

/// A storage region abbreviation such as `ap-chongqing` or `na-siliconvalley`: lower-case
/// ASCII letters and digits in two or more `-`separated groups, the first of letters only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StorageRegion(String);

impl StorageRegion {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for StorageRegion {
    type Err = InvalidParam;
    fn from_str(s: &str) -> Result<Self, InvalidParam> {
        let mut groups = s.split('-');
        let first_ok = groups.next().is_some_and(|g| {
            (2..=4).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_lowercase())
        });
        let rest: Vec<&str> = groups.collect();
        let rest_ok = !rest.is_empty()
            && rest.iter().all(|g| {
                !g.is_empty()
                    && g.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if first_ok && rest_ok && s.len() <= 32 {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidParam::new(
                "storageRegion",
                "must be a region abbreviation such as ap-chongqing",
            ))
        }
    }
}

impl TryFrom<String> for StorageRegion {
    type Error = InvalidParam;
    fn try_from(value: String) -> Result<Self, InvalidParam> {
        value.parse()
    }
}

impl fmt::Debug for StorageRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StorageRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The optional parameters of one signature, each validated; [`Default`] leaves every one
/// unset. The one list of them: a policy grants it, the signer writes it, the decoder reads
/// it back and the audit records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadOptions {
    pub class_id: Option<ClassId>,
    pub procedure: Option<Procedure>,
    pub task_priority: Option<TaskPriority>,
    pub task_notify_mode: Option<TaskNotifyMode>,
    pub source_context: Option<SourceContext>,
    pub session_context: Option<SessionContext>,
    pub one_time_valid: Option<bool>,
    pub vod_sub_app_id: Option<VodSubAppId>,
    pub storage_region: Option<StorageRegion>,
}

/// The optional parameters as plain values, the way a command line or a request carries
/// them before they are checked. [`UploadOptions::try_from`] is the one way in; the flags
/// of `vodsign sign` are these fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct RawUploadOptions {
    #[arg(long)]
    pub class_id: Option<u64>,
    #[arg(long)]
    pub procedure: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub task_priority: Option<i64>,
    #[arg(long)]
    pub task_notify_mode: Option<String>,
    #[arg(long)]
    pub source_context: Option<String>,
    #[arg(long)]
    pub session_context: Option<String>,
    #[arg(long, help = "Add oneTimeValid=1 (or =0 with --one-time-valid false)")]
    pub one_time_valid: Option<bool>,
    #[arg(long)]
    pub vod_sub_app_id: Option<u64>,
    #[arg(long)]
    pub storage_region: Option<String>,
}

impl TryFrom<RawUploadOptions> for UploadOptions {
    type Error = InvalidParam;

    /// Checks each value in the spec table's order; the first refusal names its
    /// parameter (`procedure`, `taskPriority`, ...).
    fn try_from(raw: RawUploadOptions) -> Result<Self, InvalidParam> {
        Ok(Self {
            class_id: raw.class_id.map(ClassId),
            procedure: raw.procedure.map(Procedure::try_from).transpose()?,
            task_priority: raw.task_priority.map(TaskPriority::try_from).transpose()?,
            task_notify_mode: raw
                .task_notify_mode
                .as_deref()
                .map(str::parse)
                .transpose()?,
            source_context: raw
                .source_context
                .map(SourceContext::try_from)
                .transpose()?,
            session_context: raw
                .session_context
                .map(SessionContext::try_from)
                .transpose()?,
            one_time_valid: raw.one_time_valid,
            vod_sub_app_id: raw.vod_sub_app_id.map(VodSubAppId),
            storage_region: raw
                .storage_region
                .map(StorageRegion::try_from)
                .transpose()?,
        })
    }
}

/// The one rule between parameters: `taskPriority` and `taskNotifyMode` only mean something
/// to the task flow a `procedure` starts, so either without one is refused, naming it. The
/// API applies it to the procedure its policy grants, `vodsign sign` to `--procedure`.
pub fn check_task_flow(
    procedure: bool,
    task_priority: bool,
    task_notify_mode: bool,
) -> Result<(), InvalidParam> {
    if procedure {
        return Ok(());
    }
    for (field, given) in [
        ("taskPriority", task_priority),
        ("taskNotifyMode", task_notify_mode),
    ] {
        if given {
            return Err(InvalidParam::new(
                field,
                "is only meaningful with a procedure; add one or leave this out",
            ));
        }
    }
    Ok(())
}

/// Everything that goes into one signature, already validated: the four values of each
/// call and the [`UploadOptions`].
///
/// `current_time` is Unix seconds from the caller's clock and `random` the caller's draw:
/// the signer adds neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignParams {
    pub secret_id: SecretId,
    pub current_time: u64,
    pub validity: Validity,
    pub random: u32,
    pub options: UploadOptions,
}

impl SignParams {
    /// The four required parameters, every optional one unset.
    pub fn new(secret_id: SecretId, current_time: u64, validity: Validity, random: u32) -> Self {
        Self {
            secret_id,
            current_time,
            validity,
            random,
            options: UploadOptions::default(),
        }
    }

    /// `currentTimeStamp + validity`: the Unix second the signature stops being accepted.
    pub fn expire_time(&self) -> u64 {
        self.current_time + u64::from(self.validity.seconds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_bounds_are_inclusive() {
        assert!(Validity::try_from(0).is_err());
        assert_eq!(Validity::try_from(1).map(Validity::seconds), Ok(1));
        assert!(Validity::try_from(7_776_000).is_ok());
        assert!(Validity::try_from(7_776_001).is_err());
        // The V2 vector's ten-year validity must be refused.
        assert!(Validity::try_from(1_886_575_095 - 1_571_215_095).is_err());
        assert!(Validity::try_from(u64::MAX).is_err());
    }

    #[test]
    fn task_priority_bounds() {
        assert!(TaskPriority::try_from(-11).is_err());
        assert!(TaskPriority::try_from(-10).is_ok());
        assert!(TaskPriority::try_from(10).is_ok());
        assert!(TaskPriority::try_from(11).is_err());
        assert!(TaskPriority::try_from(300).is_err());
    }

    #[test]
    fn source_context_counts_characters_not_bytes() {
        assert!(SourceContext::try_from("視".repeat(250)).is_ok());
        let err = SourceContext::try_from("a".repeat(251)).unwrap_err();
        assert_eq!(err.field, "sourceContext");
        assert!(SessionContext::try_from("😀".repeat(1000)).is_ok());
        assert!(SessionContext::try_from("😀".repeat(1001)).is_err());
    }

    #[test]
    fn text_refuses_control_characters_and_empty() {
        for bad in ["a\nb", "\u{0}", "x\u{7f}", "\u{85}", ""] {
            assert!(SourceContext::try_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn storage_region_shape() {
        for good in [
            "ap-chongqing",
            "na-siliconvalley",
            "ap-shanghai-fsi",
            "eu-frankfurt",
            "ap-beijing-1",
        ] {
            assert!(good.parse::<StorageRegion>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "ap",
            "AP-chongqing",
            "ap-",
            "-ap",
            "ap--x",
            "ap_chongqing",
            "ap-chong qing",
            "1p-x",
        ] {
            assert!(bad.parse::<StorageRegion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn upload_options_default_to_unset_and_convert_from_raw() {
        assert_eq!(
            UploadOptions::try_from(RawUploadOptions::default()),
            Ok(UploadOptions::default())
        );
        let raw = RawUploadOptions {
            class_id: Some(3),
            procedure: Some("review".into()),
            task_priority: Some(-10),
            task_notify_mode: Some("Finish".into()),
            one_time_valid: Some(false),
            storage_region: Some("ap-chongqing".into()),
            ..RawUploadOptions::default()
        };
        let options = UploadOptions::try_from(raw).expect("valid");
        assert_eq!(options.class_id, Some(ClassId(3)));
        assert_eq!(
            options.procedure.as_ref().map(Procedure::as_str),
            Some("review")
        );
        assert_eq!(options.task_priority.map(TaskPriority::get), Some(-10));
        assert_eq!(options.task_notify_mode, Some(TaskNotifyMode::Finish));
        assert_eq!(options.one_time_valid, Some(false));
        assert_eq!(options.source_context, None);
    }

    #[test]
    fn a_raw_option_refused_names_its_parameter() {
        type Edit = fn(&mut RawUploadOptions);
        let cases: [(&str, Edit); 6] = [
            ("procedure", |r| r.procedure = Some(String::new())),
            ("taskPriority", |r| r.task_priority = Some(11)),
            ("taskNotifyMode", |r| r.task_notify_mode = Some("x".into())),
            ("sourceContext", |r| r.source_context = Some("a\nb".into())),
            ("sessionContext", |r| {
                r.session_context = Some(String::new())
            }),
            ("storageRegion", |r| r.storage_region = Some("AP".into())),
        ];
        for (field, edit) in cases {
            let mut raw = RawUploadOptions::default();
            edit(&mut raw);
            assert_eq!(
                UploadOptions::try_from(raw).map_err(|e| e.field),
                Err(field)
            );
        }
    }

    #[test]
    fn task_flow_options_need_a_procedure() {
        assert_eq!(check_task_flow(true, true, true), Ok(()));
        assert_eq!(check_task_flow(false, false, false), Ok(()));
        assert_eq!(
            check_task_flow(false, true, true).map_err(|e| e.field),
            Err("taskPriority")
        );
        assert_eq!(
            check_task_flow(false, false, true).map_err(|e| e.field),
            Err("taskNotifyMode")
        );
    }

    #[test]
    fn task_notify_mode_is_one_of_three() {
        assert_eq!("Change".parse(), Ok(TaskNotifyMode::Change));
        assert!("finish".parse::<TaskNotifyMode>().is_err());
    }
}
