//! One child process: its pid, its pidfd where there is one, and reaping it
//! exactly once.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;

use mio::unix::SourceFd;
use switchboard_protocols::{ProcessError, Signal};

use crate::subprocess::info::ProcessInfo;
use crate::sys::unix::process as sys;

/// A child this loop spawned and has not reaped yet, or has reaped (then
/// its return code is in the shared [`ProcessInfo`]).
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) info: Rc<ProcessInfo>,
    pidfd: Option<OwnedFd>,
}

impl Child {
    /// Takes a freshly spawned child; opens its pidfd where the kernel has
    /// them (the child cannot have been reaped by anyone yet, so the pid is
    /// still its own).
    pub(crate) fn new(info: Rc<ProcessInfo>) -> Self {
        let pidfd = match sys::pidfd_open(info.pid) {
            Ok(fd) => Some(fd),
            Err(e) if e.kind() == io::ErrorKind::Unsupported => None,
            Err(e) => {
                crate::diag::warning!("pidfd_open({}): {e}; waiting for SIGCHLD", info.pid);
                None
            }
        };
        Child { info, pidfd }
    }

    /// True when exit comes as readiness of the pidfd; false when the owner
    /// must watch SIGCHLD.
    pub(crate) fn has_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    /// Registers the pidfd for readability under `token`.
    pub(crate) fn register(&self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        match &self.pidfd {
            Some(fd) => registry.register(
                &mut SourceFd(&fd.as_raw_fd()),
                token,
                mio::Interest::READABLE,
            ),
            None => Ok(()),
        }
    }

    /// The return code, reaping the child first if it has exited
    /// (`waitpid(pid, WNOHANG)`); `None` while it runs.
    pub(crate) fn try_reap(&mut self, registry: Option<&mio::Registry>) -> Option<i32> {
        if let Some(code) = self.info.returncode() {
            return Some(code);
        }
        let code = match sys::try_wait(self.info.pid) {
            Ok(Some(code)) => code,
            Ok(None) => return None,
            Err(e) => {
                // ECHILD: SIGCHLD is ignored (the kernel reaped it) or other
                // code reaped it; asyncio reports 255 then.
                crate::diag::warning!(
                    "cannot reap process {}: {e}; its return code is unknown (255)",
                    self.info.pid
                );
                255
            }
        };
        self.info.set_returncode(code);
        if let Some(fd) = self.pidfd.take() {
            if let Some(registry) = registry {
                let _ = registry.deregister(&mut SourceFd(&fd.as_raw_fd()));
            }
        }
        Some(code)
    }

    /// Sends `sig`, unless the child was reaped (Q4).
    pub(crate) fn signal(&self, sig: Signal) -> Result<(), ProcessError> {
        send_signal(&self.info, sig)
    }
}

/// Sends `sig` to the child `info` describes: [`ProcessError::Exited`] (and
/// nothing sent) once it was reaped, so a recycled pid is never signalled.
/// A child that exited but is not reaped yet is a zombie: the signal is
/// harmless and its return code stays the real one (Q4).
pub fn send_signal(info: &ProcessInfo, sig: Signal) -> Result<(), ProcessError> {
    if let Some(returncode) = info.returncode() {
        return Err(ProcessError::Exited {
            pid: info.pid,
            returncode,
        });
    }
    sys::kill(info.pid, sig.number()).map_err(|source| ProcessError::Os {
        pid: info.pid,
        sig,
        source,
    })
}

impl Drop for Child {
    /// A child still running when its transport goes (the loop closed) is
    /// killed and reaped, so no zombie is left (fault 13).
    fn drop(&mut self) {
        if self.try_reap(None).is_some() {
            return;
        }
        let _ = sys::kill(self.info.pid, Signal::SIGKILL.number());
        match sys::wait(self.info.pid) {
            Ok(code) => self.info.set_returncode(code),
            Err(e) => crate::diag::warning!("cannot reap process {}: {e}", self.info.pid),
        }
        self.info.fire_waiters();
    }
}
