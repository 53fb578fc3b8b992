//! What introspection shows of a server: its listeners' addresses, live
//! connections, connections accepted, and where it stands.

use switchboard_protocols::ActorId;

use super::{ListenerActor, ServerShared, State, StreamListener};
use crate::inspect::{ActorInfo, ActorKind, ServerInfo};

impl ServerShared {
    /// Counts one accepted connection.
    pub(crate) fn count_accepted(&self) {
        let mut n = self.accepted.get();
        n.add(1);
        self.accepted.set(n);
    }

    /// Connections accepted since the server was made (0 without the
    /// `introspection` feature).
    pub fn accepted(&self) -> u64 {
        self.accepted.get().get()
    }

    /// Notes the row of one of the server's listeners.
    pub(crate) fn note_row(&self, id: ActorId) {
        let mut rows = self.rows.borrow_mut();
        if !rows.contains(&id) {
            rows.push(id);
        }
    }

    /// Forgets the row of a listener that closed.
    pub(crate) fn forget_row(&self, id: ActorId) {
        self.rows.borrow_mut().retain(|r| *r != id);
    }

    /// The row of the server's first listener: where its connections go in
    /// introspection's tree.
    pub fn actor_row(&self) -> Option<usize> {
        self.rows.borrow().first().map(|id| id.index())
    }

    fn state_word(&self) -> &'static str {
        match (self.is_closed(), self.connection_count()) {
            (true, 0) => "closed",
            (true, _) => "draining",
            (false, _) if self.is_serving() => "serving",
            (false, _) => "not serving",
        }
    }
}

impl<L: StreamListener, M: 'static> ListenerActor<L, M> {
    pub(super) fn inspect_into(&self, info: &mut ActorInfo) {
        info.kind = ActorKind::Server;
        let listening = match self.state {
            State::Backoff(_) => "backing off (out of descriptors)",
            State::Bound(_) => "bound",
            _ => self.shared.state_word(),
        };
        info.state = listening.into();
        // A server of several sockets shows its figures on its first
        // listener only, so that sums over actors count each once.
        let first = self.shared.actor_row() == Some(info.id);
        info.server = Some(Box::new(ServerInfo {
            sockets: self.local.iter().map(|a| a.to_string()).collect(),
            connections: if first {
                self.shared.connection_count()
            } else {
                0
            },
            accepted: if first { self.shared.accepted() } else { 0 },
            state: self.shared.state_word().into(),
        }));
    }
}
