//! The signal watcher: asyncio's `add_signal_handler` machinery as an actor.
//!
//! The OS handler (in `sys/unix/signal.rs`) only writes the signal number as one
//! byte to the self-pipe of every loop that listens. [`SignalWatcher`] owns
//! this loop's read end; when it turns readable it drains the bytes and
//! queues, for each one, the callback registered for that signal on the
//! loop's ready queue. Listeners (actors subscribed to a signal, subprocesses
//! waiting for SIGCHLD where there is no pidfd) are told once per drain for
//! each signal that came. Callbacks and listeners live in a [`SignalTable`]
//! that the loop keeps to add and remove them.
//!
//! ```text
//!   kernel ─signal─► on_signal ─1 byte─► pipe ─readable─► SignalWatcher
//!                                                           │ call_soon / listeners
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

pub use crate::sys::unix::signal::{is_default, on_main_thread, NSIG};
// `Signal` (in the platform-free crate) spells its numbers out per OS; they
// are the C library's, or this does not compile.
const _: () = {
    use switchboard_protocols::Signal;
    assert!(Signal::SIGABRT as i32 == nix::libc::SIGABRT);
    assert!(Signal::SIGALRM as i32 == nix::libc::SIGALRM);
    assert!(Signal::SIGBUS as i32 == nix::libc::SIGBUS);
    assert!(Signal::SIGCHLD as i32 == nix::libc::SIGCHLD);
    assert!(Signal::SIGCONT as i32 == nix::libc::SIGCONT);
    assert!(Signal::SIGFPE as i32 == nix::libc::SIGFPE);
    assert!(Signal::SIGHUP as i32 == nix::libc::SIGHUP);
    assert!(Signal::SIGILL as i32 == nix::libc::SIGILL);
    assert!(Signal::SIGINT as i32 == nix::libc::SIGINT);
    assert!(Signal::SIGIO as i32 == nix::libc::SIGIO);
    assert!(Signal::SIGKILL as i32 == nix::libc::SIGKILL);
    assert!(Signal::SIGPIPE as i32 == nix::libc::SIGPIPE);
    assert!(Signal::SIGPROF as i32 == nix::libc::SIGPROF);
    assert!(Signal::SIGQUIT as i32 == nix::libc::SIGQUIT);
    assert!(Signal::SIGSEGV as i32 == nix::libc::SIGSEGV);
    assert!(Signal::SIGSTOP as i32 == nix::libc::SIGSTOP);
    assert!(Signal::SIGSYS as i32 == nix::libc::SIGSYS);
    assert!(Signal::SIGTERM as i32 == nix::libc::SIGTERM);
    assert!(Signal::SIGTRAP as i32 == nix::libc::SIGTRAP);
    assert!(Signal::SIGTSTP as i32 == nix::libc::SIGTSTP);
    assert!(Signal::SIGTTIN as i32 == nix::libc::SIGTTIN);
    assert!(Signal::SIGTTOU as i32 == nix::libc::SIGTTOU);
    assert!(Signal::SIGURG as i32 == nix::libc::SIGURG);
    assert!(Signal::SIGUSR1 as i32 == nix::libc::SIGUSR1);
    assert!(Signal::SIGUSR2 as i32 == nix::libc::SIGUSR2);
    assert!(Signal::SIGVTALRM as i32 == nix::libc::SIGVTALRM);
    assert!(Signal::SIGWINCH as i32 == nix::libc::SIGWINCH);
    assert!(Signal::SIGXCPU as i32 == nix::libc::SIGXCPU);
    assert!(Signal::SIGXFSZ as i32 == nix::libc::SIGXFSZ);
};

/// True for the signals no handler can catch: SIGKILL and SIGSTOP.
pub fn is_uncatchable(sig: i32) -> bool {
    sig == nix::libc::SIGKILL || sig == nix::libc::SIGSTOP
}

/// A signal callback.
pub type SignalCallback = Rc<dyn Fn()>;

/// A listener: called on the loop thread, from the watcher, once per drain of
/// the self-pipe in which its signal came (so a burst may be one call). It
/// may only queue work (send messages); returning `false` unsubscribes it.
pub type SignalListener = Rc<dyn Fn(i32, &mut dyn LoopContext) -> bool>;

/// The key of a listener, to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerKey(u64);

struct Inner {
    sender: pipe::Sender,
    handlers: RefCell<HashMap<i32, SignalCallback>>,
    listeners: RefCell<Vec<(ListenerKey, i32, SignalListener)>>,
    next_key: Cell<u64>,
    closed: Cell<bool>,
    /// Signals that leave the loop with an `Interrupt` when they come and
    /// nothing else here wants them: SIGINT while `run_*` claims it, as
    /// asyncio's runner turns SIGINT into `KeyboardInterrupt`.
    interrupts: RefCell<Vec<i32>>,
}

impl Inner {
    fn clear(&self) {
        let mut sigs: Vec<i32> = self.handlers.borrow_mut().drain().map(|(s, _)| s).collect();
        sigs.extend(self.listeners.borrow_mut().drain(..).map(|(_, s, _)| s));
        sigs.extend(self.interrupts.borrow_mut().drain(..));
        sigs.sort_unstable();
        sigs.dedup();
        for sig in sigs {
            if let Err(e) = sys::uninstall(sig, self.sender.as_raw_fd()) {
                crate::diag::warning!("restoring the disposition of signal {sig}: {e}");
            }
        }
    }

