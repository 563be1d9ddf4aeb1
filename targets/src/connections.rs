//! Connections: reusable credentials for HTTP targets, as EventBridge's connections.
//!
//! `PUT /v1/connections/{name}` takes exactly one of
//! - `"basic": {"username", "password"}`,
//! - `"api_key": {"header", "value"}`,
//! - `"oauth_client_credentials": {"token_url", "client_id", "client_secret", "scopes": [],
//!   "params": {}}`.
//!
//! Secrets (`password`, `value`, `client_secret`) are write-only: [`ConnectionSpec::public`] is
//! what the API shows, and `Debug` never prints them. Kept in the metadata store (sled, flushed on
//! every write), tree `connections`.
//!
//! OAuth: the token is fetched with the client-credentials grant (client id and secret as HTTP
//! Basic, RFC 6749 §2.3.1; scopes and extra parameters in the form), cached until 30 s before
//! `expires_in` (an hour when the server gives none), fetched by one caller while the others
//! wait, and dropped when a target answers 401 ([`Connections::invalidate`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bus::meta::{Meta, MetaError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::spec::SpecError;

const TREE: &str = "connections";

/// How a connection authenticates.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// HTTP Basic.
    Basic {
        /// User name.
        username: String,
        /// Secret.
        password: String,
    },
    /// A header carrying a key.
    ApiKey {
        /// Header name.
        header: String,
        /// Secret.
        value: String,
    },
    /// OAuth 2.0 client credentials.
    OauthClientCredentials {
        /// Token endpoint.
        token_url: String,
        /// Client id.
        client_id: String,
        /// Secret.
        client_secret: String,
        /// Scopes requested.
        #[serde(default)]
        scopes: Vec<String>,
        /// Extra form parameters (`audience`, …).
        #[serde(default)]
        params: BTreeMap<String, String>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.write_str(self.kind())
    }
}

impl Auth {
    /// Its member name.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::Basic { .. } => "basic",
            Auth::ApiKey { .. } => "api_key",
            Auth::OauthClientCredentials { .. } => "oauth_client_credentials",
        }
    }
}

/// A stored connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSpec {
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The credentials.
    pub auth: Auth,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The ETag.
    pub version: u64,
}

impl ConnectionSpec {
    /// The connection as the API shows it: without its secrets.
    pub fn public(&self) -> Value {
        let auth = match &self.auth {
            Auth::Basic { username, .. } => json!({ "username": username }),
            Auth::ApiKey { header, .. } => json!({ "header": header }),
            Auth::OauthClientCredentials {
                token_url,
                client_id,
                scopes,
                params,
                ..
            } => json!({
                "token_url": token_url, "client_id": client_id, "scopes": scopes, "params": params
            }),
        };
        let mut v = json!({
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "version": self.version,
        });
        if let Value::Object(m) = &mut v {
            m.insert(self.auth.kind().to_owned(), auth);
        }
        v
    }
}

/// A connection operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The body is invalid.
    #[error(transparent)]
    Invalid(#[from] SpecError),
    /// No such connection.
    #[error("connection {0:?} does not exist")]
    NotFound(String),
    /// `If-Match` failed.
    #[error(
        "connection {name:?} is at version {current:?}; the request expected another (If-Match)"
    )]
    PreconditionFailed {
        /// The connection.
        name: String,
        /// Its version, if it exists.
        current: Option<u64>,
    },
    /// Fetching an OAuth token failed.
    #[error("connection {name:?}: fetching a token from {url}: {reason}")]
    Token {
        /// The connection.
        name: String,
        /// The token URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
}

fn text(m: &mut serde_json::Map<String, Value>, at: &str, name: &str) -> Result<String, SpecError> {
    match m.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(SpecError::new(format!("{at}/{name}"), "is empty")),
        None | Some(Value::Null) => Err(SpecError::new(format!("{at}/{name}"), "is required")),
        Some(_) => Err(SpecError::new(
            format!("{at}/{name}"),
            "a string was expected",
        )),
    }
}

fn rest(m: serde_json::Map<String, Value>, at: &str) -> Result<(), SpecError> {
    match m.keys().next() {
        None => Ok(()),
        Some(k) => Err(SpecError::new(
            format!("{at}/{k}"),
            "is not a member of this object",
        )),
    }
}

