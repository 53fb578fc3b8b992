//! Process-wide signal dispositions and the self-pipe handler.
//!
//! The handler only writes the signal number, as one byte, to the write end of
//! the pipe registered for that signal, and returns (STYLE §3). Everything else
//! happens on the loop thread that reads the other end.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::libc;

/// One past the highest signal number (the C `NSIG`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const NSIG: i32 = 65;
/// One past the highest signal number (the C `NSIG`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const NSIG: i32 = 32;

/// The write end of the self-pipe per signal, or -1 when none is installed.
static WRITE_FDS: [AtomicI32; NSIG as usize] = [const { AtomicI32::new(-1) }; NSIG as usize];

/// The installed handler: one non-blocking `write(2)` of one byte, errno kept.
extern "C" fn on_signal(sig: libc::c_int) {
    let saved = nix::errno::Errno::last_raw();
    let fd = usize::try_from(sig)
        .ok()
        .and_then(|i| WRITE_FDS.get(i))
        .map_or(-1, |slot| slot.load(Ordering::Relaxed));
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe; `byte` lives for the call and
        // the pointer is valid for one byte. A full pipe (EAGAIN) or a closed fd
        // just loses this wake-up byte.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    nix::errno::Errno::set_raw(saved);
}

fn slot(sig: i32) -> io::Result<&'static AtomicI32> {
    usize::try_from(sig)
        .ok()
        .filter(|&i| i > 0)
        .and_then(|i| WRITE_FDS.get(i))
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

fn set_disposition(sig: i32, handler: libc::sighandler_t, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: an all-zero `sigaction` is a valid value (empty mask, no flags);
    // the fields that matter are set below.
    let mut action: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    action.sa_sigaction = handler;
    action.sa_flags = flags;
    // SAFETY: `action.sa_mask` is a valid, owned sigset_t.
    syscall!(sigemptyset(&mut action.sa_mask))?;
    // SAFETY: `action` is fully initialised and outlives the call; the old
    // action is not wanted (null). The handler only touches atomics and write(2).
    syscall!(sigaction(sig, &action, std::ptr::null_mut())).map(|_| ())
}

/// Routes signal `sig` to the pipe whose write end is `write_fd` (non-blocking)
/// and installs the handler with `SA_RESTART`. A later call for the same signal
/// takes the signal over.
pub fn install(sig: i32, write_fd: RawFd) -> io::Result<()> {
    let slot = slot(sig)?;
    let previous = slot.swap(write_fd, Ordering::SeqCst);
    let result = set_disposition(
        sig,
        on_signal as *const () as libc::sighandler_t,
        libc::SA_RESTART,
    );
    if result.is_err() {
        slot.store(previous, Ordering::SeqCst);
    }
    result
}

/// Undoes [`install`] for `sig` if it still routes to `write_fd`: restores
/// `SIG_DFL`. Returns whether it did.
pub fn uninstall(sig: i32, write_fd: RawFd) -> io::Result<bool> {
    let slot = slot(sig)?;
    if slot
        .compare_exchange(write_fd, -1, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return Ok(false);
    }
    set_disposition(sig, libc::SIG_DFL, 0)?;
    Ok(true)
}
