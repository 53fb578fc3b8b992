//! The rows of supervised children, kept across incarnations: messages
//! held between two of them, the next incarnation put in place, a row let
//! go of; and telling watchers that an actor stopped.

use std::any::Any;

use switchboard_actors::LoopActor;
use switchboard_protocols::{ActorExited, ActorId};

use crate::event_loop::{LoopCore, Ready};
use crate::routing;
use crate::supervision::system::System;
use crate::supervision::watchers::Watcher;

/// Tells each watcher that an actor stopped.
pub(crate) fn notify(core: &LoopCore, exited: ActorExited, watchers: Vec<Watcher>) {
    for w in watchers {
        match w {
            Watcher::Monitor { by, gen, .. } => core.ready.borrow_mut().push_back(
                Ready::DeliverTo(by, gen, Box::new(System::Exited(exited.clone()))),
            ),
            Watcher::Link { by, gen } => {
                core.watchers
                    .borrow_mut()
                    .remove_link(by.index(), exited.id);
                core.ready.borrow_mut().push_back(Ready::DeliverTo(
                    by,
                    gen,
                    Box::new(System::LinkExited(exited.clone())),
                ));
            }
            Watcher::Future { fut, .. } => {
                let _ = fut.set_result(exited.clone());
            }
            Watcher::Hook { f, .. } => f(&exited),
        }
    }
}

/// Puts a new incarnation of a supervised child in its kept row; the
/// messages held since the last one stopped come first, in order.
pub(crate) fn reinstall(core: &LoopCore, id: ActorId, actor: Box<dyn LoopActor>) {
    let gen = {
        let mut actors = core.actors.borrow_mut();
        let Some(slot) = actors.get_mut(id.index()) else {
            return;
        };
        slot.actor = Some(actor);
        slot.gen
    };
    let held = core
        .supervised
        .borrow_mut()
        .get_mut(&id.index())
        .and_then(Option::take);
    if let Some(held) = held {
        let mut ready = core.ready.borrow_mut();
        for msg in held.into_iter().rev() {
            ready.push_front(Ready::DeliverTo(id, gen, msg));
        }
    }
}

/// A supervised child's row will get no new incarnation: its held
/// messages are dropped (a `call` among them ends with `NoReply`) and its
/// address refuses from now on.
pub(crate) fn abandon(core: &LoopCore, id: ActorId) {
    let held = core.supervised.borrow_mut().remove(&id.index());
    let empty = core
        .actors
        .borrow()
        .get(id.index())
        .is_some_and(|slot| slot.actor.is_none());
    if held.is_some() && empty {
        routing::remove(core, id);
    }
    drop(held);
}

/// A message for a supervised child between incarnations waits for the
/// next one.
pub(crate) fn hold(core: &LoopCore, id: ActorId, gen: Option<u64>, msg: Box<dyn Any>) {
    let live = core
        .actors
        .borrow()
        .get(id.index())
        .is_some_and(|slot| gen.is_none_or(|g| g == slot.gen));
    if live {
        if let Some(Some(held)) = core.supervised.borrow_mut().get_mut(&id.index()) {
            held.push_back(msg);
        }
    }
}