/// Reads a `PUT` body: `(description, auth)`.
pub fn parse_body(body: &Value) -> Result<(String, Auth), SpecError> {
    let Value::Object(map) = body else {
        return Err(SpecError::new(
            "",
            "the body is an object: {\"basic\": {…}} or {\"api_key\": {…}} or {\"oauth_client_credentials\": {…}}",
        ));
    };
    let mut map = map.clone();
    let description = match map.remove("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.chars().count() <= 512 => s,
        Some(Value::String(_)) => {
            return Err(SpecError::new("/description", "is over 512 characters"));
        }
        Some(_) => return Err(SpecError::new("/description", "a string was expected")),
    };
    let kinds = ["basic", "api_key", "oauth_client_credentials"];
    let given: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k))
        .collect();
    let kind = match given.as_slice() {
        [one] => *one,
        [] => {
            return Err(SpecError::new(
                "",
                "one of basic, api_key, oauth_client_credentials is required",
            ));
        }
        [_, second, ..] => {
            return Err(SpecError::new(
                format!("/{second}"),
                "a connection has exactly one of basic, api_key, oauth_client_credentials",
            ));
        }
    };
    let at = format!("/{kind}");
    let Some(Value::Object(mut m)) = map.remove(kind) else {
        return Err(SpecError::new(at, "an object was expected"));
    };
    rest(map, "")?;
    let auth = match kind {
        "basic" => {
            let a = Auth::Basic {
                username: text(&mut m, &at, "username")?,
                password: text(&mut m, &at, "password")?,
            };
            rest(m, &at)?;
            a
        }
        "api_key" => {
            let header = text(&mut m, &at, "header")?;
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(SpecError::new(
                    format!("{at}/header"),
                    format!("{header:?} is not a header name"),
                ));
            }
            let value = text(&mut m, &at, "value")?;
            if http::HeaderValue::from_str(&value).is_err() {
                return Err(SpecError::new(
                    format!("{at}/value"),
                    "is not a valid header value",
                ));
            }
            rest(m, &at)?;
            Auth::ApiKey { header, value }
        }
        _ => {
            let token_url = text(&mut m, &at, "token_url")?;
            match reqwest::Url::parse(&token_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(SpecError::new(
                        format!("{at}/token_url"),
                        format!("{token_url:?} is not an http or https URL"),
                    ));
                }
            }
            let client_id = text(&mut m, &at, "client_id")?;
            let client_secret = text(&mut m, &at, "client_secret")?;
            let scopes = match m.remove("scopes") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| match s {
                        Value::String(s) => Ok(s),
                        _ => Err(SpecError::new(
                            format!("{at}/scopes/{i}"),
                            "a string was expected",
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(SpecError::new(
                        format!("{at}/scopes"),
                        "an array of strings was expected",
                    ));
                }
            };
            let params = match m.remove("params") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(Value::Object(p)) => p
                    .into_iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k, s)),
                        _ => Err(SpecError::new(
                            format!("{at}/params/{k}"),
                            "a string was expected",
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(SpecError::new(
                        format!("{at}/params"),
                        "an object of strings was expected",
                    ));
                }
            };
            rest(m, &at)?;
            Auth::OauthClientCredentials {
                token_url,
                client_id,
                client_secret,
                scopes,
                params,
            }
        }
    };
    Ok((description, auth))
}

struct Token {
    value: String,
    expires: Instant,
}

/// The connections, their store and their cached tokens.
pub struct Connections {
    meta: Meta,
    writes: Mutex<()>,
    cache: Mutex<HashMap<String, Arc<ConnectionSpec>>>,
    tokens: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Token>>>>>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connections")
    }
}

impl Connections {
    /// The connections kept in `meta`; tokens are fetched with `client`.
    pub fn new(meta: Meta, client: reqwest::Client) -> Connections {
        Connections {
            meta,
            writes: Mutex::new(()),
            cache: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            client,
        }
    }

