//! Configuration errors that never echo a value.
//!
//! A config file may hold a pasted secret on the very line that is wrong, and `toml` and
//! figment both quote what they read: the line with a caret under it, `found string "..."`.
//! These messages say where (the file, the line and column, or the key) and what kind of
//! mistake it is, and leave the value out.

use std::fmt::Write;
use std::path::Path;

use figment::error::{Actual, Kind};

use super::ConfigError;

/// Parses `text` as TOML only to find syntax errors: the file, line and column and the
/// parser's kind of error (e.g. "expected `.`, `=`"), never the line itself.
pub fn check_toml_syntax(source: &str, text: &str) -> Result<(), ConfigError> {
    let Err(e) = toml::from_str::<toml::Table>(text) else {
        return Ok(());
    };
    let place = match e.span() {
        Some(span) => {
            let mut end = span.start.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let before = &text[..end];
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .map_or(0, |line| line.chars().count())
                + 1;
            format!(", line {line}, column {column}")
        }
        None => String::new(),
    };
    Err(ConfigError::Load(format!(
        "{source}{place}: not valid TOML: {}; fix that line (its text is not repeated here)",
        without_long_quotes(e.message())
    )))
}

/// The parser's message on one line, with quoted text (the key in "duplicate key `...`")
/// kept only when it is a token or looks like a setting's name.
fn without_long_quotes(message: &str) -> String {
    let mut out = String::new();
    for (i, part) in message
        .lines()
        .collect::<Vec<_>>()
        .join("; ")
        .split('`')
        .enumerate()
    {
        if i % 2 == 0 {
            out.push_str(part);
        } else if part.chars().count() <= 2 || looks_like_a_setting(part) {
            let _ = write!(out, "`{part}`");
        } else {
            out.push_str(NOT_A_SETTING);
        }
    }
    out
}

/// Stands for a key that is not shown: it does not look like any setting's name, so it
/// may be a pasted value.
const NOT_A_SETTING: &str = "(a name that is not a setting)";

