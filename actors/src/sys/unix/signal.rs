//! Process-wide signal dispositions and the self-pipe handler.
//!
//! The handler only writes the signal number, as one byte, to the write end
//! of every pipe registered for that signal (one per loop that listens, up to
//! [`SLOTS`]), and returns (STYLE §3). Everything else happens on the loop
//! threads that read the other ends.
//!
//! The disposition a signal had before its first pipe was registered is kept
//! and put back when its last pipe goes, so removing a handler restores what
//! the program had (`SIG_IGN` for SIGPIPE in a Rust binary, `SIG_DFL`
//! usually), not always `SIG_DFL`.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use nix::libc;

/// One past the highest signal number (the C `NSIG`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const NSIG: i32 = 65;
/// One past the highest signal number (the C `NSIG`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const NSIG: i32 = 32;

/// How many pipes (loops) one signal can wake at once.
pub const SLOTS: usize = 16;

/// The write ends of the self-pipes per signal; -1 marks a free slot.
static WRITE_FDS: [[AtomicI32; SLOTS]; NSIG as usize] =
    [const { [const { AtomicI32::new(-1) }; SLOTS] }; NSIG as usize];

/// The process that registered each slot. After `fork` the child inherits
/// the slots, whose descriptors are copies of the parent's pipes: the
/// handler skips slots of another process, so a signal sent to the child
/// never wakes the parent's loops (fault 16), and the child's own loops
/// take such slots over.
static OWNERS: [[AtomicI32; SLOTS]; NSIG as usize] =
    [const { [const { AtomicI32::new(0) }; SLOTS] }; NSIG as usize];

fn this_process() -> i32 {
    // SAFETY: getpid(2) is async-signal-safe and cannot fail.
    unsafe { libc::getpid() }
}

/// The disposition each signal had before our handler went in (`None` while
/// ours is not installed). Only touched outside the handler, under the lock,
/// which also serialises install and uninstall.
static PREVIOUS: Mutex<[Option<Disposition>; NSIG as usize]> =
    Mutex::new([const { None }; NSIG as usize]);

/// A saved `sigaction`.
#[derive(Clone, Copy)]
struct Disposition(libc::sigaction);

// SAFETY: a `sigaction` is plain data (a handler address, a mask, flags).
unsafe impl Send for Disposition {}

/// The installed handler: one non-blocking `write(2)` of one byte per
/// registered pipe, errno kept.
extern "C" fn on_signal(sig: libc::c_int) {
    let saved = nix::errno::Errno::last_raw();
    let index = usize::try_from(sig).ok();
    if let (Some(slots), Some(owners)) = (
        index.and_then(|i| WRITE_FDS.get(i)),
        index.and_then(|i| OWNERS.get(i)),
    ) {
        let byte = sig as u8;
        let me = this_process();
        for (slot, owner) in slots.iter().zip(owners) {
            let fd = slot.load(Ordering::Relaxed);
            if fd >= 0 && owner.load(Ordering::Relaxed) == me {
                // SAFETY: write(2) is async-signal-safe; `byte` lives for the
                // call and the pointer is valid for one byte. A full pipe
                // (EAGAIN) already holds a byte that will wake its loop; a
                // closed fd just loses this wake-up.
                unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
            }
        }
    }
    nix::errno::Errno::set_raw(saved);
}

/// The slots of `sig` that belong to this process (a free one, or one
/// registered by the process this one was forked from, counts as free).
struct Slots {
    fds: &'static [AtomicI32; SLOTS],
    owners: &'static [AtomicI32; SLOTS],
    me: i32,
}

impl Slots {
    fn mine(&self) -> impl Iterator<Item = &'static AtomicI32> + '_ {
        self.fds
            .iter()
            .zip(self.owners)
            .filter(|(fd, owner)| {
                fd.load(Ordering::SeqCst) >= 0 && owner.load(Ordering::SeqCst) == self.me
            })
            .map(|(fd, _)| fd)
    }

    fn free(&self) -> Option<(&'static AtomicI32, &'static AtomicI32)> {
        self.fds.iter().zip(self.owners).find(|(fd, owner)| {
            fd.load(Ordering::SeqCst) < 0 || owner.load(Ordering::SeqCst) != self.me
        })
    }
}

fn slots(sig: i32) -> io::Result<Slots> {
    let i = usize::try_from(sig)
        .ok()
        .filter(|&i| i > 0 && i < NSIG as usize)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok(Slots {
        fds: &WRITE_FDS[i],
        owners: &OWNERS[i],
        me: this_process(),
    })
}

fn lock_previous() -> std::sync::MutexGuard<'static, [Option<Disposition>; NSIG as usize]> {
    PREVIOUS.lock().unwrap_or_else(|p| p.into_inner())
}

fn zeroed_action() -> io::Result<libc::sigaction> {
    // SAFETY: an all-zero `sigaction` is a valid value (empty mask, no flags).
    let mut action: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    // SAFETY: `action.sa_mask` is a valid, owned sigset_t.
    syscall!(sigemptyset(&mut action.sa_mask))?;
    Ok(action)
}

/// Sets `sig`'s action and returns the one it replaces.
fn swap_action(sig: i32, action: &libc::sigaction) -> io::Result<libc::sigaction> {
    let mut old = zeroed_action()?;
    // SAFETY: both pointers are to valid, owned `sigaction`s that outlive the
    // call. The handler we install only touches atomics and write(2).
    syscall!(sigaction(sig, action, &mut old))?;
    Ok(old)
}

fn handler_action(handler: libc::sighandler_t, flags: libc::c_int) -> io::Result<libc::sigaction> {
    let mut action = zeroed_action()?;
    action.sa_sigaction = handler;
    action.sa_flags = flags;
    Ok(action)
}

