//! Signature checks, each per its provider's published algorithm, on the raw body bytes.
//!
//! Every check fails closed: a missing or malformed header, a signature that does not match, or
//! a timestamp outside the tolerance is an error, never a pass. MACs are computed with ring and
//! compared, like shared tokens, in constant time (`subtle`).
//!
//! | provider | header(s) | signed bytes | MAC |
//! | --- | --- | --- | --- |
//! | GitHub | `X-Hub-Signature-256: sha256=<hex>` | body | HMAC-SHA256 |
//! | GitLab | `X-Gitlab-Token: <secret>` | — | shared token |
//! | Stripe | `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` | `<t>.<body>` | HMAC-SHA256 |
//! | Slack | `X-Slack-Signature: v0=<hex>`, `X-Slack-Request-Timestamp` | `v0:<ts>:<body>` | HMAC-SHA256 |
//! | Shopify | `X-Shopify-Hmac-Sha256: <base64>` | body | HMAC-SHA256 |
//! | Standard Webhooks | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> …` | `<id>.<ts>.<body>` | HMAC-SHA256, key = base64 after `whsec_` |
//! | generic `hmac` | configurable | body, or a template over id, timestamp and body | SHA-1/256/512, hex or base64 |
//! | `cloudevents` | `Authorization: Bearer <secret>` | — | shared token (optional) |

use std::borrow::Cow;

use base64::Engine as _;
use ring::hmac;
use subtle::ConstantTimeEq as _;

/// Why a delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header the provider always sends is absent.
    #[error("the {0} header is missing")]
    Missing(Cow<'static, str>),
    /// A header is there but not in the provider's format.
    #[error("the {header} header is malformed: {reason}")]
    Malformed {
        /// The header.
        header: Cow<'static, str>,
        /// What is wrong.
        reason: String,
    },
    /// No signature matches the body and the secret.
    #[error("the signature does not match")]
    Mismatch,
    /// The source has no secret to verify with (a provider that needs one): refused rather than
    /// accepted unverified.
    #[error("the source has no secret to verify deliveries with")]
    NoKey,
    /// The timestamp is outside the tolerance (replay protection).
    #[error("the timestamp is {age} s away from now; the tolerance is {tolerance} s")]
    Stale {
        /// Seconds between the timestamp and now.
        age: i64,
        /// The tolerance.
        tolerance: i64,
    },
}

/// A MAC algorithm of the generic `hmac` provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1 (legacy senders).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Algorithm {
    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::Sha256 => hmac::HMAC_SHA256,
            Algorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// How a signature is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Lowercase or uppercase hex.
    Hex,
    /// Standard base64.
    Base64,
}

fn decode_hex(s: &str, header: &str) -> Result<Vec<u8>, VerifyError> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(VerifyError::Malformed {
            header: header.to_owned().into(),
            reason: "the signature is not hex".into(),
        });
    }
    Ok((0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect())
}

fn decode_b64(s: &str, header: &str) -> Result<Vec<u8>, VerifyError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| VerifyError::Malformed {
            header: header.to_owned().into(),
            reason: format!("the signature is not base64 ({e})"),
        })
}

