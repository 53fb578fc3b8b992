//! `add_signal_handler` / `remove_signal_handler`: Unix signals as loop
//! callbacks (asyncio's `loop.add_signal_handler`).
//!
//! The first handler a loop adds creates its [`SignalWatcher`] actor, which
//! owns the read end of a self-pipe the OS handler writes one byte to. Callbacks
//! run on the loop thread, through the ready queue, and a signal wakes a loop
//! blocked in poll. Removing the last handler of a signal (on any loop)
//! restores the disposition the signal had before the first; closing the
//! loop removes every handler. Several loops, on any threads, may handle the
//! same signal: each gets it (SG5). Actors can subscribe to signals as
//! [`SignalReceived`] messages (`subscribe.rs`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use switchboard_actors::signal::{SignalTable, SignalWatcher};

use crate::event_loop::{EventLoop, LoopCore, FIRST_ACTOR_TOKEN};
use crate::routing;

pub use switchboard_protocols::{Signal, SignalError, SignalReceived};

mod sigint;
mod subscribe;

pub(crate) use sigint::SigintClaim;

thread_local! {
    /// The signal table of each loop on this thread that added a handler.
    static TABLES: RefCell<Vec<(Weak<LoopCore>, SignalTable)>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn check_signal(sig: Signal) -> Result<(), SignalError> {
    if sig.is_uncatchable() {
        return Err(SignalError::Uncatchable(sig));
    }
    Ok(())
}

/// The table of `core`, if it has one; forgets tables of dropped or closed loops.
pub(crate) fn table_of(core: &Rc<LoopCore>) -> Option<SignalTable> {
    TABLES.with(|t| {
        let mut tables = t.borrow_mut();
        tables.retain(|(w, table)| w.strong_count() > 0 && !table.is_closed());
        let me = Rc::downgrade(core);
        tables
            .iter()
            .find(|(w, _)| w.ptr_eq(&me))
            .map(|(_, table)| table.clone())
    })
}

pub(crate) fn table_or_create(
    core: &Rc<LoopCore>,
    sig: Signal,
) -> Result<SignalTable, SignalError> {
    if let Some(table) = table_of(core) {
        return Ok(table);
    }
    let os = |source| SignalError::Os { sig, source };
    let (mut watcher, table) = SignalWatcher::new().map_err(os)?;
    let id = routing::reserve(core);
    let token = mio::Token(id.index() + FIRST_ACTOR_TOKEN);
    if let Err(e) = watcher.register(&core.registry, token) {
        routing::remove(core, id);
        return Err(os(e));
    }
    routing::insert(core, id, Box::new(watcher));
    TABLES.with(|t| t.borrow_mut().push((Rc::downgrade(core), table.clone())));
    Ok(table)
}

impl EventLoop {
    /// Runs `f` on the loop thread each time signal `sig` arrives (asyncio's
    /// `loop.add_signal_handler`). Replaces a previous handler for `sig`.
    /// SIGKILL and SIGSTOP are refused with [`SignalError::Uncatchable`];
    /// a number that is no signal never becomes a [`Signal`]
    /// ([`SignalError::InvalidSignal`] from `Signal::try_from`).
    ///
    /// The OS handler only writes a byte to the loop's wakeup pipe; `f` runs
    /// later, from the ready queue, like any callback (SG1). Any loop may add
    /// handlers, on any thread (unlike asyncio, which wants the main
    /// thread), and every loop that handles `sig` gets it (SG5). A burst of
    /// signals runs `f` at least once after the last one (SG4).
    ///
    /// ```no_run
    /// use switchboard::Signal;
    /// let lp = switchboard::new_event_loop()?;
    /// let handle = lp.handle();
    /// lp.add_signal_handler(Signal::SIGINT, move || handle.stop())?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    ///
    /// Only switchboard's own [`Signal`] is taken, not another crate's type:
    ///
    /// ```compile_fail
    /// let lp = switchboard::new_event_loop().unwrap();
    /// lp.add_signal_handler(nix::sys::signal::Signal::SIGINT, || {});
    /// ```
    pub fn add_signal_handler(
        &self,
        sig: Signal,
        f: impl Fn() + 'static,
    ) -> Result<(), SignalError> {
        check_signal(sig)?;
        if self.core.closed.get() {
            return Err(SignalError::Closed);
        }
        let table = table_or_create(&self.core, sig)?;
        table
            .add(sig.number(), Rc::new(f))
            .map_err(|source| SignalError::Os { sig, source })
    }

    /// Removes the handler for `sig`; when no loop wants `sig` any more,
    /// the disposition it had before the first handler is restored
    /// (`SIG_DFL` usually). Returns `true` if there was a handler, `false`
    /// otherwise (SG3).
    pub fn remove_signal_handler(&self, sig: Signal) -> Result<bool, SignalError> {
        check_signal(sig)?;
        match table_of(&self.core) {
            Some(table) => table
                .remove(sig.number())
                .map_err(|source| SignalError::Os { sig, source }),
            None => Ok(false),
        }
    }
}