/// Setting names are short snake_case; a pasted secret (mixed case, `-`, `+`, `/`) is not.
fn looks_like_a_setting(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn shown(name: &str) -> &str {
    if looks_like_a_setting(name) {
        name
    } else {
        NOT_A_SETTING
    }
}

/// figment's errors, one per problem, each naming the key and where it came from; a found
/// value is described by its type only.
pub fn from_figment(error: figment::Error, file: Option<&Path>) -> ConfigError {
    let errors: Vec<String> = error
        .into_iter()
        .map(|e| {
            let mut text = String::new();
            if let Some(metadata) = &e.metadata {
                if metadata.name.contains("source string") {
                    if let Some(file) = file {
                        let _ = write!(text, "config file {}: ", file.display());
                    }
                } else {
                    let _ = write!(text, "{}: ", metadata.name);
                }
            }
            let path: Vec<&str> = e.path.iter().map(|part| shown(part)).collect();
            if let Kind::UnknownField(name, expected) = &e.kind {
                // The path already ends with the unknown name.
                let key = if path.is_empty() {
                    shown(name).to_owned()
                } else {
                    path.join(".")
                };
                text.push_str(&unknown_key(&key, name, expected));
                return text;
            }
            if !path.is_empty() {
                let _ = write!(text, "{}: ", path.join("."));
            }
            text.push_str(&kind_without_values(&e.kind));
            text
        })
        .collect();
    ConfigError::Load(errors.join("; "))
}

fn kind_without_values(kind: &Kind) -> String {
    match kind {
        Kind::InvalidType(actual, expected) => {
            format!("found {}, expected {expected}", type_of(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("invalid {}, expected {expected}", type_of(actual))
        }
        Kind::UnknownVariant(_, expected) => {
            format!("unknown value, expected one of: {}", expected.join(", "))
        }
        Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => "integer out of range".to_owned(),
        Kind::Unsupported(actual) => format!("unsupported {}", type_of(actual)),
        Kind::UnsupportedKey(actual, expected) => {
            format!(
                "unsupported key type {}, must be {expected}",
                type_of(actual)
            )
        }
        Kind::UnknownField(name, expected) => unknown_key(shown(name), name, expected),
        // Names, lengths and our own rules: no value in them.
        Kind::Message(_)
        | Kind::InvalidLength(..)
        | Kind::MissingField(_)
        | Kind::DuplicateField(_) => kind.to_string(),
    }
}

/// "unknown key server.listn; did you mean listen?", or the keys of that table when none
/// is close. `key` is the path as shown; `name` the unknown key itself, compared only when
/// it looks like a setting (a pasted value gets no suggestion, which would hint at it).
fn unknown_key(key: &str, name: &str, expected: &[&str]) -> String {
    let closest = expected
        .iter()
        .map(|known| (strsim::damerau_levenshtein(name, known), *known))
        .filter(|(distance, known)| *distance <= (known.len() / 3).max(2))
        .min();
    match closest {
        Some((_, known)) if looks_like_a_setting(name) => {
            format!("unknown key {key}; did you mean {known}?")
        }
        _ if expected.is_empty() => format!("unknown key {key}; this table has no keys"),
        _ => format!(
            "unknown key {key}; the keys here are: {}",
            expected.join(", ")
        ),
    }
}

fn type_of(actual: &Actual) -> &'static str {
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a float",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "an array",
        Actual::Map => "a table",
        _ => "a value of another type",
    }
}

#[cfg(test)]
mod tests {
    const PASTED: &str = "sk-PASTED-7f3a9c";

    /// The error loading `toml` with `env` set (in a figment jail) says.
    fn load_error(toml: &str, env: &[(&str, &str)]) -> String {
        match crate::config::tests::load_str(toml, env) {
            Ok(_) => panic!("{toml:?} loaded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_malformed_line_is_located_but_not_repeated() {
        for (toml, line, column) in [
            (
                format!("[server]\nlog_level = \"info\"\nsecret_key {PASTED}\n"),
                3,
                12,
            ),
            (format!("[vod]\nsecret = \"{PASTED}\n"), 2, 27),
            (format!("[vod]\nsecret = {PASTED}\n"), 2, 10),
            (format!("[server]\nx = \"a\" {PASTED}\n"), 2, 9),
        ] {
            let err = load_error(&toml, &[]);
            assert!(!err.contains(PASTED), "{err}");
            assert!(!err.contains("PASTED"), "{err}");
            assert!(
                err.contains(&format!(
                    "c.toml, line {line}, column {column}: not valid TOML"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn a_duplicate_key_is_named_only_when_it_looks_like_a_setting() {
        let err = load_error(&format!("{PASTED} = 1\n{PASTED} = 2\n"), &[]);
        assert!(!err.contains(PASTED), "{err}");
        assert!(err.contains("line 2, column 1"), "{err}");
        assert!(err.contains("duplicate key"), "{err}");
    }

    #[test]
    fn an_unknown_setting_is_named_only_when_it_looks_like_one() {
        let err = load_error("[server]\nlisn = 1\n", &[]);
        assert!(err.contains("unknown key server.lisn"), "{err}");
        let err = load_error(&format!("[server]\n{PASTED} = 1\n"), &[]);
        assert!(!err.contains(PASTED), "{err}");
        assert!(
            err.contains("server.(a name that is not a setting)"),
            "{err}"
        );
    }

    #[test]
    fn a_misspelt_key_gets_the_nearest_one() {
        let err = load_error("[server]\nlistn = \"127.0.0.1:1\"\n", &[]);
        assert!(
            err.ends_with("unknown key server.listn; did you mean listen?"),
            "{err}"
        );
        assert!(!err.contains('`') && !err.contains("127.0.0.1"), "{err}");
        let err = load_error("[servr]\nlisten = \"127.0.0.1:1\"\n", &[]);
        assert!(
            err.ends_with("unknown key servr; did you mean server?"),
            "{err}"
        );
        let err = load_error("", &[("VODSIGN_LIMITS__MAX_IN_FLIGT", "9")]);
        assert!(
            err.ends_with("unknown key limits.max_in_fligt; did you mean max_in_flight?"),
            "{err}"
        );
    }

    #[test]
    fn a_key_near_none_lists_the_keys_of_its_table() {
        let err = load_error("[admin]\nport = 1\n", &[]);
        assert!(
            err.ends_with(
                "unknown key admin.port; the keys here are: enabled, listen, enable_reload, \
             enable_webhook_admin, reload_token_env"
            ),
            "{err}"
        );
        let err = load_error(&format!("[admin]\n{PASTED} = 1\n"), &[]);
        assert!(
            !err.contains("PASTED") && !err.contains("did you mean"),
            "{err}"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_described_by_its_type() {
        let err = load_error(
            &format!("[policies.default]\nvalidity_seconds = \"{PASTED}\"\n"),
            &[],
        );
        assert!(!err.contains(PASTED), "{err}");
        assert!(
            err.contains("policies.default.validity_seconds: found a string"),
            "{err}"
        );
        assert!(err.contains("c.toml"), "{err}");
    }

    #[test]
    fn an_environment_value_is_not_repeated_either() {
        let err = load_error("", &[("VODSIGN_POLICIES__DEFAULT__ONE_TIME_VALID", PASTED)]);
        assert!(!err.contains(PASTED), "{err}");
        assert!(err.contains("policies.default.one_time_valid"), "{err}");
    }
}