/// Whether `tag` is the MAC of the concatenation of `parts` under `key`, in constant time.
fn mac_matches(alg: hmac::Algorithm, key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let key = hmac::Key::new(alg, key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    let mac = ctx.sign();
    bool::from(mac.as_ref().ct_eq(tag))
}

pub(crate) fn fresh(ts: i64, now: i64, tolerance: i64) -> Result<(), VerifyError> {
    let age = (now - ts).abs();
    if age > tolerance {
        return Err(VerifyError::Stale { age, tolerance });
    }
    Ok(())
}

pub(crate) fn timestamp(s: &str, header: &str) -> Result<i64, VerifyError> {
    s.trim().parse().map_err(|_| VerifyError::Malformed {
        header: header.to_owned().into(),
        reason: format!("{s:?} is not a Unix timestamp in seconds"),
    })
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
pub fn github(secret: &[u8], body: &[u8], signature: Option<&str>) -> Result<(), VerifyError> {
    const H: &str = "X-Hub-Signature-256";
    let sig = signature.ok_or(VerifyError::Missing(H.into()))?;
    let hex = sig.strip_prefix("sha256=").ok_or(VerifyError::Malformed {
        header: H.into(),
        reason: "it does not start with sha256=".into(),
    })?;
    let tag = decode_hex(hex, H)?;
    if mac_matches(hmac::HMAC_SHA256, secret, &[body], &tag) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// GitLab: `X-Gitlab-Token` carries the secret itself.
pub fn gitlab(secret: &[u8], token: Option<&str>) -> Result<(), VerifyError> {
    let token = token.ok_or(VerifyError::Missing("X-Gitlab-Token".into()))?;
    if bool::from(token.as_bytes().ct_eq(secret)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// A bearer token: `Authorization: Bearer <secret>` (RFC 6750; the scheme name is
/// case-insensitive, the token is compared in constant time).
pub fn bearer(secret: &[u8], authorization: Option<&str>) -> Result<(), VerifyError> {
    const H: &str = "Authorization";
    let value = authorization.ok_or(VerifyError::Missing(H.into()))?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(VerifyError::Malformed {
            header: H.into(),
            reason: "it is not \"Bearer <token>\"".into(),
        })?;
    if bool::from(token.as_bytes().ct_eq(secret)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `<t>.<body>`; any `v1` may
/// match (during a secret roll there are several); `t` within `tolerance` seconds of `now`.
pub fn stripe(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
    now: i64,
    tolerance: i64,
) -> Result<(), VerifyError> {
    const H: &str = "Stripe-Signature";
    let header = header.ok_or(VerifyError::Missing(H.into()))?;
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(timestamp(v, H)?),
            Some(("v1", v)) => sigs.push(decode_hex(v, H)?),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::Malformed {
        header: H.into(),
        reason: "no t= timestamp".into(),
    })?;
    if sigs.is_empty() {
        return Err(VerifyError::Malformed {
            header: H.into(),
            reason: "no v1= signature".into(),
        });
    }
    let ts = t.to_string();
    let ok = sigs
        .iter()
        .any(|s| mac_matches(hmac::HMAC_SHA256, secret, &[ts.as_bytes(), b".", body], s));
    if !ok {
        return Err(VerifyError::Mismatch);
    }
    fresh(t, now, tolerance)
}

/// Slack: `X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>`.
pub fn slack(
    secret: &[u8],
    body: &[u8],
    signature: Option<&str>,
    ts: Option<&str>,
    now: i64,
    tolerance: i64,
) -> Result<(), VerifyError> {
    const H: &str = "X-Slack-Signature";
    const T: &str = "X-Slack-Request-Timestamp";
    let sig = signature.ok_or(VerifyError::Missing(H.into()))?;
    let ts_text = ts.ok_or(VerifyError::Missing(T.into()))?.trim();
    let t = timestamp(ts_text, T)?;
    let hex = sig.strip_prefix("v0=").ok_or(VerifyError::Malformed {
        header: H.into(),
        reason: "it does not start with v0=".into(),
    })?;
    let tag = decode_hex(hex, H)?;
    if !mac_matches(
        hmac::HMAC_SHA256,
        secret,
        &[b"v0:", ts_text.as_bytes(), b":", body],
        &tag,
    ) {
        return Err(VerifyError::Mismatch);
    }
    fresh(t, now, tolerance)
}

/// Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`.
pub fn shopify(secret: &[u8], body: &[u8], signature: Option<&str>) -> Result<(), VerifyError> {
    const H: &str = "X-Shopify-Hmac-Sha256";
    let tag = decode_b64(signature.ok_or(VerifyError::Missing(H.into()))?, H)?;
    if mac_matches(hmac::HMAC_SHA256, secret, &[body], &tag) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The key of a Standard Webhooks secret: base64 after `whsec_` (the prefix is optional).
pub fn standard_key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("a Standard Webhooks secret is base64 after whsec_ ({e})"))
}

/// Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64>` signatures over
/// `<webhook-id>.<webhook-timestamp>.<body>`; any may match; the timestamp within `tolerance`.
pub fn standard(
    key: &[u8],
    body: &[u8],
    id: Option<&str>,
    ts: Option<&str>,
    signatures: Option<&str>,
    now: i64,
    tolerance: i64,
) -> Result<(), VerifyError> {
    const S: &str = "webhook-signature";
    let id = id.ok_or(VerifyError::Missing("webhook-id".into()))?;
    let ts_text = ts
        .ok_or(VerifyError::Missing("webhook-timestamp".into()))?
        .trim();
    let t = timestamp(ts_text, "webhook-timestamp")?;
    let header = signatures.ok_or(VerifyError::Missing(S.into()))?;
    let mut any = false;
    for sig in header.split_whitespace() {
        // Other versions (v1a: asymmetric) are skipped, as the spec says.
        let Some(b64) = sig.strip_prefix("v1,") else {
            continue;
        };
        let Ok(tag) = decode_b64(b64, S) else {
            continue;
        };
        any = true;
        if mac_matches(
            hmac::HMAC_SHA256,
            key,
            &[id.as_bytes(), b".", ts_text.as_bytes(), b".", body],
            &tag,
        ) {
            return fresh(t, now, tolerance);
        }
    }
    if any {
        Err(VerifyError::Mismatch)
    } else {
        Err(VerifyError::Malformed {
            header: S.into(),
            reason: "no v1, signature".into(),
        })
    }
}

/// The generic `hmac` provider: the MAC of `signed` (the body, or a payload built from a
/// timestamp and the body) with `alg`, written in `encoding` after an optional `prefix`.
pub fn generic(
    alg: Algorithm,
    encoding: Encoding,
    prefix: &str,
    secret: &[u8],
    signed: &[&[u8]],
    header: &str,
    signature: Option<&str>,
) -> Result<(), VerifyError> {
    let sig = signature.ok_or_else(|| VerifyError::Missing(header.to_owned().into()))?;
    let enc = sig
        .strip_prefix(prefix)
        .ok_or_else(|| VerifyError::Malformed {
            header: header.to_owned().into(),
            reason: format!("it does not start with {prefix:?}"),
        })?;
    let tag = match encoding {
        Encoding::Hex => decode_hex(enc, header)?,
        Encoding::Base64 => decode_b64(enc, header)?,
    };
    if mac_matches(alg.ring(), secret, signed, &tag) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}
