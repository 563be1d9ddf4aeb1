//! Errors of the ingest edge, shaped for RFC 9457 problem details.
//!
//! The server turns an [`IngestError`] into `application/problem+json` with `type` from
//! [`IngestError::slug`], the status from [`IngestError::status`], `detail` as is, and an `errors`
//! entry pointing at `attribute`. Keeping the HTTP meaning (status, slug) here, next to the rules
//! that produce the errors, means the server needs no knowledge of CloudEvents to answer well.

use bus::event::EventError;

/// The class of an ingest failure; it decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The event breaks a CloudEvents rule (400).
    Invalid,
    /// The body (or a JSON `data` body in binary mode) is not JSON (400).
    MalformedJson,
    /// Over a size or count limit (413).
    TooLarge,
    /// Not a CloudEvents HTTP binding this server speaks (415).
    UnsupportedMediaType,
}

impl ErrorKind {
    /// The HTTP status for this kind.
    pub fn status(self) -> u16 {
        match self {
            Self::Invalid | Self::MalformedJson => 400,
            Self::TooLarge => 413,
            Self::UnsupportedMediaType => 415,
        }
    }

    /// The stable problem `type` slug.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Invalid => "invalid-event",
            Self::MalformedJson => "malformed-json",
            Self::TooLarge => "event-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
        }
    }

    /// A short human title for the problem document.
    pub fn title(self) -> &'static str {
        match self {
            Self::Invalid => "Invalid event",
            Self::MalformedJson => "Malformed JSON",
            Self::TooLarge => "Event too large",
            Self::UnsupportedMediaType => "Unsupported media type",
        }
    }
}

/// Why a request (or one batch entry) was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{detail}")]
pub struct IngestError {
    /// The class, which decides the status.
    pub kind: ErrorKind,
    /// The CloudEvents attribute at fault (`"source"`, `"myext"`, `"data"`), if one is.
    pub attribute: Option<String>,
    /// What is wrong, in words a producer can act on.
    pub detail: String,
    /// (line, column) of a JSON syntax error.
    pub position: Option<(usize, usize)>,
    /// The model's error, when this wraps one (boxed to keep `Result<_, IngestError>` small).
    #[source]
    pub source: Option<Box<EventError>>,
}

impl IngestError {
    /// The HTTP status: 400, 413 or 415.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The stable problem `type` slug: "invalid-event", "malformed-json", "event-too-large",
    /// "unsupported-media-type".
    pub fn slug(&self) -> &'static str {
        self.kind.slug()
    }

    pub(crate) fn new(kind: ErrorKind, attribute: Option<&str>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            attribute: attribute.map(str::to_owned),
            detail: detail.into(),
            position: None,
            source: None,
        }
    }

    /// A 400 naming `attribute`; the detail reads like the model's (`attribute 'x': reason`).
    pub(crate) fn invalid(attribute: &str, reason: impl Into<String>) -> Self {
        EventError::new(attribute, reason).into()
    }

    pub(crate) fn too_large(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, None, detail)
    }

    pub(crate) fn unsupported(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::UnsupportedMediaType, None, detail)
    }
}

impl From<EventError> for IngestError {
    /// JSON syntax errors (they carry a position) become `MalformedJson`, everything else
    /// `Invalid`; document-level errors (empty attribute) have no attribute.
    fn from(e: EventError) -> Self {
        Self {
            kind: if e.position.is_some() {
                ErrorKind::MalformedJson
            } else {
                ErrorKind::Invalid
            },
            attribute: (!e.attribute.is_empty()).then(|| e.attribute.clone()),
            detail: e.to_string(),
            position: e.position,
            source: Some(Box::new(e)),
        }
    }
}

/// The failure of one entry of a batch; the other entries are unaffected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("entry {index}: {error}")]
pub struct EntryError {
    /// Zero-based position of the entry in the batch array.
    pub index: usize,
    /// What is wrong with it.
    #[source]
    pub error: IngestError,
}
