//! Actors subscribed to signals: each arrival is a [`SignalReceived`]
//! message to the actor's address (switchboard's own; asyncio has only
//! callbacks).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use switchboard_actors::signal::{ListenerKey, SignalListener};
use switchboard_protocols::{ActorId, Addr};

use crate::event_loop::{EventLoop, LoopCore};
use crate::signals::{
    check_signal, table_of, table_or_create, Signal, SignalError, SignalReceived,
};

/// One actor listening for one signal on one loop.
type Subscription = (Weak<LoopCore>, Signal, ActorId, ListenerKey);

thread_local! {
    /// Which actor listens for which signal on which loop.
    static SUBSCRIPTIONS: RefCell<Vec<Subscription>> = const { RefCell::new(Vec::new()) };
}

impl EventLoop {
    /// Sends the actor at `addr` a [`SignalReceived`] each time `sig`
    /// arrives, until [`unsubscribe_signal`](Self::unsubscribe_signal) or
    /// until the actor stops. A burst may come as one message; a signal
    /// after a message always brings another (SG4). Works alongside
    /// [`add_signal_handler`](Self::add_signal_handler) for the same signal.
    ///
    /// ```no_run
    /// use switchboard::prelude::*;
    /// use switchboard::SignalReceived;
    ///
    /// struct Reloader;
    /// enum Msg { Signal(SignalReceived) }
    /// impl From<SignalReceived> for Msg {
    ///     fn from(s: SignalReceived) -> Self { Msg::Signal(s) }
    /// }
    /// impl Actor for Reloader {
    ///     type Message = Msg;
    ///     fn handle(&mut self, Msg::Signal(s): Msg, _ctx: &mut ActorContext<'_, Msg>) {
    ///         println!("got {}: reloading", s.signal);
    ///     }
    /// }
    ///
    /// let lp = switchboard::new_event_loop()?;
    /// let addr = lp.spawn(Reloader)?;
    /// lp.subscribe_signal(Signal::SIGHUP, &addr)?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn subscribe_signal<M>(&self, sig: Signal, addr: &Addr<M>) -> Result<(), SignalError>
    where
        M: From<SignalReceived> + Send + 'static,
    {
        check_signal(sig)?;
        if self.core.closed.get() {
            return Err(SignalError::Closed);
        }
        self.unsubscribe_signal(sig, addr)?;
        let table = table_or_create(&self.core, sig)?;
        let to = addr.clone();
        let listener: SignalListener = Rc::new(move |_sig, _cx| {
            // A stopped actor refuses the message: its subscription ends.
            to.send(M::from(SignalReceived { signal: sig })).is_ok()
        });
        let key = table
            .listen(sig.number(), listener)
            .map_err(|source| SignalError::Os { sig, source })?;
        SUBSCRIPTIONS.with(|s| {
            s.borrow_mut()
                .push((Rc::downgrade(&self.core), sig, addr.id(), key))
        });
        Ok(())
    }

    /// Ends the subscription of the actor at `addr` to `sig`; returns
    /// whether there was one.
    pub fn unsubscribe_signal<M: Send + 'static>(
        &self,
        sig: Signal,
        addr: &Addr<M>,
    ) -> Result<bool, SignalError> {
        check_signal(sig)?;
        let me = Rc::downgrade(&self.core);
        let key = SUBSCRIPTIONS.with(|s| {
            let mut subs = s.borrow_mut();
            subs.retain(|(w, ..)| w.strong_count() > 0);
            let at = subs
                .iter()
                .position(|(w, s, id, _)| w.ptr_eq(&me) && *s == sig && *id == addr.id());
            at.map(|i| subs.remove(i).3)
        });
        match (key, table_of(&self.core)) {
            (Some(key), Some(table)) => Ok(table.unlisten(key)),
            _ => Ok(false),
        }
    }
}
