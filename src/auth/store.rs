//! Tokens in the metadata store: created (the secret returned once), listed, deleted, and
//! verified by the hash of the secret against an in-memory map kept in step with the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use bus::meta::{Meta, MetaError};
use serde::{Deserialize, Serialize};

use super::Scope;

const TREE: &str = "tokens";
const PREFIX: &str = "ry_";

/// A stored token: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSpec {
    /// Unique name.
    pub name: String,
    /// `admin`, `publish:<bus>`, `consume:<queue>`.
    pub scopes: Vec<String>,
    /// Hex SHA-256 of the secret.
    pub sha256: String,
    /// The first characters of the secret, to tell tokens apart in a list.
    pub hint: String,
    /// RFC 3339.
    pub created_at: String,
}

impl TokenSpec {
    /// The parsed scopes (stored ones were checked when created).
    pub fn scopes(&self) -> Vec<Scope> {
        self.scopes
            .iter()
            .filter_map(|s| Scope::parse(s).ok())
            .collect()
    }
}

/// A token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name or a scope is invalid.
    #[error("{pointer}: {reason}")]
    Invalid {
        /// Where.
        pointer: String,
        /// Why.
        reason: String,
    },
    /// The name is taken.
    #[error("a token named {0:?} exists; delete it first or choose another name")]
    Exists(String),
    /// No such token.
    #[error("token {0:?} does not exist")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// The tokens of a server.
#[derive(Debug)]
pub struct Tokens {
    meta: Meta,
    by_hash: RwLock<HashMap<String, Arc<TokenSpec>>>,
    /// Tokens that exist only in this process (the server's own, while it applies
    /// `--resources`); they do not turn auth on.
    ephemeral: RwLock<HashMap<String, Arc<TokenSpec>>>,
    writes: Mutex<()>,
}

/// `ry_` + 32 random bytes, base64url.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn sha256_hex(secret: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Tokens {
    /// Loads the tokens kept in `meta`.
    pub fn load(meta: Meta) -> Result<Tokens, MetaError> {
        let all: Vec<TokenSpec> = meta.list(TREE)?;
        let by_hash = all
            .into_iter()
            .map(|t| (t.sha256.clone(), Arc::new(t)))
            .collect();
        Ok(Tokens {
            meta,
            by_hash: RwLock::new(by_hash),
            ephemeral: RwLock::new(HashMap::new()),
            writes: Mutex::new(()),
        })
    }

    /// Whether any token exists (auth is enforced then).
    pub fn enforced(&self) -> bool {
        !self
            .by_hash
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The token whose secret this is.
    pub fn verify(&self, secret: &str) -> Option<Arc<TokenSpec>> {
        if !secret.starts_with(PREFIX) {
            return None;
        }
        let hash = sha256_hex(secret);
        if let Some(t) = self
            .by_hash
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
        {
            return Some(t.clone());
        }
        self.ephemeral
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
            .cloned()
    }

    /// An admin token that lives in this process only, until [`Tokens::forget_ephemeral`].
    pub fn ephemeral_admin(&self, name: &str) -> String {
        let secret = new_secret();
        let spec = TokenSpec {
            name: name.to_owned(),
            scopes: vec!["admin".into()],
            sha256: sha256_hex(&secret),
            hint: String::new(),
            created_at: bus::registry::now_rfc3339(),
        };
        self.ephemeral
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(spec.sha256.clone(), Arc::new(spec));
        secret
    }

    /// Drops every in-process token.
    pub fn forget_ephemeral(&self) {
        self.ephemeral
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Creates a token; returns it and its secret (shown once, never stored).
    pub fn create(&self, name: &str, scopes: &[String]) -> Result<(TokenSpec, String), TokenError> {
        bus::registry::check_name(name).map_err(|reason| TokenError::Invalid {
            pointer: "/name".into(),
            reason,
        })?;
        if scopes.is_empty() {
            return Err(TokenError::Invalid {
                pointer: "/scopes".into(),
                reason: "at least one scope: admin, publish:<bus>, consume:<queue>".into(),
            });
        }
        let mut canonical = Vec::with_capacity(scopes.len());
        for (i, s) in scopes.iter().enumerate() {
            let scope = Scope::parse(s).map_err(|reason| TokenError::Invalid {
                pointer: format!("/scopes/{i}"),
                reason,
            })?;
            canonical.push(scope.to_string());
        }
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        if self.meta.get::<TokenSpec>(TREE, name)?.is_some() {
            return Err(TokenError::Exists(name.to_owned()));
        }
        let secret = new_secret();
        let spec = TokenSpec {
            name: name.to_owned(),
            scopes: canonical,
            sha256: sha256_hex(&secret),
            hint: secret.chars().take(7).collect(),
            created_at: bus::registry::now_rfc3339(),
        };
        self.meta.put(TREE, name, &spec)?;
        self.by_hash
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(spec.sha256.clone(), Arc::new(spec.clone()));
        Ok((spec, secret))
    }

    /// Every token, by name.
    pub fn list(&self) -> Result<Vec<TokenSpec>, MetaError> {
        self.meta.list(TREE)
    }

    /// Deletes a token: requests carrying it are refused from now on.
    pub fn delete(&self, name: &str) -> Result<(), TokenError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(spec) = self.meta.get::<TokenSpec>(TREE, name)? else {
            return Err(TokenError::NotFound(name.to_owned()));
        };
        self.meta.remove(TREE, name)?;
        self.by_hash
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&spec.sha256);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_verify_by_hash_and_are_stored_without_secret() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta::open(dir.path()).unwrap();
        let t = Tokens::load(meta.clone()).unwrap();
        assert!(!t.enforced());
        let (spec, secret) = t.create("ci", &["publish:orders".into()]).unwrap();
        assert!(secret.starts_with("ry_") && secret.len() > 40);
        assert!(t.enforced());
        assert_eq!(t.verify(&secret).unwrap().name, "ci");
        assert!(t.verify("ry_nope").is_none());
        let stored = serde_json::to_string(&t.list().unwrap()).unwrap();
        assert!(!stored.contains(&secret[3..]), "the secret is not stored");
        assert!(matches!(
            t.create("ci", &["admin".into()]),
            Err(TokenError::Exists(_))
        ));
        assert!(matches!(
            t.create("x", &["root".into()]),
            Err(TokenError::Invalid { pointer, .. }) if pointer == "/scopes/0"
        ));
        let again = Tokens::load(meta).unwrap();
        assert_eq!(again.verify(&secret).unwrap().scopes, spec.scopes);
        again.delete("ci").unwrap();
        assert!(again.verify(&secret).is_none());
    }
}
