//! The process group of one command invocation, and knowing when its leader exited.
//!
//! The handler is spawned as the leader of a new process group (`process_group(0)`), so
//! whatever it starts (`sleep 300 &`, a shell pipeline, a Python subprocess) is in that group
//! unless it leaves on purpose (`setsid`, which no per-invocation handler has a reason to do).
//! [`Group::kill`] sends SIGKILL to the whole group; dropping a [`Group`] that was not disarmed
//! does the same, so an invocation abandoned half-way (the worker stopped, the future dropped)
//! leaves nothing running.
//!
//! The group id is the leader's pid, and killing by it is only safe while that pid cannot name
//! another group: while the leader is not yet reaped (a zombie keeps its pid) or some member is
//! alive (Linux does not reuse a pid in use as a group id). So the order is: learn that the
//! leader exited *without reaping it* (a pidfd becomes readable at exit; `waitpid` would reap),
//! kill the group (the leftovers of a handler that exited), then reap, then [`Group::disarm`].
//! Where pidfds are missing (Linux before 5.3), the exit is learnt by reaping, and a leftover is
//! killed a moment after: a pid would have to be reused within that moment, through the whole
//! pid space, for the kill to reach another group.
//!
//! SIGKILL is final but asynchronous: the members die as the kernel gets to them, without
//! running another instruction of their own; orphans are reaped by init (an init that does not
//! reap leaves zombies, which hold no resources but a pid).

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;

/// A process group to kill.
#[derive(Debug)]
pub(super) struct Group {
    pgid: libc::pid_t,
    armed: bool,
}

impl Group {
    /// The group led by `pid` (a child spawned with `process_group(0)`, not yet reaped).
    pub(super) fn new(pid: u32) -> Option<Group> {
        let pgid = libc::pid_t::try_from(pid).ok().filter(|p| *p > 1)?;
        Some(Group { pgid, armed: true })
    }

    /// SIGKILL to every member (none left is fine).
    pub(super) fn kill(&self) {
        if !self.armed {
            return;
        }
        // SAFETY: killpg has no memory effects; pgid > 1 (never 0, the caller's own group, nor
        // -1, every process), and it names this invocation's group (see the module doc).
        let rc = unsafe { libc::killpg(self.pgid, libc::SIGKILL) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                tracing::warn!(pgid = self.pgid, error = %e, "killing a function's process group failed");
            }
        }
    }

    /// The leader was reaped: its pid may name another group from now on.
    pub(super) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Becomes ready when a child exits, without reaping it.
#[derive(Debug)]
pub(super) struct ExitWatch(Option<AsyncFd<OwnedFd>>);

impl ExitWatch {
    /// Watches `pid` (a child not yet reaped); without pidfd support, [`ExitWatch::exited`]
    /// reports nothing and the caller learns of the exit by reaping.
    pub(super) fn new(pid: u32) -> ExitWatch {
        ExitWatch(pidfd(pid).and_then(|fd| {
            // SAFETY: the `OwnedFd` is a valid descriptor, owned by the `AsyncFd` from here on,
            // and neither replaced nor closed while registered.
            unsafe { AsyncFd::register(fd) }.ok()
        }))
    }

    /// Whether exits can be watched.
    pub(super) fn works(&self) -> bool {
        self.0.is_some()
    }

    /// Resolves once the child has exited (it is then a zombie until reaped); never, when
    /// [`ExitWatch::works`] is false.
    pub(super) async fn exited(&self) {
        match &self.0 {
            Some(fd) => {
                // A pidfd stays readable once the process exited; an error means the same
                // thing to us (nothing more to learn from it).
                let _ = fd.readable().await;
            }
            None => std::future::pending().await,
        }
    }
}

#[cfg(target_os = "linux")]
fn pidfd(pid: u32) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no memory is
    // passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nothing else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd(_pid: u32) -> Option<OwnedFd> {
    None
}
