//! What the metrics show of one loop, digested from its snapshot: sums
//! over its transports, and rows keyed by label value.

use std::collections::{BTreeMap, HashMap};

use crate::introspect::{ActorInfo, ActorKind, LoopInfo, Snapshot};

/// One loop's figures as the metrics show them: the loop's own, sums over
/// its transports, and rows keyed by label value.
#[derive(Debug, Default)]
pub(super) struct LoopFigures {
    /// The `loop` label.
    pub(super) lp: usize,
    pub(super) info: LoopInfo,
    /// Stream transports alive.
    pub(super) connections: u64,
    /// Over every actor with transport figures (streams, pipes, datagrams).
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
    pub(super) reading_paused: u64,
    pub(super) writing_paused: u64,
    pub(super) servers: BTreeMap<String, ServerRow>,
    pub(super) mailboxes: BTreeMap<String, MailboxRow>,
    pub(super) restarts: BTreeMap<String, u64>,
}

/// The servers of one label value.
#[derive(Debug, Default)]
pub(super) struct ServerRow {
    pub(super) connections: u64,
    pub(super) accepted: u64,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
}

/// The mailboxes of one label value.
#[derive(Debug, Default)]
pub(super) struct MailboxRow {
    pub(super) depth: u64,
    /// The sum of the bounds while every mailbox seen is bounded.
    pub(super) bound: Option<u64>,
}

impl LoopFigures {
    pub(super) fn new(at: usize, snapshot: &Snapshot) -> LoopFigures {
        let mut figures = LoopFigures {
            lp: snapshot.lp.group_index.unwrap_or(at),
            info: snapshot.lp.clone(),
            ..LoopFigures::default()
        };
        // A connection's parent is its server's row: first the servers, to
        // know which label each row adds to.
        let mut server_of: HashMap<usize, String> = HashMap::new();
        for actor in &snapshot.actors {
            if let Some(server) = &actor.server {
                let label = label(actor);
                let row = figures.servers.entry(label.clone()).or_default();
                row.connections += count(server.connections);
                row.accepted += server.accepted;
                server_of.insert(actor.id, label);
            }
        }
        for actor in &snapshot.actors {
            figures.add(actor, &server_of);
        }
        figures
    }

    /// Adds one actor's transport, mailbox and supervisor figures.
    fn add(&mut self, actor: &ActorInfo, server_of: &HashMap<usize, String>) {
        if actor.kind == ActorKind::Transport {
            self.connections += 1;
        }
        if let Some(t) = &actor.transport {
            self.bytes_in += t.bytes_in;
            self.bytes_out += t.bytes_out;
            self.reading_paused += u64::from(t.reading_paused);
            self.writing_paused += u64::from(t.writing_paused);
            let server = actor.parent.and_then(|p| server_of.get(&p));
            if let Some(row) = server.and_then(|s| self.servers.get_mut(s)) {
                row.bytes_in += t.bytes_in;
                row.bytes_out += t.bytes_out;
            }
        }
        if matches!(actor.kind, ActorKind::Application | ActorKind::Supervisor) {
            let row = self.mailboxes.entry(label(actor)).or_insert(MailboxRow {
                depth: 0,
                bound: Some(0),
            });
            row.depth += count(actor.mailbox.depth);
            row.bound = row
                .bound
                .zip(actor.mailbox.bound)
                .map(|(a, b)| a + count(b));
        }
        if let Some(s) = &actor.supervisor {
            *self.restarts.entry(label(actor)).or_default() += s.restarts_total;
        }
    }
}

/// An actor's label value: its name, or `kind:id`.
fn label(actor: &ActorInfo) -> String {
    match &actor.name {
        Some(name) => name.clone(),
        None => format!("{}:{}", actor.kind.as_str(), actor.id),
    }
}

pub(super) fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
