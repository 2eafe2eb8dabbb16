//! Where secrets come from: an environment variable `NAME`, or the file named by
//! `NAME_FILE` (the Docker/Kubernetes convention), never the configuration file. Every file
//! read for a setting or a secret goes through [`read_bounded`], so a FIFO, a device or a
//! huge file named by mistake is refused before it is read.

use std::path::Path;

use secrecy::SecretString;

use super::ConfigError;

/// Looks up an environment variable; the process environment in production, a map in tests.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Largest secret file read (`*_FILE` variables, credential files, the TLS private key):
/// a key or a token is a few hundred bytes, so anything larger is a wrong path.
pub const SECRET_FILE_MAX_BYTES: u64 = 64 * 1024;

/// Where a secret may come from: `NAME` or `NAME_FILE`. Both set is an error; a file's
/// trailing newline is dropped.
pub fn secret_from_env(name: &str) -> Result<Option<SecretString>, ConfigError> {
    secret_from_lookup(name, &|var| std::env::var(var).ok())
}

/// [`secret_from_env`] with the environment read through `lookup`, so the token verifiers
/// can be built from a test's own environment.
pub fn secret_from_lookup(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SecretString>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let direct = lookup(name);
    let file = lookup(&file_var);
    match (direct, file) {
        (Some(_), Some(_)) => Err(ConfigError::key(
            name,
            format!("set either {name} or {file_var}, not both"),
        )),
        (Some(value), None) => non_empty(name, value).map(Some),
        (None, Some(path)) => {
            let text = read_secret_text(&file_var, Path::new(&path))?;
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            non_empty(&file_var, value.to_owned()).map(Some)
        }
        (None, None) => Ok(None),
    }
}

/// The secret that setting `key` says is in variable `var` (or `<var>_FILE`), read through
/// `env` by the rules of [`secret_from_lookup`]; its absence is an error naming `key`.
pub fn required_secret(
    key: &str,
    var: &str,
    env: EnvLookup<'_>,
) -> Result<SecretString, ConfigError> {
    match secret_from_lookup(var, env) {
        Ok(Some(secret)) => Ok(secret),
        Ok(None) => Err(ConfigError::key(
            key,
            format!("set the environment variable {var} (or {var}_FILE) to the secret"),
        )),
        Err(e) => Err(ConfigError::key(key, e.to_string_without_prefix())),
    }
}

impl ConfigError {
    /// `KEY: RULE` (or the load message) without the `configuration error:` prefix, for
    /// nesting one error in another's rule.
    fn to_string_without_prefix(&self) -> String {
        match self.setting() {
            Some(key) => format!("{key}: {}", self.rule()),
            None => self.rule().to_owned(),
        }
    }
}

/// Reads a secret file named by setting `key`: [`read_bounded_file`] with
/// [`SECRET_FILE_MAX_BYTES`]. Every secret file goes through here.
pub fn read_secret_file(key: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    read_bounded_file(key, path, SECRET_FILE_MAX_BYTES)
}

/// Reads a file named by setting `key`: [`read_bounded`], the message prefixed with the key.
pub fn read_bounded_file(key: &str, path: &Path, max: u64) -> Result<Vec<u8>, ConfigError> {
    read_bounded(path, max).map_err(|rule| ConfigError::key(key, rule))
}

/// Reads a file: regular files only (a FIFO, device, socket or directory is refused before
/// it is opened, so nothing blocks or streams forever), and at most `max` bytes (at most
/// `max + 1` are ever read). The error names the path, never the content.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        format!(
            "cannot read {}: {e}; check the path and its permissions",
            path.display()
        )
    };
    let not_regular = || {
        format!(
            "{} is not a regular file (a directory, FIFO, socket or device); point it at a file",
            path.display()
        )
    };
    let too_large = || {
        format!(
            "{} is larger than {max} bytes; check the path",
            path.display()
        )
    };
    let metadata = std::fs::metadata(path).map_err(cannot)?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    if metadata.len() > max {
        return Err(too_large());
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    // The path may have been replaced between the check and the open.
    if !file.metadata().map_err(cannot)?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_secret_file`] as UTF-8 text.
pub fn read_secret_text(key: &str, path: &Path) -> Result<String, ConfigError> {
    String::from_utf8(read_secret_file(key, path)?)
        .map_err(|_| ConfigError::key(key, format!("{} is not UTF-8 text", path.display())))
}

fn non_empty(name: &str, value: String) -> Result<SecretString, ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::key(name, "must not be empty"))
    } else {
        Ok(SecretString::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &Path) -> String {
        let lookup =
            |var: &str| (var == "VODSIGN_TEST_SECRET_FILE").then(|| path.display().to_string());
        let started = std::time::Instant::now();
        let e = secret_from_lookup("VODSIGN_TEST_SECRET", &lookup)
            .expect_err("refused")
            .to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{e}");
        assert!(e.contains("VODSIGN_TEST_SECRET_FILE"), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
        e
    }

    #[test]
    fn secret_file_refuses_a_device() {
        let e = refused(Path::new("/dev/zero"));
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn secret_file_refuses_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        let e = refused(&fifo);
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn secret_file_refuses_a_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = refused(dir.path());
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn secret_file_refuses_more_than_64_kib_without_echoing_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big");
        std::fs::write(&big, "s3cr3t".repeat(100 * 1024 / 6)).expect("write");
        let e = refused(&big);
        assert!(e.contains("larger than 65536 bytes"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn secret_file_of_64_kib_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ok");
        let text = "k".repeat(64 * 1024);
        std::fs::write(&path, &text).expect("write");
        let bytes = read_secret_file("k", &path).expect("read");
        assert_eq!(bytes.len(), text.len());
    }
}
