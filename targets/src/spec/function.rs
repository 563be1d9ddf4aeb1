//! The members of a `function` target: `runtime` (`http` | `command`), the runtime's own members,
//! and `max_concurrency`, `max_output`, `reply`, which both runtimes share.
//!
//! - `http`: `url`, `headers`, `connection`, `mode` (`binary`, the default, as Knative sends, or
//!   `structured`) — the members of an `http` target, read by the same code. A function is always
//!   POSTed a CloudEvent, so `method` and `mode: "body"` are refused.
//! - `command`: `command` (the program and its arguments, no shell), `env` (added to a minimal
//!   inherited set, see [`crate::function::command`]), `workdir` (absolute: a path relative to
//!   whatever directory the server happened to start in would be a trap; absent means the
//!   server's working directory).
//! - `max_concurrency` (default [`DEFAULT_MAX_CONCURRENCY`]): invocations at once. It folds into
//!   the worker's `max_in_flight` (the smaller of the two wins, see [`parse`]), so the worker never
//!   starts more attempts than that, across rule updates too; the runtime also holds a semaphore of
//!   that size, so the cap holds for any caller.
//! - `max_output` (default [`DEFAULT_MAX_OUTPUT`], the bus's default event size): the largest
//!   reply (stdout, or an HTTP answer's body). Exceeding it is a failure, not a truncation: a cut
//!   reply would be a different event.
//! - `reply`: `{"bus": "<name>"}`, where a reply goes. Without it, replies are dropped.
//!
//! The `timeout` (default 10 s) is the common delivery member: for a command, spawn to exit.

use std::path::PathBuf;

use serde_json::Value;

use super::http::{HttpSpec, Mode};
use super::read::{Obj, escape, kind_of};
use super::{DeliverySpec, SpecError};

/// Default invocations at once.
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;
/// Upper bound of `max_concurrency` (each command invocation is a process).
pub const MAX_CONCURRENCY: u64 = 1024;
/// Default largest reply: 1 MiB, the bus's default event size.
pub const DEFAULT_MAX_OUTPUT: usize = 1 << 20;
/// Upper bound of `max_output`.
pub const MAX_OUTPUT: u64 = 16 << 20;
/// Most entries in `command`.
pub const MAX_ARGS: usize = 256;
/// Most members of `env`.
pub const MAX_ENV: usize = 256;

/// A function target.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// How it is invoked.
    pub runtime: Runtime,
    /// Invocations at once.
    pub max_concurrency: usize,
    /// Largest reply in bytes.
    pub max_output: usize,
    /// Where replies go.
    pub reply: Option<ReplySpec>,
}

/// How a function is invoked.
#[derive(Debug, Clone, PartialEq)]
pub enum Runtime {
    /// A function URL (Knative, OpenFaaS, Fission, cloud function URLs): the event POSTed as a
    /// CloudEvent. `method` is always POST, `mode` binary or structured.
    Http(HttpSpec),
    /// A local process per invocation.
    Command(CommandSpec),
}

impl Runtime {
    /// The `runtime` member's value.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Http(_) => "http",
            Runtime::Command(_) => "command",
        }
    }
}

/// A local command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program (looked up in `PATH` when it has no `/`; relative to `workdir` when it has
    /// one) and its arguments. No shell.
    pub command: Vec<String>,
    /// Variables set for the process, over the inherited minimal set, in name order.
    pub env: Vec<(String, String)>,
    /// The working directory, absolute; `None`: the server's.
    pub workdir: Option<PathBuf>,
}

/// Where replies go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplySpec {
    /// A bus name (checked as bus names are, not for existence: a bus may be created later).
    pub bus: String,
}

const HTTP_ONLY: &[&str] = &["url", "headers", "connection", "mode", "method"];
const COMMAND_ONLY: &[&str] = &["command", "env", "workdir"];

