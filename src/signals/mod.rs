//! `add_signal_handler` / `remove_signal_handler`: Unix signals as loop
//! callbacks (asyncio's `loop.add_signal_handler`).
//!
//! The first handler a loop adds creates its [`SignalWatcher`] actor, which
//! owns the read end of a self-pipe the OS handler writes one byte to. Callbacks
//! run on the loop thread, through the ready queue, and a signal wakes a loop
//! blocked in poll. Closing the loop removes every handler (restoring
//! `SIG_DFL`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use switchboard_actors::signal::{SignalTable, SignalWatcher};

use crate::event_loop::{EventLoop, LoopCore, FIRST_ACTOR_TOKEN};
use crate::routing;

pub use switchboard_protocols::{Signal, SignalError};

thread_local! {
    /// The signal table of each loop on this thread that added a handler.
    static TABLES: RefCell<Vec<(Weak<LoopCore>, SignalTable)>> = const { RefCell::new(Vec::new()) };
}

fn check_signal(sig: Signal) -> Result<(), SignalError> {
    if sig.is_uncatchable() {
        return Err(SignalError::Uncatchable(sig));
    }
    Ok(())
}

/// The table of `core`, if it has one; forgets tables of dropped or closed loops.
fn table_of(core: &Rc<LoopCore>) -> Option<SignalTable> {
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
    /// SIGKILL and SIGSTOP are refused with [`SignalError::Uncatchable`].
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

    /// Removes the handler for `sig` and restores the default disposition.
    /// Returns `true` if there was one, `false` otherwise.
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
