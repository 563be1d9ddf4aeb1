//! What can go wrong: [`QueueError`] for whole operations, [`EntryError`] for one receipt of a
//! batch (ack, nack and extend answer per receipt, as SQS's batch calls do).

use std::path::PathBuf;

use bus::log::LogError;
use bus::meta::MetaError;

/// A queue operation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A queue document (or an argument) is invalid at `pointer`.
    #[error("{pointer}: {reason}")]
    Invalid {
        /// Where, as a JSON pointer into the request.
        pointer: String,
        /// Why.
        reason: String,
    },
    /// No such queue.
    #[error("queue {0:?} does not exist")]
    NotFound(String),
    /// `If-Match` names another version.
    #[error("queue {name:?} is not at the version If-Match names")]
    PreconditionFailed {
        /// The queue.
        name: String,
        /// Its version, if it exists.
        current: Option<u64>,
    },
    /// Other queues send their dead letters here.
    #[error("queue {name:?} receives the dead letters of {by:?}")]
    InUse {
        /// The queue.
        name: String,
        /// The queues naming it.
        by: Vec<String>,
    },
    /// The message log failed (full disk, closed, a batch too large).
    #[error(transparent)]
    Log(#[from] LogError),
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// A file operation failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// To which file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The queue is closed (shutdown or deletion).
    #[error("the queue is closing")]
    Closed,
    /// The consumer-state journal failed; the queue refuses work until restarted.
    #[error("the queue's journal failed: {0}")]
    Failed(String),
}

impl QueueError {
    pub(crate) fn invalid(pointer: &str, reason: impl Into<String>) -> QueueError {
        QueueError::Invalid {
            pointer: pointer.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(
        context: &'static str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> Self {
        QueueError::Io {
            context,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Why one receipt of an ack, nack or extend was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryError {
    /// Not a receipt of this queue (malformed, another queue, or a queue deleted since).
    Invalid,
    /// The message was received again since this receipt was given (its visibility timeout had
    /// passed): only the newest receipt counts.
    Stale,
    /// The message went to the dead letters after this receipt.
    DeadLettered,
    /// The message is gone: acknowledged, purged or expired (for nack and extend; an ack of a
    /// message already gone succeeds).
    Gone,
    /// The queue closed or its journal failed before the change was durable.
    Unavailable,
}

impl EntryError {
    /// A stable slug for problem types.
    pub fn slug(self) -> &'static str {
        match self {
            EntryError::Invalid => "invalid-receipt",
            EntryError::Stale => "stale-receipt",
            EntryError::DeadLettered => "dead-lettered",
            EntryError::Gone => "message-gone",
            EntryError::Unavailable => "unavailable",
        }
    }

    /// What a person should know.
    pub fn detail(self) -> &'static str {
        match self {
            EntryError::Invalid => "not a receipt of this queue",
            EntryError::Stale => {
                "the message was received again after its visibility timeout; only the newest receipt is valid"
            }
            EntryError::DeadLettered => "the message was moved to the dead letters",
            EntryError::Gone => "the message was acknowledged, purged or expired",
            EntryError::Unavailable => "the queue is closing or failed; retry",
        }
    }
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.detail())
    }
}
