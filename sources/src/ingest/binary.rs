//! Binary mode: attributes in `ce-` headers, `Content-Type` as `datacontenttype`, the body as data.
//!
//! How the body becomes [`Data`] decides whether it can be delivered back unchanged, so:
//! - a JSON media type (`json` subtype or `+json` suffix) must parse, and is kept as raw JSON;
//! - text (`text/*`, `*/xml`, `+xml`) that is UTF-8 is kept as a JSON string, so structured
//!   consumers and rules see readable text and a binary-mode delivery writes the same bytes back;
//! - anything else, or no Content-Type, is bytes (`data_base64` in the structured form).
//!
//! Every extension arrives as a string: headers carry no types. A header given twice is refused
//! rather than joined, since joining with `,` would silently change the value.

use bus::event::media_type::{self, MediaType};
use bus::event::{Data, Event, EventError};
use bytes::Bytes;
use http::HeaderMap;

use super::{IngestError, Limits, check_size, mode, percent};

/// Decodes one binary-mode event.
pub(crate) fn decode(
    headers: &HeaderMap,
    body: Bytes,
    limits: &Limits,
) -> Result<Event, IngestError> {
    if body.len() > limits.max_event_bytes {
        return Err(IngestError::too_large(format!(
            "event body of {} bytes exceeds the limit of {} bytes",
            body.len(),
            limits.max_event_bytes
        )));
    }
    let mut ev = Event::new(String::new(), String::new(), String::new());
    let (mut specversion, mut id, mut source, mut ty) = (None, None, None, None);
    let mut ce_datacontenttype = None;
    for name in headers.keys() {
        let Some(attr) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let mut values = headers.get_all(name).iter();
        let (Some(raw), None) = (values.next(), values.next()) else {
            return Err(IngestError::invalid(
                attr,
                format!("the header {name} is given more than once"),
            ));
        };
        let value = percent::decode(raw.as_bytes())
            .map_err(|e| {
                IngestError::invalid(
                    attr,
                    format!(
                        "the header {name} is not UTF-8 once percent-decoded (invalid byte at \
                         index {} of the decoded value)",
                        e.index
                    ),
                )
            })?
            .into_owned();
        match attr {
            "specversion" => specversion = Some(value),
            "id" => id = Some(value),
            "source" => source = Some(value),
            "type" => ty = Some(value),
            "datacontenttype" => ce_datacontenttype = Some(value),
            "dataschema" => ev.dataschema = Some(value),
            "subject" => ev.subject = Some(value),
            "time" => ev.time = Some(value),
            _ => {
                ev.extensions
                    .insert(attr.to_owned(), bus::event::ExtensionValue::String(value));
            }
        }
    }
    ev.specversion = specversion.ok_or_else(|| EventError::missing("specversion"))?;
    ev.id = id.ok_or_else(|| EventError::missing("id"))?;
    ev.source = source.ok_or_else(|| EventError::missing("source"))?;
    ev.ty = ty.ok_or_else(|| EventError::missing("type"))?;

    let (datacontenttype, media) = content_type(headers, ce_datacontenttype)?;
    ev.datacontenttype = datacontenttype;
    if !body.is_empty() {
        ev.data = Some(body_to_data(&body, media.as_ref())?);
    }
    ev.validate()?;
    check_size(&ev, limits)?;
    Ok(ev)
}

/// `datacontenttype` from `Content-Type`, or from `ce-datacontenttype` when there is none; both
/// given and meaning different media types is refused.
fn content_type(
    headers: &HeaderMap,
    ce_datacontenttype: Option<String>,
) -> Result<(Option<String>, Option<MediaType>), IngestError> {
    let header = match mode::single_content_type(headers)? {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    IngestError::invalid(
                        "datacontenttype",
                        "the Content-Type header must be visible ASCII",
                    )
                })?
                .to_owned(),
        ),
    };
    let parse = |s: &str| {
        media_type::parse(s).map_err(|e| {
            IngestError::invalid(
                "datacontenttype",
                format!("must be a media type such as application/json ({e})"),
            )
        })
    };
    match (header, ce_datacontenttype) {
        (None, None) => Ok((None, None)),
        (Some(s), None) | (None, Some(s)) => {
            let mt = parse(&s)?;
            Ok((Some(s), Some(mt)))
        }
        (Some(h), Some(ce)) => {
            let mt = parse(&h)?;
            if parse(&ce)? != mt {
                return Err(IngestError::invalid(
                    "datacontenttype",
                    format!("Content-Type {h:?} and ce-datacontenttype {ce:?} disagree"),
                ));
            }
            Ok((Some(h), Some(mt)))
        }
    }
}

fn body_to_data(body: &Bytes, media: Option<&MediaType>) -> Result<Data, IngestError> {
    match media {
        Some(mt) if mt.is_json() => Data::json_shared(body.clone())
            .map_err(|e| IngestError::from(EventError::json("data", &e))),
        Some(mt) if mt.is_text() => Ok(match std::str::from_utf8(body) {
            Ok(text) => Data::text(text),
            Err(_) => Data::Binary(body.to_vec()),
        }),
        // No Content-Type: the CloudEvents JSON format reads an absent datacontenttype as
        // application/json, and SDKs (Python's, for one) send JSON data this way. A body that
        // parses as JSON is kept as JSON, anything else as bytes, so either reads back as sent.
        None => Ok(Data::json_shared(body.clone()).unwrap_or_else(|_| Data::Binary(body.to_vec()))),
        Some(_) => Ok(Data::Binary(body.to_vec())),
    }
}
