//! Access tokens (JWT, HS256 pinned), opaque secrets (refresh tokens, API keys, reset tokens)
//! and their hashes. Opaque secrets carry the tenant slug before a `.` so the tenant comes from
//! the credential itself, never from a request field.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ACCESS_TTL_SECS: i64 = 900;
pub const REFRESH_TTL_DAYS: i64 = 7;
pub const AUDIENCE: &str = "firelater-api";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: uuid::Uuid,
    /// Tenant slug.
    pub tid: String,
    pub typ: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: uuid::Uuid,
    /// Credential version: the user's `credentials_changed_at` in microseconds. A password change
    /// or deactivation moves it, which kills every token minted before.
    pub cv: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    Algorithm,
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    Type,
}

pub struct JwtKeys {
    key: Vec<u8>,
    issuer: String,
}

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str) -> Self {
        // Derive a dedicated key so the JWT key is not the raw session/encryption secret.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
        mac.update(b"firelater:jwt:v1");
        JwtKeys {
            key: mac.finalize().into_bytes().to_vec(),
            issuer: issuer.to_string(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length")
    }

    pub fn encode(&self, claims: &Claims) -> String {
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    /// Verifies a token: the algorithm is pinned to HS256 (a header naming anything else, `none`
    /// included, is refused before any signature work), then signature, time, issuer, audience
    /// and type.
    pub fn decode(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(h).map_err(|_| TokenError::Malformed)?)
                .map_err(|_| TokenError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(TokenError::Algorithm);
        }
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let claims: Claims =
            serde_json::from_slice(&B64.decode(p).map_err(|_| TokenError::Malformed)?)
                .map_err(|_| TokenError::Malformed)?;
        const LEEWAY: i64 = 30;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now + LEEWAY || claims.iat > now + LEEWAY {
            return Err(TokenError::NotYetValid);
        }
        if claims.iss != self.issuer {
            return Err(TokenError::Issuer);
        }
        if claims.aud != AUDIENCE {
            return Err(TokenError::Audience);
        }
        if claims.typ != "access" {
            return Err(TokenError::Type);
        }
        Ok(claims)
    }
}

/// 256 random bits, URL-safe.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// Opaque credentials are high-entropy, so a fast hash is the right tool (no salt needed).
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// `<prefix><slug>.<secret>` → (slug, whole token). Used for `fl_` API keys and refresh tokens.
pub fn split_tenant<'a>(token: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = token.strip_prefix(prefix)?;
    let (slug, secret) = rest.split_once('.')?;
    (!slug.is_empty() && secret.len() >= 40).then_some(slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            iss: "http://x".into(),
            aud: AUDIENCE.into(),
            sub: uuid::Uuid::nil(),
            tid: "acme".into(),
            typ: "access".into(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TTL_SECS,
            jti: uuid::Uuid::nil(),
            cv: 1,
        }
    }

    #[test]
    fn roundtrip_and_rejections() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", "http://x");
        let now = 1_700_000_000;
        let t = keys.encode(&claims(now));
        assert_eq!(keys.decode(&t, now + 1), Ok(claims(now)));
        assert_eq!(
            keys.decode(&t, now + ACCESS_TTL_SECS),
            Err(TokenError::Expired)
        );
        assert_eq!(keys.decode(&t, now - 100), Err(TokenError::NotYetValid));
        let other = JwtKeys::new(b"another-key-another-key-another-k", "http://x");
        assert_eq!(other.decode(&t, now), Err(TokenError::Signature));
        let wrong_iss = JwtKeys::new(b"0123456789abcdef0123456789abcdef", "http://y");
        assert_eq!(wrong_iss.decode(&t, now), Err(TokenError::Issuer));
        // alg:none with an empty signature
        let parts: Vec<&str> = t.split('.').collect();
        let none = format!(
            "{}.{}.",
            B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert_eq!(keys.decode(&none, now), Err(TokenError::Algorithm));
        let hs512 = format!(
            "{}.{}.{}",
            B64.encode(br#"{"alg":"HS512"}"#),
            parts[1],
            parts[2]
        );
        assert_eq!(keys.decode(&hs512, now), Err(TokenError::Algorithm));
        let mut c = claims(now);
        c.typ = "refresh".into();
        assert_eq!(keys.decode(&keys.encode(&c), now), Err(TokenError::Type));
        c = claims(now);
        c.aud = "other".into();
        assert_eq!(
            keys.decode(&keys.encode(&c), now),
            Err(TokenError::Audience)
        );
        assert_eq!(keys.decode("a.b", now), Err(TokenError::Malformed));
    }

    #[test]
    fn tenant_prefix() {
        let s = random_secret();
        assert!(s.len() >= 43);
        assert_eq!(split_tenant(&format!("fl_acme.{s}"), "fl_"), Some("acme"));
        assert_eq!(split_tenant("fl_acme.short", "fl_"), None);
        assert_eq!(split_tenant(&format!("xx_acme.{s}"), "fl_"), None);
    }
}