/// Routes signal `sig` to the pipe whose write end is `write_fd` (non-blocking)
/// as well as to every pipe already registered for it, and installs the
/// handler (with `SA_RESTART`) if it is the first. Registering the same pipe
/// twice is a no-op.
pub fn install(sig: i32, write_fd: RawFd) -> io::Result<()> {
    let slots = slots(sig)?;
    let mut previous = lock_previous();
    if slots.mine().any(|s| s.load(Ordering::SeqCst) == write_fd) {
        return Ok(());
    }
    let first = slots.mine().next().is_none();
    let Some((free, owner)) = slots.free() else {
        // More loops listen for this signal than there are slots.
        return Err(io::Error::from_raw_os_error(libc::ENOSPC));
    };
    // The owner first: the handler must never see our fd with a stale owner.
    free.store(-1, Ordering::SeqCst);
    owner.store(slots.me, Ordering::SeqCst);
    free.store(write_fd, Ordering::SeqCst);
    if first {
        let ours = on_signal as *const () as libc::sighandler_t;
        let action = handler_action(ours, libc::SA_RESTART).and_then(|a| swap_action(sig, &a));
        match action {
            // After a fork, the handler in place is ours, inherited: what to
            // restore is what the parent saved.
            Ok(old) if old.sa_sigaction == ours && previous[sig as usize].is_some() => {}
            Ok(old) => previous[sig as usize] = Some(Disposition(old)),
            Err(e) => {
                free.store(-1, Ordering::SeqCst);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Undoes [`install`] for `sig` and the pipe `write_fd`; when it was the last
/// pipe for `sig`, puts back the disposition `sig` had before. Returns
/// whether the pipe was registered.
pub fn uninstall(sig: i32, write_fd: RawFd) -> io::Result<bool> {
    let slots = slots(sig)?;
    let mut previous = lock_previous();
    let Some(slot) = slots.mine().find(|s| s.load(Ordering::SeqCst) == write_fd) else {
        return Ok(false);
    };
    slot.store(-1, Ordering::SeqCst);
    if slots.mine().next().is_none() {
        let restore = match previous[sig as usize].take() {
            Some(Disposition(old)) => old,
            None => handler_action(libc::SIG_DFL, 0)?,
        };
        swap_action(sig, &restore)?;
    }
    Ok(true)
}

/// True when `sig` has its default disposition (`SIG_DFL`): no handler, not
/// ignored. An error reading it counts as false.
pub fn is_default(sig: i32) -> bool {
    let Ok(mut current) = zeroed_action() else {
        return false;
    };
    // SAFETY: a null new action only reads the current one into `current`.
    syscall!(sigaction(sig, std::ptr::null(), &mut current)).is_ok()
        && current.sa_sigaction == libc::SIG_DFL
}

/// True on the process's main thread, the one the kernel started (its thread
/// id is the process id; after `fork`, the forking thread is the child's
/// main thread).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn on_main_thread() -> bool {
    nix::unistd::gettid() == nix::unistd::getpid()
}

/// True on the thread Rust's runtime named `main`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn on_main_thread() -> bool {
    std::thread::current().name() == Some("main")
}

/// True while some loop listens for SIGPIPE.
pub fn sigpipe_watched() -> bool {
    slots(libc::SIGPIPE).is_ok_and(|s| s.mine().next().is_some())
}

/// Makes sure a write to a pipe whose reader has gone fails with `EPIPE`
/// instead of killing the process (fault 2): if SIGPIPE has its default
/// disposition (a C host that did not ignore it, unlike Rust's runtime), it
/// is set to `SIG_IGN`. A disposition someone chose is left alone.
pub fn ignore_sigpipe_if_default() -> io::Result<()> {
    let previous = lock_previous();
    if previous[libc::SIGPIPE as usize].is_some() {
        // Our handler is in; `write_without_sigpipe` keeps it quiet.
        return Ok(());
    }
    let mut current = zeroed_action()?;
    // SAFETY: a null new action only reads the current one into `current`.
    syscall!(sigaction(libc::SIGPIPE, std::ptr::null(), &mut current))?;
    if current.sa_sigaction == libc::SIG_DFL {
        swap_action(libc::SIGPIPE, &handler_action(libc::SIG_IGN, 0)?)?;
    }
    Ok(())
}

/// Runs `write`, a write to a pipe, so that a broken pipe raises no SIGPIPE a
/// loop's handler could see (fault 2: the runtime's own writes never fire a
/// user's SIGPIPE watcher). Only while someone watches SIGPIPE does this cost
/// anything: SIGPIPE is blocked on this thread around the write, and the
/// signal the write raised is taken back before it is unblocked.
pub fn write_without_sigpipe(write: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
    if !sigpipe_watched() {
        return write();
    }
    // SAFETY: an all-zero sigset_t is valid storage; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { MaybeUninit::zeroed().assume_init() };
    // SAFETY: `set` is a valid, owned sigset_t.
    syscall!(sigemptyset(&mut set))?;
    // SAFETY: as above; SIGPIPE is a valid signal number.
    syscall!(sigaddset(&mut set, libc::SIGPIPE))?;
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { MaybeUninit::zeroed().assume_init() };
    // SAFETY: both sets are valid and owned; pthread_sigmask returns an error
    // number rather than setting errno.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) };
    if rc != 0 {
        return write();
    }
    let result = write();
    if matches!(&result, Err(e) if e.kind() == io::ErrorKind::BrokenPipe) {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `set` and `zero` are valid; a null info pointer is allowed.
        // With a zero timeout this only takes the SIGPIPE pending on this
        // thread (the one the write raised), if any.
        unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
    }
    // SAFETY: `old` is the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    result
}