/// Takes the function members out of a target object (after the common delivery members) and
/// folds `max_concurrency` into `delivery.max_in_flight`.
pub(super) fn parse(obj: &mut Obj, delivery: &mut DeliverySpec) -> Result<FunctionSpec, SpecError> {
    let runtime_name = obj.required_str("runtime")?;
    let runtime = match runtime_name.as_str() {
        "http" => {
            refuse(obj, COMMAND_ONLY, "http")?;
            if obj.take("method").is_some() {
                return Err(SpecError::new(
                    obj.ptr("method"),
                    "a function is always POSTed its event; method cannot be set",
                ));
            }
            let spec = super::http::parse(obj)?;
            if spec.mode == Mode::Body {
                return Err(SpecError::new(
                    obj.ptr("mode"),
                    "a function receives a CloudEvent: the mode is binary or structured",
                ));
            }
            Runtime::Http(spec)
        }
        "command" => {
            refuse(obj, HTTP_ONLY, "command")?;
            Runtime::Command(parse_command(obj)?)
        }
        other => {
            return Err(SpecError::new(
                obj.ptr("runtime"),
                format!("unknown function runtime {other:?}; the runtimes are http, command"),
            ));
        }
    };
    let max_concurrency = match obj.opt_count("max_concurrency", MAX_CONCURRENCY)? {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => DEFAULT_MAX_CONCURRENCY,
    };
    delivery.max_in_flight = delivery.max_in_flight.min(max_concurrency);
    let max_output = match obj.opt_count("max_output", MAX_OUTPUT)? {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => DEFAULT_MAX_OUTPUT,
    };
    let reply = match obj.opt_obj("reply")? {
        None => None,
        Some(mut r) => {
            let bus = r.required_str("bus")?;
            bus::registry::check_name(&bus).map_err(|e| SpecError::new(r.ptr("bus"), e))?;
            r.finish()?;
            Some(ReplySpec { bus })
        }
    };
    Ok(FunctionSpec {
        runtime,
        max_concurrency,
        max_output,
        reply,
    })
}

/// A clearer message than "not a member" for the other runtime's members.
fn refuse(obj: &mut Obj, names: &[&str], runtime: &str) -> Result<(), SpecError> {
    for name in names {
        if obj.take(name).is_some() {
            return Err(SpecError::new(
                obj.ptr(name),
                format!("is not a member of a function with runtime {runtime:?}"),
            ));
        }
    }
    Ok(())
}

fn parse_command(obj: &mut Obj) -> Result<CommandSpec, SpecError> {
    let at = obj.ptr("command");
    let command = match obj.take("command") {
        None | Some(Value::Null) => return Err(SpecError::new(at, "is required")),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(SpecError::new(
                at,
                format!(
                    "is {}; an array of strings (the program, then its arguments) was expected",
                    kind_of(&other)
                ),
            ));
        }
    };
    if command.is_empty() {
        return Err(SpecError::new(at, "is empty; the program comes first"));
    }
    if command.len() > MAX_ARGS {
        return Err(SpecError::new(
            at,
            format!("has {} entries; at most {MAX_ARGS}", command.len()),
        ));
    }
    let mut args = Vec::with_capacity(command.len());
    for (i, item) in command.into_iter().enumerate() {
        let at = format!("{at}/{i}");
        let Value::String(s) = item else {
            return Err(SpecError::new(
                at,
                format!("is {}; a string was expected", kind_of(&item)),
            ));
        };
        if s.contains('\0') {
            return Err(SpecError::new(at, "contains a NUL character"));
        }
        if i == 0 && s.is_empty() {
            return Err(SpecError::new(at, "the program is empty"));
        }
        args.push(s);
    }
    let mut env = Vec::new();
    if let Some(mut e) = obj.opt_obj("env")? {
        let base = obj.ptr("env");
        let members = e.drain();
        if members.len() > MAX_ENV {
            return Err(SpecError::new(
                base,
                format!("has {} members; at most {MAX_ENV}", members.len()),
            ));
        }
        for (name, value) in members {
            let at = format!("{base}/{}", escape(&name));
            check_env_name(&name).map_err(|r| SpecError::new(&at, r))?;
            let Value::String(v) = value else {
                return Err(SpecError::new(
                    &at,
                    format!("is {}; a string was expected", kind_of(&value)),
                ));
            };
            if v.contains('\0') {
                return Err(SpecError::new(&at, "contains a NUL character"));
            }
            env.push((name, v));
        }
        env.sort();
    }
    let workdir = match obj.opt_str("workdir")? {
        None => None,
        Some(w) => {
            let p = PathBuf::from(&w);
            if !p.is_absolute() || w.contains('\0') {
                return Err(SpecError::new(
                    obj.ptr("workdir"),
                    format!("{w:?} is not an absolute path"),
                ));
            }
            Some(p)
        }
    };
    Ok(CommandSpec {
        command: args,
        env,
        workdir,
    })
}

/// `[A-Za-z_][A-Za-z0-9_]*`, as POSIX shells accept.
fn check_env_name(name: &str) -> Result<(), String> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if ok && name.len() <= 256 {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a variable name: letters, digits and '_', not starting with a digit"
        ))
    }
}

#[cfg(test)]
#[path = "function_tests.rs"]
mod tests;
