//! Secrets at rest (webhook signing secrets; integration tokens later): AES-256-GCM under a key
//! derived from `FIRELATER_SECRET_KEY`, stored as `v1:<base64(nonce ‖ ciphertext)>`. The column
//! name travels as associated data, so a sealed value copied into another column does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub fn new(secret_key: &[u8]) -> Sealer {
        // A key of its own, so signing keys and the encryption key never coincide.
        let key = Sha256::new()
            .chain_update(b"firelater secrets at rest v1\0")
            .chain_update(secret_key)
            .finalize();
        Sealer {
            cipher: Aes256Gcm::new(&key),
        }
    }

    pub fn seal(&self, purpose: &str, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: purpose.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("v1:{}", STANDARD.encode(out))
    }

    /// None when the value was not sealed by this key for this purpose (or was tampered with).
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<String> {
        let raw = STANDARD.decode(sealed.strip_prefix("v1:")?).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, body) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: purpose.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_key_and_purpose() {
        let s = Sealer::new(b"0123456789abcdef0123456789abcdef");
        let sealed = s.seal("webhooks.secret", "whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(
            sealed,
            s.seal("webhooks.secret", "whsec_abc"),
            "fresh nonce"
        );
        assert_eq!(
            s.open("webhooks.secret", &sealed).as_deref(),
            Some("whsec_abc")
        );
        assert_eq!(s.open("integrations.token", &sealed), None);
        let other = Sealer::new(b"another-key-another-key-another-k");
        assert_eq!(other.open("webhooks.secret", &sealed), None);
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(s.open("webhooks.secret", &tampered), None);
    }
}
