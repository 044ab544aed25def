//! The bearer token that writes to the HTTP API need: read from `[http] token_file`, or from
//! `{state_dir}/http.token`, which is created (mode 0600, 32 random bytes as hex) on first start.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use seismo_config::HttpConfig;

/// Shorter secrets are refused: they could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The token could not be read or created: a configuration problem (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("cannot use {path} as the HTTP API token ([http] token_file): {reason}")]
pub struct TokenError {
    pub path: PathBuf,
    pub reason: String,
}

/// The secret, and where it was read from (named in refusals).
#[derive(Clone)]
pub struct Token {
    secret: Vec<u8>,
    path: PathBuf,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("path", &self.path).finish()
    }
}

/// Where the token is: `[http] token_file`, else `http.token` in the state directory.
pub fn token_path(config: &HttpConfig, state_dir: &Path) -> PathBuf {
    config
        .token_file
        .clone()
        .unwrap_or_else(|| state_dir.join(seismo_config::DEFAULT_TOKEN_FILE))
}

impl Token {
    /// Reads the token. A missing default file is created; a missing configured file is an
    /// error (the operator named it), as is an endpoint beyond loopback without one.
    pub fn load(config: &HttpConfig, state_dir: &Path) -> Result<Self, TokenError> {
        let path = token_path(config, state_dir);
        let fail = |reason: String| TokenError {
            path: path.clone(),
            reason,
        };
        match std::fs::read(&path) {
            Ok(bytes) => Self::from_file(path.clone(), &bytes).map_err(fail),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if config.token_file.is_some() || !config.listen.ip().is_loopback() {
                    return Err(fail(
                        "the file does not exist: write a secret of at least 16 characters into it (e.g. `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > FILE`), readable by the agent only".into(),
                    ));
                }
                Self::create(&path).map_err(|e| fail(format!("cannot create it: {e}")))
            }
            Err(e) => Err(fail(format!("cannot read it: {e}"))),
        }
    }

    fn from_file(path: PathBuf, bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| "it is not text: write the token as one line".to_owned())?;
        let secret = text.trim();
        if secret.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "it holds {} characters: write a secret of at least {MIN_TOKEN_CHARS}",
                secret.chars().count()
            ));
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                "it holds spaces or control characters: write the token as one word".into(),
            );
        }
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.permissions().mode() & 0o004 != 0 {
                tracing::warn!(file = %path.display(), "the HTTP API token file is readable by every user: chmod 600 it");
            }
        }
        Ok(Self {
            secret: secret.as_bytes().to_vec(),
            path,
        })
    }

    fn create(path: &Path) -> std::io::Result<Self> {
        use rand::RngCore;
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(format!("{hex}\n").as_bytes())?;
        f.sync_all()?;
        tracing::info!(file = %path.display(), "created the HTTP API token (writes such as silences need it)");
        Ok(Self {
            secret: hex.into_bytes(),
            path: path.to_owned(),
        })
    }

    /// A token held in memory (tests).
    pub fn new(secret: &str, path: PathBuf) -> Self {
        Self {
            secret: secret.as_bytes().to_vec(),
            path,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `presented` is the token, in time that does not depend on where they differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        if presented.len() != self.secret.len() {
            return false;
        }
        let diff = presented
            .iter()
            .zip(&self.secret)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_0600_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let config = HttpConfig::default();
        let t = Token::load(&config, dir.path()).unwrap();
        let path = dir.path().join("http.token");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        assert!(t.matches(text.trim().as_bytes()));
        assert!(!t.matches(b"nope"));
        let again = Token::load(&config, dir.path()).unwrap();
        assert!(again.matches(text.trim().as_bytes()));
    }

    #[test]
    fn bad_or_missing_configured_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        let config = HttpConfig {
            token_file: Some(file.clone()),
            ..HttpConfig::default()
        };
        let e = Token::load(&config, dir.path()).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        std::fs::write(&file, "short\n").unwrap();
        let e = Token::load(&config, dir.path()).unwrap_err().to_string();
        assert!(e.contains("at least 16"), "{e}");
        std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
        assert!(Token::load(&config, dir.path())
            .unwrap()
            .matches(b"0123456789abcdef0123"));
    }
}
