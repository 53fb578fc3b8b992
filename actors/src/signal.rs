//! The signal watcher: asyncio's `add_signal_handler` machinery as an actor.
//!
//! The OS handler (in `sys/unix/signal.rs`) only writes the signal number as one
//! byte to a self-pipe. [`SignalWatcher`] owns the read end; when it turns
//! readable it drains the bytes and queues, for each one, the callback
//! registered for that signal on the loop's ready queue. The callbacks live in a
//! [`SignalTable`] that the loop keeps to add and remove handlers.
//!
//! ```text
//!   kernel ─signal─► on_signal ─1 byte─► pipe ─readable─► SignalWatcher
//!                                                           │ call_soon
//!                                                           ▼
//!                                              Rc<dyn Fn()> on the loop thread
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use mio::unix::pipe;

use crate::sys::unix::signal as sys;
use crate::{LoopActor, LoopContext, Readiness, Status};

pub use crate::sys::unix::signal::NSIG;
/// The platform's signal numbers, for the loop's own `Signal` enum.
pub mod signum {
    pub use nix::libc::{
        SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGHUP, SIGILL, SIGINT, SIGIO, SIGKILL,
        SIGPIPE, SIGPROF, SIGQUIT, SIGSEGV, SIGSTOP, SIGSYS, SIGTERM, SIGTRAP, SIGTSTP, SIGTTIN,
        SIGTTOU, SIGURG, SIGUSR1, SIGUSR2, SIGVTALRM, SIGWINCH, SIGXCPU, SIGXFSZ,
    };
}

/// True for the signals no handler can catch: SIGKILL and SIGSTOP.
pub fn is_uncatchable(sig: i32) -> bool {
    sig == nix::libc::SIGKILL || sig == nix::libc::SIGSTOP
}

/// A signal callback.
pub type SignalCallback = Rc<dyn Fn()>;

struct Inner {
    sender: pipe::Sender,
    handlers: RefCell<HashMap<i32, SignalCallback>>,
    closed: Cell<bool>,
}

impl Inner {
    fn clear(&self) {
        let sigs: Vec<i32> = self.handlers.borrow_mut().drain().map(|(s, _)| s).collect();
        for sig in sigs {
            if let Err(e) = sys::uninstall(sig, self.sender.as_raw_fd()) {
                crate::diag::warning!("restoring SIG_DFL for signal {sig}: {e}");
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The signal callbacks of one loop, shared by the loop and its
/// [`SignalWatcher`].
#[derive(Clone)]
pub struct SignalTable(Rc<Inner>);

impl fmt::Debug for SignalTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sigs: Vec<i32> = self.0.handlers.borrow().keys().copied().collect();
        sigs.sort_unstable();
        f.debug_struct("SignalTable")
            .field("signals", &sigs)
            .field("closed", &self.0.closed.get())
            .finish()
    }
}

impl SignalTable {
    /// Installs the OS handler for `sig` and makes `f` its callback, replacing
    /// any previous one.
    pub fn add(&self, sig: i32, f: SignalCallback) -> io::Result<()> {
        sys::install(sig, self.0.sender.as_raw_fd())?;
        self.0.handlers.borrow_mut().insert(sig, f);
        Ok(())
    }

    /// Removes the callback for `sig` and restores `SIG_DFL`. Returns whether
    /// there was one.
    pub fn remove(&self, sig: i32) -> io::Result<bool> {
        if self.0.handlers.borrow_mut().remove(&sig).is_none() {
            return Ok(false);
        }
        sys::uninstall(sig, self.0.sender.as_raw_fd())?;
        Ok(true)
    }

    /// The callback for `sig`, if any.
    pub fn get(&self, sig: i32) -> Option<SignalCallback> {
        self.0.handlers.borrow().get(&sig).cloned()
    }

    /// Removes every callback (restoring `SIG_DFL`) and marks the table closed.
    pub fn close(&self) {
        self.0.closed.set(true);
        self.0.clear();
    }

    /// True once [`close`](Self::close) ran (the loop closed).
    pub fn is_closed(&self) -> bool {
        self.0.closed.get()
    }
}

/// The actor that owns the self-pipe's read end.
pub struct SignalWatcher {
    receiver: pipe::Receiver,
    table: SignalTable,
}

impl fmt::Debug for SignalWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SignalWatcher {
    /// Makes the self-pipe (non-blocking, close-on-exec), the watcher that
    /// reads it and the table that routes signals to it.
    pub fn new() -> io::Result<(SignalWatcher, SignalTable)> {
        let (sender, receiver) = pipe::new()?;
        let table = SignalTable(Rc::new(Inner {
            sender,
            handlers: RefCell::new(HashMap::new()),
            closed: Cell::new(false),
        }));
        let watcher = SignalWatcher {
            receiver,
            table: table.clone(),
        };
        Ok((watcher, table))
    }

    /// Registers the read end for readability under `token`.
    pub fn register(&mut self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        registry.register(&mut self.receiver, token, mio::Interest::READABLE)
    }
}

impl LoopActor for SignalWatcher {
    fn ready(&mut self, _readiness: Readiness, cx: &mut dyn LoopContext) -> Status {
        let mut buf = [0u8; 64];
        loop {
            match self.receiver.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for &byte in &buf[..n] {
                        let sig = i32::from(byte);
                        let table = self.table.clone();
                        // Looked up when it runs: a handler removed by an earlier
                        // callback receives nothing more.
                        cx.call_soon(Box::new(move || {
                            if let Some(f) = table.get(sig) {
                                f();
                            }
                        }));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    crate::diag::warning!("reading the signal self-pipe: {e}");
                    break;
                }
            }
        }
        Status::Alive
    }

    fn shutdown(&mut self, cx: &mut dyn LoopContext) {
        self.table.close();
        let _ = cx.registry().deregister(&mut self.receiver);
    }

    fn describe(&self) -> String {
        format!("SignalWatcher fd={}", self.receiver.as_raw_fd())
    }
}
