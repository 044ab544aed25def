//! Who may decide over MQTT: a decision carries the HMAC-SHA256 of its canonical JSON (see
//! `decisions.rs`), made with the key in `[remediation] key_file`. Broker ACLs are the first
//! line of defence (who may publish on the decisions topic); this is the second: a client the
//! broker lets in still cannot decide without the key.

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Fewer key bytes than this are refused: a short key can be guessed.
pub const MIN_KEY_BYTES: usize = 16;

/// The shared secret that signs decisions.
#[derive(Clone)]
pub struct DecisionKey(Vec<u8>);

impl std::fmt::Debug for DecisionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecisionKey(..)")
    }
}

impl DecisionKey {
    /// Reads the key file: its bytes, without a trailing newline (from `echo key > file`).
    pub fn load(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| {
            format!(
                "[remediation] key_file {}: {e}: create it, e.g. with `head -c 32 /dev/urandom | base64 > {}`",
                path.display(),
                path.display()
            )
        })?;
        let mut bytes = bytes;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        Self::new(bytes).map_err(|e| format!("[remediation] key_file {}: {e}", path.display()))
    }

    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key has {} bytes; write at least {MIN_KEY_BYTES} random bytes, e.g. `head -c 32 /dev/urandom | base64`",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; the error is for fixed-size MACs only.
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    /// The signature of `message`, in lower-case hex.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(message);
        hex(&mac.finalize().into_bytes())
    }

    /// True when `signature` (hex) is the signature of `message`; compared in constant time.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Some(bytes) = unhex(signature) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(message);
        mac.verify_slice(&bytes).is_ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_and_verifies() {
        // RFC 4231, test case 2 (its key is short: build around the length check).
        let key = DecisionKey(b"Jefe".to_vec());
        assert_eq!(
            key.sign(b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = DecisionKey::new(vec![7; 32]).unwrap();
        let sig = key.sign(b"message");
        assert!(key.verify(b"message", &sig));
        assert!(key.verify(b"message", &sig.to_uppercase()));
        assert!(!key.verify(b"messagE", &sig));
        assert!(!key.verify(b"message", &sig[..62]));
        assert!(!key.verify(b"message", "zz"));
        assert!(!key.verify(b"message", ""));
        let other = DecisionKey::new(vec![8; 32]).unwrap();
        assert!(!other.verify(b"message", &sig));
    }

    #[test]
    fn the_key_file_loses_its_newline_and_a_short_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "0123456789abcdef0123\n").unwrap();
        let k = DecisionKey::load(&p).unwrap();
        assert_eq!(k.0, b"0123456789abcdef0123");
        std::fs::write(&p, "short\n").unwrap();
        let e = DecisionKey::load(&p).unwrap_err();
        assert!(e.contains("at least 16"), "{e}");
        let e = DecisionKey::load(&dir.path().join("none")).unwrap_err();
        assert!(e.contains("key_file"), "{e}");
    }
}
