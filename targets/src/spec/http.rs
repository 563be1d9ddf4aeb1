//! The members of an `http` target: `url`, `method`, `headers`, `mode`, `connection`.

use http::{HeaderName, HeaderValue, Method};
use serde_json::Value;

use super::SpecError;
use super::read::{Obj, escape, kind_of};

/// How the event travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// CloudEvents binary mode: attributes as `ce-` headers, the data as the body (the default,
    /// as in Knative).
    Binary,
    /// CloudEvents structured mode: the whole event as `application/cloudevents+json`.
    Structured,
    /// The transformed payload alone, as EventBridge API destinations send it.
    Body,
}

impl Mode {
    /// Its name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Binary => "binary",
            Mode::Structured => "structured",
            Mode::Body => "body",
        }
    }
}

/// An HTTP endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// `http` or `https`.
    pub url: reqwest::Url,
    /// The same, as the request URI.
    pub uri: http::Uri,
    /// Default `POST`.
    pub method: Method,
    /// Sent with every request (after the CloudEvents headers, before the connection's auth).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// How the event travels.
    pub mode: Mode,
    /// The name of a connection whose credentials authenticate the requests.
    pub connection: Option<String>,
}

/// Headers the engine sets itself.
const RESERVED: &[&str] = &["content-length", "host", "transfer-encoding", "connection"];

pub(super) fn parse(obj: &mut Obj) -> Result<HttpSpec, SpecError> {
    let url_text = obj.required_str("url")?;
    let url = reqwest::Url::parse(&url_text)
        .map_err(|e| SpecError::new(obj.ptr("url"), format!("{url_text:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SpecError::new(
            obj.ptr("url"),
            format!(
                "the scheme is {:?}; http or https was expected",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(SpecError::new(obj.ptr("url"), "the URL has no host"));
    }
    let method = match obj.opt_str("method")? {
        None => Method::POST,
        Some(m) => match m.to_ascii_uppercase().as_str() {
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            "GET" => Method::GET,
            _ => {
                return Err(SpecError::new(
                    obj.ptr("method"),
                    format!("{m:?} is not one of POST, PUT, PATCH, DELETE, GET"),
                ));
            }
        },
    };
    let mut headers = Vec::new();
    if let Some(mut h) = obj.opt_obj("headers")? {
        let base = obj.ptr("headers");
        for (name, value) in h.drain() {
            let at = format!("{base}/{}", escape(&name));
            let hn = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SpecError::new(&at, format!("{name:?} is not a header name")))?;
            if RESERVED.contains(&hn.as_str()) {
                return Err(SpecError::new(
                    &at,
                    format!("{name} is set by the HTTP client and cannot be configured"),
                ));
            }
            let Value::String(v) = &value else {
                return Err(SpecError::new(
                    &at,
                    format!("is {}; a string was expected", kind_of(&value)),
                ));
            };
            let hv = HeaderValue::from_str(v)
                .map_err(|_| SpecError::new(&at, "is not a valid header value"))?;
            headers.push((hn, hv));
        }
    }
    let mode = match obj.opt_str("mode")?.as_deref() {
        None | Some("binary") => Mode::Binary,
        Some("structured") => Mode::Structured,
        Some("body") => Mode::Body,
        Some(other) => {
            return Err(SpecError::new(
                obj.ptr("mode"),
                format!("{other:?} is not one of binary, structured, body"),
            ));
        }
    };
    let connection = obj.opt_str("connection")?;
    if let Some(c) = &connection {
        bus::registry::check_name(c).map_err(|r| SpecError::new(obj.ptr("connection"), r))?;
    }
    let uri: http::Uri = url.as_str().parse().map_err(|e| {
        SpecError::new(
            obj.ptr("url"),
            format!("{url_text:?} is not a request URI ({e})"),
        )
    })?;
    Ok(HttpSpec {
        url,
        uri,
        method,
        headers,
        mode,
        connection,
    })
}
