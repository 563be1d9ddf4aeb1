//! The `command` runtime: one local process per invocation.
//!
//! - **Input**: the event as structured JSON on stdin, then EOF. A handler that does not read it
//!   is fine (the write stops at the closed pipe).
//! - **Result**: exit 0 is success, and stdout is the reply ([`super::reply::from_stdout`]). A
//!   non-zero exit or death by a signal is retried (the engine's retry policy, then the dead
//!   letters): a handler failing is the same as an endpoint answering 500.
//! - **Timeout** (the target's `timeout`, from the moment a concurrency slot is free to the
//!   exit): SIGKILL to the whole process group, so nothing the handler started survives it
//!   ([`super::group`]); retried. When the handler exits in time, whatever it left running in its
//!   group is killed too: an invocation leaves no process behind, and a background child holding
//!   stdout open cannot hold the invocation open.
//! - **Limits**: stdout up to `max_output` bytes; more is a final failure (the group is killed at
//!   once: the same input would produce the same output again) rather than a reply cut short.
//!   stderr is drained continuously (a handler must never block on a full pipe) and its last
//!   [`STDERR_TAIL`] bytes kept for the trace (the end of a traceback is where the error is);
//!   the attempt's error carries only its last line, since errors are journaled per attempt.
//! - **Concurrency**: a semaphore of `max_concurrency` permits, taken before the spawn and
//!   released after the reap.
//! - **Environment**: cleared, then [`INHERITED`] copied from the server's (so secrets in the
//!   server's environment, tokens and cloud credentials, do not reach every handler), then the
//!   target's `env`. `PATH` defaults to `/usr/local/bin:/usr/bin:/bin` when the server has none.
//! - **Working directory**: the target's `workdir`, else the server's.
//!
//! A spawn failure (no such program, no such directory, no permission, a process limit) is
//! retried, as a refused connection is for an HTTP target: the handler may be installed later,
//! and the dead letters keep the error when it is not.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::Semaphore;

use super::group::{ExitWatch, Group};
use super::{Invocation, Limits, reply};
use crate::http::Outcome;
use crate::spec::CommandSpec;

/// Variables copied from the server's environment.
pub const INHERITED: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
];
/// `PATH` when the server has none.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// How much of stderr is kept (its end).
pub const STDERR_TAIL: usize = 8 << 10;
/// How much of stderr goes into an attempt's error.
const ERROR_EXCERPT: usize = 300;
/// Read size for the pipes.
const CHUNK: usize = 16 << 10;

/// A command function, ready to invoke.
#[derive(Debug)]
pub struct CommandRuntime {
    program: String,
    args: Vec<String>,
    env: Vec<(OsString, OsString)>,
    workdir: Option<PathBuf>,
    limits: Limits,
    permits: Arc<Semaphore>,
    reply_source: String,
}

/// How the process ended, before it is judged.
enum End {
    Exited(ExitStatus),
    Overflow,
    Timeout { exited: Option<ExitStatus> },
}

