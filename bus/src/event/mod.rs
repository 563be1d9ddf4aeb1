//! The event model: one CloudEvent 1.0, its structured-mode JSON encoding, and its validation.
//!
//! Why Railyard has its own type rather than cloudevents-sdk's `Event`: the bus stores, matches and
//! re-delivers the structured JSON form, and two properties of that form matter more than a rich
//! typed API:
//!
//! - **Byte-exact data.** `data` is kept as the raw JSON text the producer sent
//!   ([`serde_json::value::RawValue`]): no number is re-rounded, no key reordered, no escape
//!   rewritten, so a consumer that signs or hashes its payload sees the bytes that were published.
//!   `time` is likewise kept as received.
//! - **Strict, explainable validation.** Every refusal names the attribute and the rule broken
//!   ([`EventError`]); the SDK accepts empty ids, malformed sources and any extension name.
//!
//! Decoding never builds a `serde_json::Value` of the whole event: the top-level object is read as
//! (key, raw value) pairs and each attribute is converted from its raw text. Encoding writes the
//! JSON by hand, attributes in a fixed order (`specversion, id, source, type`, the optional
//! attributes, extensions by name, then `data` or `data_base64`), so the encoded form of an event is
//! deterministic and [`Event::encoded_len`] can be computed without encoding.
//!
//! JSON `null` for an attribute means "not set" (CloudEvents JSON format §2.2), except for `data`,
//! where `null` is an explicit null payload and is kept. Duplicate members are refused: which one
//! would win is parser-specific, and an event bus must not guess.

pub mod binary;
mod error;
mod json_text;
pub mod media_type;
pub mod time;
pub mod uri;
mod validate;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

pub use binary::BinaryMessage;
pub use error::EventError;
pub use json_text::JsonText;
pub use media_type::MediaType;
pub use validate::{MAX_EXTENSION_NAME_LEN, RESERVED_NAMES, SPEC_VERSION, check_extension_name};

/// One CloudEvent 1.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Identifies the event; `(source, id)` is unique per distinct event.
    pub id: String,
    /// The context in which the event happened: a URI-reference.
    pub source: String,
    /// Always "1.0" once validated.
    pub specversion: String,
    /// The `type` attribute.
    pub ty: String,
    /// Media type of `data`.
    pub datacontenttype: Option<String>,
    /// Absolute URI of the schema `data` adheres to.
    pub dataschema: Option<String>,
    /// The subject of the event within the source.
    pub subject: Option<String>,
    /// RFC 3339 timestamp, kept exactly as received (validated, never re-formatted).
    pub time: Option<String>,
    /// Extension attributes by name.
    pub extensions: BTreeMap<String, ExtensionValue>,
    /// The payload.
    pub data: Option<Data>,
}

/// The value of an extension attribute: the CloudEvents types a JSON producer can send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionValue {
    /// A JSON string (every extension in binary mode is a string).
    String(String),
    /// A JSON integer; validation limits it to the 32-bit signed range.
    Integer(i64),
    /// A JSON boolean.
    Boolean(bool),
}

impl fmt::Display for ExtensionValue {
    /// The canonical string form (CloudEvents type system), as used in binary-mode headers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Integer(n) => write!(f, "{n}"),
            Self::Boolean(b) => write!(f, "{b}"),
        }
    }
}

