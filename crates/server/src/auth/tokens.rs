//! Bearer tokens (JWT, HS256) as ServiceStack's JwtAuthProvider issues them:
//! `iss: "ssjwt"`, `sub` = user id, `iat`, `exp`, `name`, `email`, `roles`.
//! Refresh tokens are JWTs with header `typ: "JWTR"` whose `jti` names a
//! stored sign-in session, so signing out revokes them.

use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "ssjwt";
const REFRESH_TYPE: &str = "JWTR";

/// Why signing is infallible here (see `TokenKeys::sign_access`).
const SIGNING_CANNOT_FAIL: &str = "HS256 signing of plain claims with an HMAC key cannot fail";

/// Claims of an access (bearer) token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    /// The account (tenant) of the user.
    #[serde(default)]
    pub account: Option<String>,
    /// The sign-in session the token was issued for: signing out, or
    /// deleting the session, revokes the token within seconds.
    #[serde(default)]
    pub sid: Option<String>,
}

/// Claims of a refresh token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshClaims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The stored sign-in session this refresh token belongs to.
    pub jti: String,
}

/// Signs and checks tokens with one HMAC key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

/// The shortest accepted signing secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// A signing secret too short to be safe.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the JWT secret (EVO_JWT_SECRET) is {0} bytes long; it must be at least 32 bytes (e.g. `openssl rand -hex 32`)")]
pub struct WeakSecret(pub usize);

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid")]
    Invalid,
}

impl TokenKeys {
    /// Keys from a secret of at least [`MIN_SECRET_BYTES`] bytes (HS256
    /// needs a key as long as its 256-bit output, RFC 7518 §3.2).
    pub fn from_secret(secret: &[u8]) -> Result<Self, WeakSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret(secret.len()));
        }
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// Signs access claims (`typ: JWT`).
    pub fn sign_access(&self, claims: &AccessClaims) -> String {
        let header = Header::new(Algorithm::HS256);
        // Never an empty token answered as a success: HS256 with an HMAC key
        // over claims of strings and integers cannot fail, and if it ever
        // did, the panic is caught and answered as a 500.
        encode(&header, claims, &self.encoding).expect(SIGNING_CANNOT_FAIL)
    }

    /// Signs refresh claims (`typ: JWTR`).
    pub fn sign_refresh(&self, claims: &RefreshClaims) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(REFRESH_TYPE.to_string());
        encode(&header, claims, &self.encoding).expect(SIGNING_CANNOT_FAIL)
    }

    /// Verifies an access token: signature, expiry, issuer, and that it is
    /// not a refresh token.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.typ.as_deref() == Some(REFRESH_TYPE) {
            return Err(TokenError::Invalid);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        decode::<AccessClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(classify)
    }

    /// Verifies a refresh token.
    pub fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.typ.as_deref() != Some(REFRESH_TYPE) {
            return Err(TokenError::Invalid);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        decode::<RefreshClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(classify)
    }
}

fn classify(error: jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
        _ => TokenError::Invalid,
    }
}

/// Access claims for a user's sign-in session `sid`, valid for
/// `ttl_seconds` from `now`.
pub fn access_claims(
    user: &evo_core::domain::User,
    sid: &str,
    now: i64,
    ttl_seconds: i64,
) -> AccessClaims {
    AccessClaims {
        iss: ISSUER.to_string(),
        sub: user.id.to_string(),
        iat: now,
        exp: now + ttl_seconds,
        name: Some(user.display_name.clone()),
        email: Some(user.email.clone()),
        roles: evo_core::domain::Role::names(&user.roles),
        account: Some(user.account_id.to_string()),
        sid: Some(sid.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_offset: i64) -> AccessClaims {
        let now = chrono::Utc::now().timestamp();
        AccessClaims {
            iss: ISSUER.into(),
            sub: "u1".into(),
            iat: now,
            exp: now + exp_offset,
            name: Some("Alice".into()),
            email: None,
            roles: vec!["User".into()],
            account: Some("a1".into()),
            sid: Some("s1".into()),
        }
    }

    #[test]
    fn a_signed_token_verifies_with_the_same_key_only() {
        let keys = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        let token = keys.sign_access(&claims(60));
        assert_eq!(keys.verify_access(&token).unwrap().sub, "u1");
        let other = TokenKeys::from_secret(b"another key another key another k").unwrap();
        assert_eq!(other.verify_access(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn an_expired_or_tampered_token_is_refused() {
        let keys = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            keys.verify_access(&keys.sign_access(&claims(-10))),
            Err(TokenError::Expired)
        );
        let token = keys.sign_access(&claims(60));
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert_eq!(
            keys.verify_access(&parts.join(".")),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_secret_shorter_than_32_bytes_is_refused() {
        assert_eq!(
            TokenKeys::from_secret(b"short secret").unwrap_err(),
            WeakSecret(12)
        );
        assert!(TokenKeys::from_secret(&[7u8; 32]).is_ok());
    }

    #[test]
    fn a_refresh_token_is_not_a_bearer_token_and_vice_versa() {
        let keys = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        let now = chrono::Utc::now().timestamp();
        let refresh = keys.sign_refresh(&RefreshClaims {
            sub: "u1".into(),
            iat: now,
            exp: now + 60,
            jti: "s1".into(),
        });
        assert_eq!(keys.verify_access(&refresh), Err(TokenError::Invalid));
        assert_eq!(keys.verify_refresh(&refresh).unwrap().jti, "s1");
        assert_eq!(
            keys.verify_refresh(&keys.sign_access(&claims(60))),
            Err(TokenError::Invalid)
        );
    }
}