    /// True while a handler or a listener wants `sig`.
    fn handled(&self, sig: i32) -> bool {
        self.handlers.borrow().contains_key(&sig)
            || self.listeners.borrow().iter().any(|(_, s, _)| *s == sig)
    }

    /// True while a handler, a listener or an interrupt wants `sig`.
    fn wanted(&self, sig: i32) -> bool {
        self.handled(sig) || self.interrupts.borrow().contains(&sig)
    }

    /// Uninstalls the OS handler for `sig` if nothing here wants it anymore.
    fn release(&self, sig: i32) -> io::Result<()> {
        if !self.wanted(sig) {
            sys::uninstall(sig, self.sender.as_raw_fd())?;
        }
        Ok(())
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

    /// Removes the callback for `sig`; once nothing on any loop wants `sig`,
    /// its disposition from before is restored. Returns whether there was one.
    pub fn remove(&self, sig: i32) -> io::Result<bool> {
        if self.0.handlers.borrow_mut().remove(&sig).is_none() {
            return Ok(false);
        }
        self.0.release(sig)?;
        Ok(true)
    }

    /// Adds a listener for `sig` (installing the OS handler if needed).
    pub fn listen(&self, sig: i32, listener: SignalListener) -> io::Result<ListenerKey> {
        sys::install(sig, self.0.sender.as_raw_fd())?;
        let key = ListenerKey(self.0.next_key.get());
        self.0.next_key.set(key.0 + 1);
        self.0.listeners.borrow_mut().push((key, sig, listener));
        Ok(key)
    }

    /// Removes a listener; returns whether it was there.
    pub fn unlisten(&self, key: ListenerKey) -> bool {
        let removed = {
            let mut listeners = self.0.listeners.borrow_mut();
            let at = listeners.iter().position(|(k, _, _)| *k == key);
            at.map(|i| listeners.remove(i).1)
        };
        match removed {
            Some(sig) => {
                if let Err(e) = self.0.release(sig) {
                    crate::diag::warning!("restoring the disposition of signal {sig}: {e}");
                }
                true
            }
            None => false,
        }
    }

    fn listeners_of(&self, sig: i32) -> Vec<(ListenerKey, SignalListener)> {
        self.0
            .listeners
            .borrow()
            .iter()
            .filter(|(_, s, _)| *s == sig)
            .map(|(k, _, l)| (*k, l.clone()))
            .collect()
    }

    /// Makes `sig` leave the loop with an `Interrupt` whenever it comes and
    /// no handler or listener of this table wants it (installing the OS
    /// handler if needed). A handler or listener added later takes
    /// precedence, as asyncio's `add_signal_handler(SIGINT, ..)` replaces
    /// the runner's SIGINT handler.
    pub fn interrupt_on(&self, sig: i32) -> io::Result<()> {
        sys::install(sig, self.0.sender.as_raw_fd())?;
        self.0.interrupts.borrow_mut().push(sig);
        Ok(())
    }

    /// Undoes one [`interrupt_on`](Self::interrupt_on); once nothing on any
    /// loop wants `sig`, its disposition from before is restored.
    pub fn stop_interrupting(&self, sig: i32) -> io::Result<()> {
        let removed = {
            let mut interrupts = self.0.interrupts.borrow_mut();
            let at = interrupts.iter().position(|s| *s == sig);
            at.map(|i| interrupts.remove(i))
        };
        if removed.is_some() {
            self.0.release(sig)?;
        }
        Ok(())
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

/// Removes a listener from its table when dropped.
#[derive(Debug)]
pub struct ListenGuard {
    table: SignalTable,
    key: ListenerKey,
}

impl ListenGuard {
    /// Adds `listener` for `sig` to `table`; it stays until the guard drops.
    pub fn listen(table: &SignalTable, sig: i32, listener: SignalListener) -> io::Result<Self> {
        let key = table.listen(sig, listener)?;
        Ok(ListenGuard {
            table: table.clone(),
            key,
        })
    }
}

impl Drop for ListenGuard {
    fn drop(&mut self) {
        self.table.unlisten(self.key);
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
            listeners: RefCell::new(Vec::new()),
            next_key: Cell::new(0),
            closed: Cell::new(false),
            interrupts: RefCell::new(Vec::new()),
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
        // Which signals came in this drain, for the listeners.
        let mut seen = [false; NSIG as usize];
        loop {
            match self.receiver.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for &byte in &buf[..n] {
                        let sig = i32::from(byte);
                        if let Some(s) = seen.get_mut(usize::from(byte)) {
                            *s = true;
                        }
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
        for (sig, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
            let sig = sig as i32;
            // Nobody handles it, and run_* claimed it: leave the loop, after
            // this drain (the pipe is empty, so the signal is not seen twice).
            if !self.table.0.handled(sig) && self.table.0.interrupts.borrow().contains(&sig) {
                cx.interrupt();
            }
            for (key, listener) in self.table.listeners_of(sig) {
                if !listener(sig, cx) {
                    self.table.unlisten(key);
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

    fn inspect(&self, info: &mut crate::inspect::ActorInfo) {
        info.kind = crate::inspect::ActorKind::Signal;
        info.state = "watching".into();
    }
}
