//! Who is told when an actor stops: monitors, links, futures and the
//! loop's own hooks (supervisors), per incarnation of a row of the actor
//! table. The reason of the last exit of each row is kept until the row is
//! reused, so a monitor set up just after an actor stopped still learns
//! why.

use std::collections::HashMap;

use switchboard_protocols::{ActorExited, ActorId, ExitReason};

use crate::future::LoopFuture;

/// Identifies one monitor, to take it back with `demonitor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MonitorRef(pub(crate) u64);

pub(crate) enum Watcher {
    /// Actor `by` (incarnation `gen`) gets `System::Exited`.
    Monitor { token: u64, by: ActorId, gen: u64 },
    /// Actor `by` gets `System::LinkExited`; the other half of the link
    /// sits in `by`'s own row.
    Link { by: ActorId, gen: u64 },
    /// A future from `EventLoop::monitor` resolves.
    Future {
        token: u64,
        fut: LoopFuture<ActorExited>,
    },
    /// Loop-internal (supervisors): called as the actor stops.
    Hook {
        token: u64,
        f: Box<dyn FnOnce(&ActorExited)>,
    },
}

impl Watcher {
    fn token(&self) -> Option<u64> {
        match self {
            Watcher::Monitor { token, .. }
            | Watcher::Future { token, .. }
            | Watcher::Hook { token, .. } => Some(*token),
            Watcher::Link { .. } => None,
        }
    }
}

#[derive(Default)]
pub(crate) struct Watchers {
    /// Row index -> (incarnation, its watchers).
    rows: HashMap<usize, (u64, Vec<Watcher>)>,
    /// Row index -> (incarnation, how it ended), until the row is reused.
    last: HashMap<usize, (u64, ExitReason)>,
    next_token: u64,
}

impl Watchers {
    pub(crate) fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Adds `w` for incarnation `gen` of row `index` (which must be live).
    pub(crate) fn add(&mut self, index: usize, gen: u64, w: Watcher) {
        let entry = self.rows.entry(index).or_insert_with(|| (gen, Vec::new()));
        if entry.0 != gen {
            *entry = (gen, Vec::new());
        }
        entry.1.push(w);
    }

    /// Takes back the watcher with `token` from wherever it is.
    pub(crate) fn remove_token(&mut self, token: u64) -> bool {
        for (_, list) in self.rows.values_mut() {
            if let Some(pos) = list.iter().position(|w| w.token() == Some(token)) {
                list.remove(pos);
                return true;
            }
        }
        false
    }

    /// Removes the half link in row `index` that points at `other`.
    pub(crate) fn remove_link(&mut self, index: usize, other: ActorId) {
        if let Some((_, list)) = self.rows.get_mut(&index) {
            list.retain(|w| !matches!(w, Watcher::Link { by, .. } if *by == other));
        }
    }

    /// True if row `index` (incarnation `gen`) links to `other`.
    pub(crate) fn linked(&self, index: usize, gen: u64, other: ActorId) -> bool {
        self.rows.get(&index).is_some_and(|(g, list)| {
            *g == gen
                && list
                    .iter()
                    .any(|w| matches!(w, Watcher::Link { by, .. } if *by == other))
        })
    }

    /// Incarnation `gen` of row `index` stopped with `reason`: its watchers,
    /// to be told by the caller.
    pub(crate) fn exited(&mut self, index: usize, gen: u64, reason: &ExitReason) -> Vec<Watcher> {
        self.last.insert(index, (gen, reason.clone()));
        match self.rows.remove(&index) {
            Some((g, list)) if g == gen => list,
            Some(other) => {
                self.rows.insert(index, other);
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// How incarnation `gen` of row `index` ended, if that is still known.
    pub(crate) fn last_reason(&self, index: usize, gen: u64) -> Option<ExitReason> {
        self.last
            .get(&index)
            .filter(|(g, _)| *g == gen)
            .map(|(_, r)| r.clone())
    }

    /// Row `index` holds a new incarnation: forget the old one's reason.
    pub(crate) fn reused(&mut self, index: usize) {
        self.last.remove(&index);
    }

    /// The loop closed: drop everything (futures are dropped unresolved).
    pub(crate) fn clear(&mut self) -> HashMap<usize, (u64, Vec<Watcher>)> {
        self.last.clear();
        std::mem::take(&mut self.rows)
    }
}