/// The payload of an event.
#[derive(Debug, Clone)]
pub enum Data {
    /// The `data` member verbatim: any JSON value, including a string or `null`.
    Json(JsonText),
    /// Bytes: `data_base64` decoded, or a non-text binary-mode body.
    Binary(Vec<u8>),
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Json(a), Self::Json(b)) => a.get() == b.get(),
            (Self::Binary(a), Self::Binary(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Data {}

impl Data {
    /// A JSON string value holding `text` (how a textual binary-mode body is stored, so that its
    /// bytes come back exactly).
    pub fn text(text: &str) -> Data {
        Data::Json(JsonText::string(text))
    }

    /// Parses `bytes` as one JSON value (surrounding whitespace is not part of the value).
    pub fn json(bytes: &[u8]) -> Result<Data, serde_json::Error> {
        JsonText::parse(bytes::Bytes::copy_from_slice(bytes)).map(Data::Json)
    }

    /// Like [`Data::json`], keeping a slice of `bytes` rather than a copy.
    pub fn json_shared(bytes: bytes::Bytes) -> Result<Data, serde_json::Error> {
        JsonText::parse(bytes).map(Data::Json)
    }
}

/// `data_base64` is decoded leniently about padding (many producers strip it) but strictly about
/// the alphabet and trailing bits.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Event {
    /// An event with the required attributes and specversion 1.0 (not yet validated).
    pub fn new(id: impl Into<String>, source: impl Into<String>, ty: impl Into<String>) -> Event {
        Event {
            id: id.into(),
            source: source.into(),
            specversion: SPEC_VERSION.to_owned(),
            ty: ty.into(),
            datacontenttype: None,
            dataschema: None,
            subject: None,
            time: None,
            extensions: BTreeMap::new(),
            data: None,
        }
    }

    /// The structured-mode JSON (application/cloudevents+json) form: specversion, id, source, type,
    /// then the optional attributes present, extensions, then `data` (raw, byte-exact) or
    /// `data_base64`.
    pub fn to_structured_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.capacity_hint());
        self.write_structured_json(&mut out);
        out
    }

    /// Appends the structured-mode JSON form to `out` (see [`Event::to_structured_json`]); lets a
    /// caller encode many events into one buffer.
    /// `out` should have room for [`Event::size_hint`] more bytes; it grows if not.
    pub fn write_structured_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"specversion\":");
        push_str(out, &self.specversion);
        out.extend_from_slice(b",\"id\":");
        push_str(out, &self.id);
        out.extend_from_slice(b",\"source\":");
        push_str(out, &self.source);
        out.extend_from_slice(b",\"type\":");
        push_str(out, &self.ty);
        for (name, value) in self.optional_attributes() {
            out.push(b',');
            push_str(out, name);
            out.push(b':');
            push_str(out, value);
        }
        for (name, value) in &self.extensions {
            out.push(b',');
            push_str(out, name);
            out.push(b':');
            match value {
                ExtensionValue::String(s) => push_str(out, s),
                ExtensionValue::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
                ExtensionValue::Boolean(true) => out.extend_from_slice(b"true"),
                ExtensionValue::Boolean(false) => out.extend_from_slice(b"false"),
            }
        }
        match &self.data {
            None => {}
            Some(Data::Json(raw)) => {
                out.extend_from_slice(b",\"data\":");
                out.extend_from_slice(raw.get().as_bytes());
            }
            Some(Data::Binary(bytes)) => {
                out.extend_from_slice(b",\"data_base64\":\"");
                let start = out.len();
                out.resize(start + base64_len(bytes.len()), 0);
                let written = STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
                out.truncate(start + written);
                out.push(b'"');
            }
        }
        out.push(b'}');
    }

    /// Parse + validate one structured-mode JSON object (used both at ingest and when reading the
    /// log back).
    pub fn from_structured_json(bytes: &[u8]) -> Result<Event, EventError> {
        let members = match serde_json::from_slice::<Members<'_>>(bytes) {
            Ok(m) => m.0,
            Err(e) if e.classify() == serde_json::error::Category::Data => {
                return Err(EventError::new(
                    "",
                    format!(
                        "an event must be a JSON object, not {}",
                        kind_name(first_byte(bytes))
                    ),
                ));
            }
            Err(e) => return Err(EventError::json("", &e)),
        };
        let event = from_members(members)?;
        event.validate()?;
        Ok(event)
    }

    /// Validate all rules (called by the parsers; public so other producers, e.g. webhooks, can use
    /// it).
    pub fn validate(&self) -> Result<(), EventError> {
        validate::validate(self)
    }

    /// Size in bytes used for the per-event size limit: the length of the structured JSON form,
    /// computed without encoding.
    pub fn encoded_len(&self) -> usize {
        // Every optional member adds `,"name":value`, i.e. 2 bytes plus the name and the value.
        let mut n = r#"{"specversion":,"id":,"source":,"type":}"#.len();
        n += str_len(&self.specversion) + str_len(&self.id) + str_len(&self.source);
        n += str_len(&self.ty);
        for (name, value) in self.optional_attributes() {
            n += 2 + str_len(name) + str_len(value);
        }
        for (name, value) in &self.extensions {
            n += 2 + str_len(name);
            n += match value {
                ExtensionValue::String(s) => str_len(s),
                ExtensionValue::Integer(v) => int_len(*v),
                ExtensionValue::Boolean(true) => 4,
                ExtensionValue::Boolean(false) => 5,
            };
        }
        n += match &self.data {
            None => 0,
            Some(Data::Json(raw)) => 8 + raw.get().len(),
            Some(Data::Binary(b)) => 17 + base64_len(b.len()),
        };
        n
    }

    fn optional_attributes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("datacontenttype", &self.datacontenttype),
            ("dataschema", &self.dataschema),
            ("subject", &self.subject),
            ("time", &self.time),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.as_deref().map(|v| (name, v)))
    }

    /// A cheap estimate of the structured JSON length for sizing buffers (no escaping scan; string
    /// escapes and extension values are not counted, so a buffer may still grow).
    pub fn size_hint(&self) -> usize {
        self.capacity_hint()
    }

    fn capacity_hint(&self) -> usize {
        let mut n = 64 + self.id.len() + self.source.len() + self.ty.len();
        n += self
            .optional_attributes()
            .map(|(_, v)| 20 + v.len())
            .sum::<usize>();
        n += self.extensions.keys().map(|k| 32 + k.len()).sum::<usize>();
        n + match &self.data {
            None => 0,
            Some(Data::Json(raw)) => 8 + raw.get().len(),
            Some(Data::Binary(b)) => 17 + base64_len(b.len()),
        }
    }
}

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes.
fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail (Vec's io::Write is infallible and every string is
    // representable), so the Result carries nothing.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The length of `s` as a JSON string written by [`push_str`] (quotes included). Mirrors
/// serde_json's escape table; a unit test pins the two together.
fn str_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|c| match c {
            b'"' | b'\\' | 0x08 | b'\t' | b'\n' | 0x0c | b'\r' => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn int_len(v: i64) -> usize {
    let sign = usize::from(v < 0);
    let mut u = v.unsigned_abs();
    let mut digits = 1;
    while u >= 10 {
        u /= 10;
        digits += 1;
    }
    sign + digits
}

fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

fn first_byte(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .copied()
        .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(0)
}

/// "a string", "an array"… for the JSON value starting with `c`.
fn kind_name(c: u8) -> &'static str {
    match c {
        b'"' => "a string",
        b'{' => "an object",
        b'[' => "an array",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "a value",
    }
}

/// The top-level members of an object, in document order, values unparsed.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A member name, borrowed from the input unless it contained escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Builds an event from its members, checking JSON types, presence and duplicates; value rules
/// are left to [`validate`].
fn from_members(members: Vec<(Cow<'_, str>, &RawValue)>) -> Result<Event, EventError> {
    if members.len() > 1 {
        let mut names: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(EventError::new(
                w[0],
                "appears more than once in the event object",
            ));
        }
    }
    let mut specversion = None;
    let mut id = None;
    let mut source = None;
    let mut ty = None;
    let mut ev = Event::new(String::new(), String::new(), String::new());
    let mut data_base64 = None;
    for (key, raw) in members {
        match key.as_ref() {
            "specversion" => specversion = string_attr("specversion", raw)?,
            "id" => id = string_attr("id", raw)?,
            "source" => source = string_attr("source", raw)?,
            "type" => ty = string_attr("type", raw)?,
            "datacontenttype" => ev.datacontenttype = string_attr("datacontenttype", raw)?,
            "dataschema" => ev.dataschema = string_attr("dataschema", raw)?,
            "subject" => ev.subject = string_attr("subject", raw)?,
            "time" => ev.time = string_attr("time", raw)?,
            "data" => ev.data = Some(Data::Json(JsonText::from_raw(raw))),
            "data_base64" => data_base64 = base64_attr(raw)?,
            _ => {
                check_extension_name(&key)?;
                if let Some(v) = extension_value(&key, raw)? {
                    ev.extensions.insert(key.into_owned(), v);
                }
            }
        }
    }
    if let Some(bytes) = data_base64 {
        if ev.data.is_some() {
            return Err(EventError::new(
                "data_base64",
                "must not be given together with data (use one or the other)",
            ));
        }
        ev.data = Some(Data::Binary(bytes));
    }
    ev.specversion = specversion.ok_or_else(|| EventError::missing("specversion"))?;
    ev.id = id.ok_or_else(|| EventError::missing("id"))?;
    ev.source = source.ok_or_else(|| EventError::missing("source"))?;
    ev.ty = ty.ok_or_else(|| EventError::missing("type"))?;
    Ok(ev)
}

/// A core attribute: a JSON string, or `null` for "not set".
fn string_attr(name: &str, raw: &RawValue) -> Result<Option<String>, EventError> {
    let text = raw.get();
    match first_byte(text.as_bytes()) {
        b'n' => Ok(None),
        b'"' => json_string(name, text).map(Some),
        c => Err(EventError::new(
            name,
            format!("must be a string (got {})", kind_name(c)),
        )),
    }
}

/// The contents of a JSON string literal `text` (already known to be valid JSON).
fn json_string(name: &str, text: &str) -> Result<String, EventError> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if inner.contains('\\') {
        serde_json::from_str(text).map_err(|e| EventError::json(name, &e))
    } else {
        Ok(inner.to_owned())
    }
}

