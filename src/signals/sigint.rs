//! The default SIGINT of `run_*`: asyncio's runner turning Ctrl+C into
//! `KeyboardInterrupt`.
//!
//! While `run_forever` (so also `run_until_complete` and `switchboard::run`)
//! runs on the main thread and SIGINT has its default disposition, the loop
//! claims SIGINT: one that comes while no handler of this loop wants it
//! (`add_signal_handler(SIGINT, ..)`, `subscribe_signal`, even one added
//! during the run) leaves the loop as an [`Interrupt`](crate::Interrupt)
//! instead of killing the process. When the run ends, however it ends, the
//! claim is dropped and the previous disposition (`SIG_DFL`) is back.
//!
//! Only the main thread claims it, as in asyncio: SIGINT is process-wide, and
//! a loop on a worker thread must not swallow the Ctrl+C meant to stop the
//! program. A disposition someone chose (`SIG_IGN` from `nohup` or a shell
//! running a background job, a handler of their own, another loop's) is left
//! alone.

use std::rc::Rc;

use switchboard_actors::signal::{self as os, SignalTable};

use crate::event_loop::LoopCore;
use crate::signals::Signal;

/// SIGINT claimed for one run; dropping it gives SIGINT back.
#[derive(Debug)]
pub(crate) struct SigintClaim(Option<SignalTable>);

impl SigintClaim {
    /// Claims SIGINT for a run of `core`, if this is the main thread and
    /// SIGINT has its default disposition; otherwise claims nothing.
    pub(crate) fn take(core: &Rc<LoopCore>) -> Self {
        let sig = Signal::SIGINT.number();
        if !os::on_main_thread() || !os::is_default(sig) {
            return SigintClaim(None);
        }
        let table = match super::table_or_create(core, Signal::SIGINT) {
            Ok(table) => table,
            Err(e) => {
                crate::diag::warning!("cannot turn SIGINT into an interrupt: {e}");
                return SigintClaim(None);
            }
        };
        match table.interrupt_on(sig) {
            Ok(()) => SigintClaim(Some(table)),
            Err(e) => {
                crate::diag::warning!("cannot turn SIGINT into an interrupt: {e}");
                SigintClaim(None)
            }
        }
    }
}

impl Drop for SigintClaim {
    fn drop(&mut self) {
        if let Some(table) = self.0.take() {
            if let Err(e) = table.stop_interrupting(Signal::SIGINT.number()) {
                crate::diag::warning!("restoring the disposition of SIGINT: {e}");
            }
        }
    }
}