impl CommandRuntime {
    /// A runtime for `spec`; `reply_source` is the `source` of replies made from plain output
    /// (`/functions/<rule>/<target>`, see [`reply::reply_source`]).
    pub fn new(spec: &CommandSpec, limits: Limits, reply_source: String) -> CommandRuntime {
        let mut env: Vec<(OsString, OsString)> = INHERITED
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|v| (OsString::from(name), v)))
            .collect();
        if !env.iter().any(|(n, _)| n == "PATH") {
            env.push(("PATH".into(), DEFAULT_PATH.into()));
        }
        for (n, v) in &spec.env {
            env.retain(|(k, _)| k != n.as_str());
            env.push((n.into(), v.into()));
        }
        let (program, args) = match spec.command.split_first() {
            Some((p, a)) => (p.clone(), a.to_vec()),
            None => (String::new(), Vec::new()),
        };
        CommandRuntime {
            program,
            args,
            env,
            workdir: spec.workdir.clone(),
            permits: Arc::new(Semaphore::new(limits.max_concurrency.max(1))),
            limits,
            reply_source,
        }
    }

    /// The limits it runs with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs one invocation with `input` (the structured JSON of the event) on stdin. Waits for
    /// a concurrency slot first. Cancel-safe: dropping the future kills the process group.
    pub async fn invoke(&self, input: &[u8]) -> Invocation {
        let Ok(_permit) = self.permits.acquire().await else {
            return Invocation::failed(retry("the function runtime is shut down".into()));
        };
        let deadline = tokio::time::Instant::now() + self.limits.timeout;
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.workdir {
            cmd.current_dir(dir);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(program = %self.program, error = %e, "function spawn failed");
                let place = match &self.workdir {
                    Some(d) => format!(" in {}", d.display()),
                    None => String::new(),
                };
                return Invocation::failed(retry(format!(
                    "cannot start {:?}{place}: {e}",
                    self.program
                )));
            }
        };
        let Some(mut group) = child.id().and_then(Group::new) else {
            return Invocation::failed(retry("the started process has no pid".into()));
        };
        let watch = ExitWatch::new(child.id().unwrap_or_default());
        let stdin = child.stdin.take();
        let feed = async move {
            if let Some(mut s) = stdin {
                // A handler that exits without reading its input closes the pipe: not an error.
                let _ = s.write_all(input).await;
                let _ = s.shutdown().await;
            }
        };
        let out = read_limited(child.stdout.take(), self.limits.max_output);
        let err = read_tail(child.stderr.take(), STDERR_TAIL);
        tokio::pin!(feed, out, err);
        let timeout = tokio::time::sleep_until(deadline);
        tokio::pin!(timeout);
        let (mut fed, mut stdout, mut stderr, mut status) = (false, None, None, None);
        let end = loop {
            if let (Some(s), Some(_), Some(_)) = (status, &stdout, &stderr) {
                break End::Exited(s);
            }
            tokio::select! {
                () = &mut feed, if !fed => fed = true,
                r = &mut out, if stdout.is_none() => match r {
                    Some(bytes) => stdout = Some(bytes),
                    None => {
                        group.kill();
                        break End::Overflow;
                    }
                },
                t = &mut err, if stderr.is_none() => stderr = Some(t),
                () = watch.exited(), if status.is_none() => {
                    // Exited, not reaped: the group id is still its own.
                    group.kill();
                    status = Some(reap(&mut child).await);
                    group.disarm();
                }
                s = child.wait(), if status.is_none() && !watch.works() => {
                    status = Some(s.unwrap_or_else(|_| ExitStatus::default()));
                    group.kill();
                    group.disarm();
                }
                () = &mut timeout => {
                    group.kill();
                    break End::Timeout { exited: status };
                }
            }
        };
        if status.is_none() {
            // Killed above; the leader goes at once.
            reap(&mut child).await;
            group.disarm();
        }
        let stderr = stderr
            .map(|(tail, cut)| text_of(&tail, cut))
            .filter(|s| !s.is_empty());
        self.judge(end, stdout.unwrap_or_default(), stderr, input)
    }

    fn judge(&self, end: End, stdout: Vec<u8>, stderr: Option<String>, input: &[u8]) -> Invocation {
        let excerpt = || {
            stderr
                .as_deref()
                .map(last_line)
                .filter(|l| !l.is_empty())
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        };
        let (outcome, exit_code, reply) = match end {
            End::Overflow => (
                Outcome::Fatal {
                    status: None,
                    error: format!(
                        "the output exceeds {} bytes (max_output); the process group was killed",
                        self.limits.max_output
                    ),
                },
                None,
                None,
            ),
            End::Timeout { exited: None } => (
                retry(format!(
                    "no exit within the timeout ({}); the process group was killed{}",
                    humantime::format_duration(self.limits.timeout),
                    excerpt()
                )),
                None,
                None,
            ),
            End::Timeout { exited: Some(s) } => (
                retry(format!(
                    "exited ({}) but its output stayed open past the timeout ({}): a process \
                     outside its group holds it",
                    describe(s),
                    humantime::format_duration(self.limits.timeout),
                )),
                s.code(),
                None,
            ),
            End::Exited(s) if s.success() => {
                match reply::from_stdout(&stdout, input, &self.reply_source) {
                    Ok(reply) => (
                        Outcome::Delivered {
                            status: None,
                            detail: None,
                        },
                        Some(0),
                        reply,
                    ),
                    Err(error) => (
                        Outcome::Fatal {
                            status: None,
                            error: format!("exit code 0, but {error}"),
                        },
                        Some(0),
                        None,
                    ),
                }
            }
            End::Exited(s) => (
                retry(format!("{}{}", describe(s), excerpt())),
                s.code(),
                None,
            ),
        };
        tracing::debug!(program = %self.program, ?outcome, "function invoked");
        Invocation {
            outcome,
            reply,
            stderr,
            exit_code,
        }
    }
}

fn retry(error: String) -> Outcome {
    Outcome::Retry {
        status: None,
        error,
        retry_after: None,
    }
}

async fn reap(child: &mut tokio::process::Child) -> ExitStatus {
    child.wait().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "reaping a function's process failed");
        ExitStatus::default()
    })
}

fn describe(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended without a status".into(),
    }
}

/// All of `r` if it is at most `max` bytes, `None` as soon as it is more.
async fn read_limited<R: AsyncRead + Unpin>(r: Option<R>, max: usize) -> Option<Vec<u8>> {
    let Some(mut r) = r else {
        return Some(Vec::new());
    };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return Some(buf),
            Ok(n) => {
                if buf.len() + n > max {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// The last `keep` bytes of `r`, read to its end, and whether anything was cut.
async fn read_tail<R: AsyncRead + Unpin>(r: Option<R>, keep: usize) -> (Vec<u8>, bool) {
    let Some(mut r) = r else {
        return (Vec::new(), false);
    };
    let mut buf = Vec::new();
    let mut cut = false;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 2 * keep {
                    buf.drain(..buf.len() - keep);
                    cut = true;
                }
            }
        }
    }
    if buf.len() > keep {
        buf.drain(..buf.len() - keep);
        cut = true;
    }
    (buf, cut)
}

fn text_of(tail: &[u8], cut: bool) -> String {
    let s = String::from_utf8_lossy(tail);
    if cut {
        format!("…{s}")
    } else {
        s.into_owned()
    }
}

/// The last non-empty line, at most [`ERROR_EXCERPT`] bytes of it.
fn last_line(s: &str) -> &str {
    let line = s.trim_end().rsplit('\n').next().unwrap_or("").trim();
    if line.len() <= ERROR_EXCERPT {
        return line;
    }
    let mut start = line.len() - ERROR_EXCERPT;
    while !line.is_char_boundary(start) {
        start += 1;
    }
    &line[start..]
}