fn base64_attr(raw: &RawValue) -> Result<Option<Vec<u8>>, EventError> {
    let Some(s) = string_attr("data_base64", raw).map_err(|_| {
        EventError::new(
            "data_base64",
            format!(
                "must be a string of base64-encoded bytes (got {})",
                kind_name(first_byte(raw.get().as_bytes()))
            ),
        )
    })?
    else {
        return Ok(None);
    };
    BASE64_LENIENT.decode(s.as_bytes()).map(Some).map_err(|e| {
        EventError::new(
            "data_base64",
            format!("must be standard base64 (RFC 4648 §4, padding optional): {e}"),
        )
    })
}

/// An extension value: string, boolean or 32-bit integer; `null` for "not set".
fn extension_value(name: &str, raw: &RawValue) -> Result<Option<ExtensionValue>, EventError> {
    let text = raw.get();
    let kind = first_byte(text.as_bytes());
    let wrong =
        |got: String| EventError::new(name, format!("{} (got {got})", validate::EXTENSION_TYPES));
    match kind {
        b'n' => Ok(None),
        b'"' => json_string(name, text).map(|s| Some(ExtensionValue::String(s))),
        b't' => Ok(Some(ExtensionValue::Boolean(true))),
        b'f' => Ok(Some(ExtensionValue::Boolean(false))),
        b'-' | b'0'..=b'9' => {
            if text.contains(['.', 'e', 'E']) {
                return Err(wrong(format!("the non-integer number {text}")));
            }
            let n: i64 = text.parse().map_err(|_| wrong(text.to_owned()))?;
            validate::check_integer(name, n)?;
            Ok(Some(ExtensionValue::Integer(n)))
        }
        c => Err(wrong(kind_name(c).to_owned())),
    }
}
