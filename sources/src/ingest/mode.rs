//! Which CloudEvents HTTP binding mode a request is in, decided from headers alone.
//!
//! The decision has to come before the body is read, because the body limit depends on it (one
//! event or a whole batch). Per the HTTP binding (§3): a Content-Type naming a CloudEvents event
//! format means structured (or batch) mode, whatever ce- headers are also present; otherwise ce-
//! headers mean binary mode. Media types are compared case-insensitively through the shared
//! parser, so `Application/CloudEvents+JSON; charset=UTF-8` is structured (cloudevents-sdk rejects
//! it). A CloudEvents format other than JSON is a 415, not a binary-mode event with a strange
//! content type, because the producer clearly meant structured mode.

use bus::event::media_type::{self, MediaType};
use http::HeaderMap;
use http::header::CONTENT_TYPE;

use super::IngestError;

/// The structured-mode media type.
pub const STRUCTURED: &str = "application/cloudevents+json";
/// The batch-mode media type.
pub const BATCH: &str = "application/cloudevents-batch+json";

/// A CloudEvents HTTP binding mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Attributes in `ce-` headers, data in the body.
    Binary,
    /// One `application/cloudevents+json` event in the body.
    Structured,
    /// An `application/cloudevents-batch+json` array of events in the body.
    Batch,
}

const ACCEPTED: &str = "send ce-specversion, ce-id, ce-source and ce-type headers (binary mode), \
                        or Content-Type application/cloudevents+json (structured mode) or \
                        application/cloudevents-batch+json (batch mode)";

/// Decide from headers only (before the body is read). See the module docs for the rules.
pub fn mode_of(headers: &HeaderMap) -> Result<Mode, IngestError> {
    let content_type = single_content_type(headers)?;
    if let Some(mt) = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|s| media_type::parse(s).ok())
    {
        let mode = match mt.essence() {
            STRUCTURED => Some(Mode::Structured),
            BATCH => Some(Mode::Batch),
            _ if is_cloudevents_format(&mt) => {
                return Err(IngestError::unsupported(format!(
                    "event format {} is not supported: only application/cloudevents+json \
                     (structured mode) and application/cloudevents-batch+json (batch mode) are",
                    mt.essence()
                )));
            }
            _ => None,
        };
        if let Some(mode) = mode {
            let charset = mt.param("charset");
            if let Some(charset) = charset.filter(|c| !c.eq_ignore_ascii_case("utf-8")) {
                return Err(IngestError::unsupported(format!(
                    "charset {charset} is not supported: CloudEvents JSON is UTF-8"
                )));
            }
            return Ok(mode);
        }
    }
    if headers.keys().any(|k| k.as_str().starts_with("ce-")) {
        return Ok(Mode::Binary);
    }
    let got = match content_type {
        None => "no Content-Type and no ce- headers".to_owned(),
        Some(v) => format!(
            "Content-Type {} and no ce- headers",
            String::from_utf8_lossy(v.as_bytes())
        ),
    };
    Err(IngestError::unsupported(format!(
        "not a CloudEvent ({got}): {ACCEPTED}"
    )))
}

/// The Content-Type header, refusing one given twice (which value would apply is ambiguous).
pub(crate) fn single_content_type(
    headers: &HeaderMap,
) -> Result<Option<&http::HeaderValue>, IngestError> {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(IngestError::invalid(
            "datacontenttype",
            "the Content-Type header is given more than once",
        ));
    }
    Ok(first)
}

/// `application/cloudevents`, `application/cloudevents+X`, `application/cloudevents-batch[+X]`.
fn is_cloudevents_format(mt: &MediaType) -> bool {
    let sub = mt.subtype();
    mt.ty() == "application"
        && ["cloudevents", "cloudevents-batch"].iter().any(|base| {
            sub.strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('+'))
        })
}
