//! Taking a loop's snapshot: its figures, then every row of its actor
//! table, asked to describe itself, with the messages waiting for it.

use std::collections::HashMap;

use switchboard_actors::inspect::{ActorInfo, ActorKind, LoopInfo, Snapshot};
use switchboard_protocols::{ActorId, Addr};

use crate::event_loop::{EventLoop, LoopCore, Ready};

impl EventLoop {
    /// A snapshot of the loop and of everything it owns, taken now on the
    /// loop's thread: the loop's figures (iterations, time in poll and in
    /// handlers, ready queue, timers, tasks, loop lag), and one
    /// [`ActorInfo`](crate::introspect::ActorInfo) per actor — transports
    /// with their addresses, bytes and write buffers, servers with their
    /// connections, application actors with their mailboxes, supervisors
    /// with their children and restarts, subprocesses with their pids.
    ///
    /// It costs one pass over the actor table and the ready queue; nothing
    /// is kept for it between calls but counters (which the
    /// `introspection` feature compiles out: then they read 0). An actor
    /// being called while the snapshot is taken (the one that asked for it,
    /// say) shows as `busy` with its row and name only.
    ///
    /// A mailbox's depth is what waits for the actor in the loop's queues;
    /// for a bounded mailbox it is the count its bound is checked against
    /// (which also holds messages sent from other threads not yet taken in).
    ///
    /// ```
    /// use switchboard::prelude::*;
    /// use switchboard::introspect::ActorKind;
    ///
    /// struct Counter(u64);
    /// impl Actor for Counter {
    ///     type Message = u64;
    ///     fn handle(&mut self, n: u64, _: &mut ActorContext<'_, u64>) {
    ///         self.0 += n;
    ///     }
    /// }
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let counter = lp.spawn_named("counter", Counter(0))?;
    ///     counter.send(1)?;
    ///     counter.send(2)?;
    ///     let snap = lp.introspect();
    ///     let me = snap.actors.iter().find(|a| a.id == counter.id().index()).unwrap();
    ///     assert_eq!(me.kind, ActorKind::Application);
    ///     assert_eq!(me.name.as_deref(), Some("counter"));
    ///     assert_eq!(me.mailbox.depth, 3); // its start, and two messages
    ///     println!("{}", serde_json::to_string(&snap).unwrap());
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn introspect(&self) -> Snapshot {
        snapshot(&self.core)
    }

    /// Names the actor behind `addr` for introspection (`switchboard-ctl
    /// ps`, metrics labels): a bounded actor, a supervised child. False if
    /// that actor is gone: a name never lands on a later tenant of its row.
    pub fn name_actor<M: Send + 'static>(&self, addr: &Addr<M>, name: impl Into<String>) -> bool {
        self.name_row(
            addr.id(),
            switchboard_protocols::internal::generation_of(addr),
            name,
        )
    }

    /// Names incarnation `gen` of row `id`; false if another lives there.
    pub(crate) fn name_row(&self, id: ActorId, gen: u64, name: impl Into<String>) -> bool {
        match self.core.actors.borrow_mut().get_mut(id.index()) {
            Some(slot) if slot.gen == gen => {
                let name = name.into();
                #[cfg(feature = "tracing")]
                slot.span.record("name", name.as_str());
                self.core.names.set(id.index(), gen, name.into_boxed_str());
                true
            }
            _ => false,
        }
    }
}

fn snapshot(core: &LoopCore) -> Snapshot {
    let waiting = waiting(core);
    let mut actors;
    {
        let table = core.actors.borrow();
        // Exactly the rows: no doubling past them (10,000 connections).
        actors = Vec::with_capacity(table.len());
        for (index, slot) in table.iter() {
            let mut info = ActorInfo {
                id: index,
                generation: slot.gen,
                name: core.names.get(index, slot.gen).map(String::from),
                messages: slot.handled.get(),
                ..Default::default()
            };
            info.mailbox.depth = waiting.get(&index).copied().unwrap_or(0);
            match &slot.actor {
                Some(actor) => {
                    info.description = actor.describe();
                    actor.inspect(&mut info);
                }
                None => info.state = "busy".into(),
            }
            actors.push(info);
        }
    }
    // A parent is a server or a supervisor of this snapshot, never another
    // kind of actor that took the row over.
    let kinds: std::collections::HashMap<usize, ActorKind> =
        actors.iter().map(|a| (a.id, a.kind)).collect();
    for a in &mut actors {
        if let Some(p) = a.parent {
            if !matches!(
                kinds.get(&p),
                Some(ActorKind::Server | ActorKind::Supervisor)
            ) {
                a.parent = None;
            }
        }
    }
    // A supervisor's children go under it, named after their spec unless
    // they have a name of their own.
    let parents: Vec<(usize, usize, String)> = actors
        .iter()
        .filter_map(|a| a.supervisor.as_ref().map(|s| (a.id, s)))
        .flat_map(|(sup, s)| {
            s.children
                .iter()
                .filter_map(move |c| Some((c.actor?, sup, c.name.clone())))
        })
        .collect();
    let named: std::collections::HashSet<usize> = core
        .actors
        .borrow()
        .iter()
        .filter(|(i, slot)| core.names.get(*i, slot.gen).is_some())
        .map(|(i, _)| i)
        .collect();
    for (child, sup, name) in parents {
        if let Some(a) = actors.iter_mut().find(|a| a.id == child) {
            a.parent = Some(sup);
            if !named.contains(&child) && a.kind != ActorKind::Server {
                a.name = Some(name);
            }
        }
    }
    Snapshot {
        lp: loop_info(core),
        actors,
    }
}

/// Messages and commands waiting for each row, in the ready queue and held
/// for a supervised child between incarnations.
fn waiting(core: &LoopCore) -> HashMap<usize, usize> {
    let mut waiting = HashMap::new();
    for item in core.ready.borrow().iter() {
        if let Ready::DeliverTo(id, _, _) = item {
            *waiting.entry(id.index()).or_insert(0) += 1;
        }
    }
    for (&row, held) in core.supervised.borrow().iter() {
        if let Some(held) = held {
            *waiting.entry(row).or_insert(0) += held.len();
        }
    }
    waiting
}

fn loop_info(core: &LoopCore) -> LoopInfo {
    let stats = &core.stats;
    LoopInfo {
        group_index: core.group.borrow().as_ref().map(|g| g.index()),
        time: core.now_ns() as f64 / 1e9,
        iterations: stats.iterations(),
        poll_seconds: stats.poll_seconds(),
        handler_seconds: stats.handler_seconds(),
        ready: core.ready.borrow().len(),
        timers: core.timers.borrow().len(),
        tasks: core.tasks.borrow().len(),
        callbacks_run: stats.callbacks_run(),
        exceptions: stats.exceptions(),
        lag: stats.lag(),
    }
}
