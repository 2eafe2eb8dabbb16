//! The sourceContext template: the server's words with the caller's values in them, built so
//! that no value can change the template's structure.
//!
//! A template is one of two kinds, decided once when it is parsed:
//! - **JSON**: the template, with each placeholder replaced by a sentinel, parses as JSON
//!   (a template that starts with `{` or `[` must). Every placeholder must sit inside a JSON
//!   string value (not a key, not bare); a substituted value is JSON-string-escaped, so it
//!   can neither close its string nor add a key.
//! - **Plain**: anything else. A substituted value has these characters percent-encoded
//!   (as `%XX` of their UTF-8 bytes): `%` itself (so the encoding reads back), control
//!   characters, `| , ; = & " ' \`, and every other non-alphanumeric character the template
//!   text uses after its first placeholder (its separators: `:` in `{subject}:{client}`).

/// One piece of a sourceContext template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Subject,
    CredentialId,
    PolicyName,
    Client,
}

/// How substituted values are escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Json,
    /// The characters percent-encoded in a value, besides the ones always encoded.
    Plain {
        separators: Vec<char>,
    },
}

/// Characters percent-encoded in every plain template's values.
const ALWAYS_ENCODED: &[char] = &['%', '|', ',', ';', '=', '&', '"', '\'', '\\'];

/// Stands in for a placeholder while the template is checked as JSON: a private-use
/// character, so a `\` just before a placeholder makes the JSON invalid instead of escaping it.
const SENTINEL: char = '\u{E000}';

/// The values a template's placeholders are filled from.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub subject: &'a str,
    pub credential_id: &'a str,
    pub policy: &'a str,
    pub client: Option<&'a str>,
}

/// A parsed sourceContext template: `{subject}`, `{credential_id}`, `{policy}`, `{client}`,
/// with `{{` and `}}` for literal braces (so JSON templates are possible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    kind: Kind,
}

impl Template {
    /// Parses and classifies `text`; the error says what to change.
    pub fn parse(text: &str) -> Result<Self, String> {
        let pieces = pieces(text)?;
        let kind = classify(&pieces)?;
        Ok(Self { pieces, kind })
    }

    /// Whether the template has room for a client's own context.
    pub fn accepts_client(&self) -> bool {
        self.pieces.contains(&Piece::Client)
    }

    /// Whether values are JSON-string-escaped (otherwise percent-encoded).
    #[cfg(test)]
    pub fn is_json(&self) -> bool {
        self.kind == Kind::Json
    }

    /// The template with each value escaped for its kind.
    pub fn render(&self, values: Values<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            let value = match piece {
                Piece::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Piece::Subject => values.subject,
                Piece::CredentialId => values.credential_id,
                Piece::PolicyName => values.policy,
                Piece::Client => values.client.unwrap_or(""),
            };
            match &self.kind {
                Kind::Json => push_json_escaped(&mut out, value),
                Kind::Plain { separators } => push_percent_encoded(&mut out, value, separators),
            }
        }
        out
    }
}

fn pieces(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("{{") {
            literal.push('{');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("}}") {
            literal.push('}');
            rest = after;
        } else if c == '{' {
            let end = rest
                .find('}')
                .ok_or_else(|| "a '{' is not closed; write {{ for a literal brace".to_owned())?;
            let piece = match &rest[1..end] {
                "subject" => Piece::Subject,
                "credential_id" => Piece::CredentialId,
                "policy" => Piece::PolicyName,
                "client" => Piece::Client,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}}; use {{subject}}, {{credential_id}}, {{policy}} or {{client}}"
                    ));
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
            rest = &rest[end + 1..];
        } else if c == '}' {
            return Err("a lone '}'; write }} for a literal brace".to_owned());
        } else {
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// The template's text with each placeholder replaced by `stand_in`.
fn with_placeholders_as(pieces: &[Piece], stand_in: &str) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.as_str(),
            _ => stand_in,
        })
        .collect()
}

fn classify(pieces: &[Piece]) -> Result<Kind, String> {
    let looks_like_json = matches!(
        pieces.first(),
        Some(Piece::Text(text)) if text.trim_start().starts_with(['{', '['])
    );
    let sentinel = SENTINEL.to_string();
    match serde_json::from_str::<serde_json::Value>(&with_placeholders_as(pieces, &sentinel)) {
        Ok(value) => {
            if has_sentinel_in_a_key(&value) {
                return Err(
                    "a placeholder is inside a JSON key; put placeholders only inside JSON string values"
                        .to_owned(),
                );
            }
            Ok(Kind::Json)
        }
        Err(_) if looks_like_json => {
            let quoted = format!("\"{SENTINEL}\"");
            let outside_strings =
                serde_json::from_str::<serde_json::Value>(&with_placeholders_as(pieces, &quoted))
                    .is_ok();
            Err(if outside_strings {
                "a JSON template must have each placeholder inside a JSON string, e.g. {{\"uid\":\"{subject}\"}}".to_owned()
            } else {
                "starts like JSON but is not valid JSON (write {{ and }} for braces, quote each placeholder); \
                 a plain template must not start with '{' or '['"
                    .to_owned()
            })
        }
        Err(_) => Ok(Kind::Plain {
            separators: separators(pieces),
        }),
    }
}

fn has_sentinel_in_a_key(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, v)| key.contains(SENTINEL) || has_sentinel_in_a_key(v)),
        serde_json::Value::Array(items) => items.iter().any(has_sentinel_in_a_key),
        _ => false,
    }
}

/// The non-alphanumeric characters of the template text after its first placeholder:
/// the ones a value could use to pass for the template's own structure.
fn separators(pieces: &[Piece]) -> Vec<char> {
    let mut found: Vec<char> = pieces
        .iter()
        .skip_while(|piece| matches!(piece, Piece::Text(_)))
        .filter_map(|piece| match piece {
            Piece::Text(text) => Some(text.chars()),
            _ => None,
        })
        .flatten()
        .filter(|c| !c.is_alphanumeric() && !ALWAYS_ENCODED.contains(c))
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn push_json_escaped(out: &mut String, value: &str) {
    let quoted = serde_json::Value::from(value).to_string();
    // `to_string` of a JSON string is the escaped text between two quotes.
    out.push_str(&quoted[1..quoted.len() - 1]);
}

fn push_percent_encoded(out: &mut String, value: &str, separators: &[char]) {
    for c in value.chars() {
        if c.is_control() || ALWAYS_ENCODED.contains(&c) || separators.contains(&c) {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
}
