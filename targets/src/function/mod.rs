//! The `function` target kind's runtimes: how one invocation runs and what it answered.
//!
//! A function differs from an HTTP target in two ways: it may *reply* with a CloudEvent, which
//! the engine routes to a bus (`reply: {"bus": …}`), and it has a concurrency cap of its own
//! (`max_concurrency`), because an invocation costs the function a process or an instance rather
//! than a request. Both runtimes return an [`Invocation`]: the [`Outcome`] the engine settles the
//! delivery with (the same three cases as an HTTP attempt), the reply, and what the trace shows.
//!
//! - [`command`]: a local process per invocation, the event on stdin;
//! - [`http`]: a function URL, the event POSTed;
//! - [`reply`]: stdout and HTTP answers to CloudEvents;
//! - [`group`]: the process group of a command, killed whole.
//!
//! The engine builds one [`FunctionRuntime`] per (rule, target) when the worker starts (it holds
//! the concurrency semaphore) and calls [`FunctionRuntime::invoke`] for each attempt.

pub mod command;
mod group;
pub mod http;
pub mod reply;

#[cfg(test)]
mod command_tests;
#[cfg(test)]
mod http_tests;

use std::time::Duration;

use bus::event::Event;
use bytes::Bytes;

use crate::connections::Connections;
use crate::http::request::{self as req, Shaping};
use crate::http::{Client, Outcome};
use crate::spec::{FunctionSpec, Runtime};
pub use command::CommandRuntime;
pub use http::HttpRuntime;

/// What one invocation gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// How the attempt ended. For a command, `Delivered { status: 0 }` (the exit code); failures
    /// have `status: None` and say what happened (exit code, signal, timeout, output size) in
    /// their `error`, with the last line of stderr.
    pub outcome: Outcome,
    /// The reply, when the invocation succeeded and answered with one.
    pub reply: Option<Event>,
    /// The end of a command's stderr (at most [`command::STDERR_TAIL`] bytes, lossy UTF-8, `…`
    /// first when cut), for the trace; `None` when empty and for HTTP functions.
    pub stderr: Option<String>,
    /// A command's exit code, when it exited (not killed).
    pub exit_code: Option<i32>,
}

impl Invocation {
    /// A failure with nothing else to tell.
    pub fn failed(outcome: Outcome) -> Invocation {
        Invocation {
            outcome,
            reply: None,
            stderr: None,
            exit_code: None,
        }
    }
}

/// What bounds an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From a free concurrency slot to the exit (command) or the whole answer (HTTP).
    pub timeout: Duration,
    /// Largest stdout or answer body, in bytes.
    pub max_output: usize,
    /// Invocations at once.
    pub max_concurrency: usize,
}

/// A function target's runtime.
#[derive(Debug)]
pub enum FunctionRuntime {
    /// A function URL.
    Http(HttpRuntime),
    /// A local command.
    Command(CommandRuntime),
}

impl FunctionRuntime {
    /// Builds the runtime of `spec`, with the target's `timeout` (its delivery spec's), for
    /// target `target` of rule `rule` (the `source` of replies made from plain output:
    /// `/functions/<rule>/<target>`).
    pub fn new(
        spec: &FunctionSpec,
        timeout: Duration,
        rule: &str,
        target: &str,
    ) -> FunctionRuntime {
        let limits = Limits {
            timeout,
            max_output: spec.max_output,
            max_concurrency: spec.max_concurrency,
        };
        match &spec.runtime {
            Runtime::Http(h) => FunctionRuntime::Http(HttpRuntime::new(h, limits)),
            Runtime::Command(c) => FunctionRuntime::Command(CommandRuntime::new(
                c,
                limits,
                reply::reply_source(rule, target),
            )),
        }
    }

    /// One invocation for `event` (its stored structured JSON), shaped by the target's transform
    /// or the rule's projection as HTTP targets shape theirs. A shaping error (a transform that
    /// fails on this event) is final.
    pub async fn invoke(
        &self,
        client: &Client,
        connections: &Connections,
        shaping: Shaping<'_>,
        event: &Bytes,
    ) -> Invocation {
        match self {
            FunctionRuntime::Http(rt) => rt.invoke_event(client, connections, shaping, event).await,
            FunctionRuntime::Command(rt) => match req::cloudevent(shaping, event) {
                Ok(input) => rt.invoke(&input).await,
                Err(error) => Invocation::failed(Outcome::Fatal {
                    status: None,
                    error,
                }),
            },
        }
    }
}
