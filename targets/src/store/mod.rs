//! Delivery state on disk, per bus, in the project's own files (not sled: this is hot state).
//!
//! ```text
//! <data-dir>/buses/<bus>/delivery/checkpoint.json        dispatched sequence + committed indexes
//! <data-dir>/buses/<bus>/delivery/<rule>/<target>/queue/  the target's queue (sequences, 8 bytes)
//! <data-dir>/buses/<bus>/delivery/<rule>/<target>/journal retries and dead letters (frames)
//! ```
//!
//! The protocol, which is what makes delivery at-least-once through `kill -9`:
//! - The dispatcher MUST write a matched event's queue entries before it counts the event as
//!   dispatched; the worker MUST append a failed delivery's retry or dead-letter frame before it
//!   counts the queue entry as done.
//! - The checkpoint MUST read the dispatched sequence and the committed indexes first, then sync
//!   every queue and journal, and only then replace `checkpoint.json`. So everything the
//!   checkpoint covers is on disk.
//! - On start, queue entries above the checkpoint's dispatched sequence are dropped and the
//!   dispatcher matches those events again; each worker reads its queue from its committed
//!   index and replays its journal. What was delivered after the checkpoint is delivered again
//!   (duplicates, never losses). Dead-letter operations (purge, redrive) sync the journal before
//!   they answer.
//! - A queue segment is deleted only when the checkpoint's committed index is past it.

pub mod checkpoint;
pub mod journal;
pub mod ledger;
pub mod queue;

pub use checkpoint::Checkpoint;
pub use journal::Journal;
pub use ledger::{Attempt, DeadLetter, Ledger, Rec, RetryRec};
pub use queue::Queue;
