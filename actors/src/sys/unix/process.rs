//! Children: exit notification (pidfd), reaping one pid at a time (never
//! `waitpid(-1)`), signalling.

use std::io;
use std::os::fd::OwnedFd;

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// A descriptor that turns readable when child `pid` exits (`pidfd_open(2)`,
/// Linux 5.3+), close-on-exec. `Unsupported` elsewhere, on older kernels, or
/// when the environment variable `SWITCHBOARD_NO_PIDFD` is set (to exercise
/// the SIGCHLD fallback).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    if no_pidfd() {
        return Err(io::ErrorKind::Unsupported.into());
    }
    let pid = nix::libc::pid_t::try_from(pid).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: pidfd_open takes a pid and flags, no pointers. Its descriptors
    // are always close-on-exec.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(nix::libc::ENOSYS) => io::ErrorKind::Unsupported.into(),
            _ => e,
        });
    }
    // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// See the Linux version: there is no pidfd here.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn pidfd_open(_pid: u32) -> io::Result<OwnedFd> {
    Err(io::ErrorKind::Unsupported.into())
}

fn no_pidfd() -> bool {
    static NO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NO.get_or_init(|| std::env::var_os("SWITCHBOARD_NO_PIDFD").is_some_and(|v| !v.is_empty()))
}

fn pid_of(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .map(Pid::from_raw)
        .map_err(|_| io::ErrorKind::InvalidInput.into())
}

fn returncode(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(-(sig as i32)),
        _ => None,
    }
}

/// Reaps child `pid` if it has exited (`waitpid(pid, WNOHANG)`): its return
/// code (the exit status, or `-N` for death by signal `N`), or `None` while
/// it runs. `ECHILD` means someone else reaped it (or SIGCHLD is ignored).
pub fn try_wait(pid: u32) -> io::Result<Option<i32>> {
    let pid = pid_of(pid)?;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(status) => return Ok(returncode(status)),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits for child `pid` to exit and reaps it.
pub fn wait(pid: u32) -> io::Result<i32> {
    let pid = pid_of(pid)?;
    loop {
        match waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = returncode(status) {
                    return Ok(code);
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sends signal number `sig` to `pid` (`kill(2)`). The caller makes sure
/// `pid` is a child it has not reaped, so the pid cannot have been recycled.
pub fn kill(pid: u32, sig: i32) -> io::Result<()> {
    let pid = nix::libc::pid_t::try_from(pid).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: kill(2) takes no pointers.
    syscall!(kill(pid, sig)).map(|_| ())
}