    /// One connection.
    pub fn get(&self, name: &str) -> Result<Option<Arc<ConnectionSpec>>, MetaError> {
        if let Some(c) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(Some(c.clone()));
        }
        let spec: Option<ConnectionSpec> = self.meta.get(TREE, name)?;
        Ok(spec.map(|s| {
            let s = Arc::new(s);
            self.cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_owned(), s.clone());
            s
        }))
    }

    /// Up to `limit` connections sorted after `after`.
    pub fn list(&self, after: &str, limit: usize) -> Result<Vec<ConnectionSpec>, MetaError> {
        self.meta.scan(TREE, "", after, limit)
    }

    /// Creates or replaces a connection; returns it and whether it is new.
    pub fn put(
        &self,
        name: &str,
        body: &Value,
        if_match: Option<u64>,
    ) -> Result<(ConnectionSpec, bool), ConnectionError> {
        let (description, auth) = parse_body(body)?;
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let old: Option<ConnectionSpec> = self.meta.get(TREE, name)?;
        if let Some(want) = if_match
            && old.as_ref().map(|o| o.version) != Some(want)
        {
            return Err(ConnectionError::PreconditionFailed {
                name: name.to_owned(),
                current: old.map(|o| o.version),
            });
        }
        let now = bus::registry::now_rfc3339();
        let spec = ConnectionSpec {
            name: name.to_owned(),
            description,
            auth,
            created_at: old
                .as_ref()
                .map_or_else(|| now.clone(), |o| o.created_at.clone()),
            updated_at: now,
            version: old.as_ref().map_or(1, |o| o.version + 1),
        };
        self.meta.put(TREE, name, &spec)?;
        self.forget(name);
        Ok((spec, old.is_none()))
    }

    /// Deletes a connection (the caller checked nothing uses it).
    pub fn delete(&self, name: &str, if_match: Option<u64>) -> Result<(), ConnectionError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let old: Option<ConnectionSpec> = self.meta.get(TREE, name)?;
        let Some(old) = old else {
            return Err(ConnectionError::NotFound(name.to_owned()));
        };
        if let Some(want) = if_match
            && old.version != want
        {
            return Err(ConnectionError::PreconditionFailed {
                name: name.to_owned(),
                current: Some(old.version),
            });
        }
        self.meta.remove(TREE, name)?;
        self.forget(name);
        Ok(())
    }

    fn forget(&self, name: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Drops the cached OAuth token if it is still the one a target refused with 401 (`sent`
    /// is the `Authorization` value of that request): many requests refused at once cause
    /// one new token, not one each.
    pub async fn invalidate(&self, name: &str, sent: &http::HeaderValue) {
        let slot = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        if let Some(slot) = slot {
            let mut t = slot.lock().await;
            if t.as_ref()
                .is_some_and(|t| sent.as_bytes() == format!("Bearer {}", t.value).as_bytes())
            {
                *t = None;
            }
        }
    }

    /// The header that authenticates a request through connection `name`.
    pub async fn header(
        &self,
        name: &str,
    ) -> Result<(http::HeaderName, http::HeaderValue), ConnectionError> {
        let spec = self
            .get(name)?
            .ok_or_else(|| ConnectionError::NotFound(name.to_owned()))?;
        let bad = |what: &str| ConnectionError::Token {
            name: name.to_owned(),
            url: String::new(),
            reason: format!("{what} is not a valid header value"),
        };
        match &spec.auth {
            Auth::Basic { username, password } => {
                let b64 = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                let v = http::HeaderValue::from_str(&format!("Basic {b64}"))
                    .map_err(|_| bad("the credentials"))?;
                Ok((http::header::AUTHORIZATION, v))
            }
            Auth::ApiKey { header, value } => {
                let n = http::HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| bad("the header name"))?;
                let v = http::HeaderValue::from_str(value).map_err(|_| bad("the key"))?;
                Ok((n, v))
            }
            Auth::OauthClientCredentials { .. } => {
                let token = self.token(&spec).await?;
                let v = http::HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| bad("the token"))?;
                Ok((http::header::AUTHORIZATION, v))
            }
        }
    }

    async fn token(&self, spec: &ConnectionSpec) -> Result<String, ConnectionError> {
        let slot = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(spec.name.clone())
            .or_default()
            .clone();
        // One fetch at a time per connection; the others wait and reuse it.
        let mut slot = slot.lock().await;
        if let Some(t) = slot.as_ref()
            && t.expires > Instant::now()
        {
            return Ok(t.value.clone());
        }
        let Auth::OauthClientCredentials {
            token_url,
            client_id,
            client_secret,
            scopes,
            params,
        } = &spec.auth
        else {
            return Err(ConnectionError::NotFound(spec.name.clone()));
        };
        let fail = |reason: String| ConnectionError::Token {
            name: spec.name.clone(),
            url: token_url.clone(),
            reason,
        };
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let scope = scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        for (k, v) in params {
            form.push((k, v));
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let resp = self
            .client
            .post(token_url)
            .basic_auth(client_id, Some(client_secret))
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| fail(crate::http::error_text(&e)))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| fail(crate::http::error_text(&e)))?;
        if !status.is_success() {
            return Err(fail(format!(
                "status {}: {}",
                status.as_u16(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )));
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| fail(format!("the answer is not JSON: {e}")))?;
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("the answer has no access_token".into()))?
            .to_owned();
        let ttl = v
            .get("expires_in")
            .and_then(|e| {
                e.as_u64()
                    .or_else(|| e.as_str().and_then(|s| s.parse().ok()))
            })
            .map_or(Duration::from_secs(3600), Duration::from_secs);
        let expires = Instant::now()
            + ttl
                .saturating_sub(Duration::from_secs(30))
                .max(Duration::from_secs(1));
        metrics::counter!("railyard_oauth_token_fetches_total", "connection" => spec.name.clone())
            .increment(1);
        *slot = Some(Token {
            value: token.clone(),
            expires,
        });
        Ok(token)
    }
}

/// Percent-encodes a form value (application/x-www-form-urlencoded).
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn bodies_are_checked_and_secrets_hidden() {
        let (_, auth) = parse_body(&json!({"basic": {"username": "u", "password": "p"}})).unwrap();
        let spec = ConnectionSpec {
            name: "c".into(),
            description: String::new(),
            auth,
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        };
        let shown = spec.public().to_string();
        assert!(shown.contains("\"username\":\"u\""));
        assert!(!shown.contains("\"p\""));
        assert!(!format!("{spec:?}").contains("\"p\""));
        let e = parse_body(&json!({"basic": {"username": "u"}})).unwrap_err();
        assert_eq!(e.pointer, "/basic/password");
        let e = parse_body(&json!({"basic": {}, "api_key": {}})).unwrap_err();
        assert_eq!(e.pointer, "/api_key");
        let e = parse_body(&json!({"oauth_client_credentials": {"token_url": "ftp://x", "client_id": "a", "client_secret": "b"}})).unwrap_err();
        assert_eq!(e.pointer, "/oauth_client_credentials/token_url");
        assert_eq!(urlencode("a b/c"), "a+b%2Fc");
    }
}
