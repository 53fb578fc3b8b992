//! Where a stream transport keeps the facts that handles held outside it
//! read: in the transport itself while there is no such handle, or in a
//! [`StreamInfo`] shared with them once one is asked for.
//!
//! A server's connections have no handle outside (their protocol reaches
//! the transport through `&mut dyn StreamTransport`), so they keep only their
//! addresses, cached when the transport is made as asyncio caches them: no
//! second allocation per connection for facts nobody else reads. Everything
//! else a handle would read (closing, reading, the write buffer) the
//! transport knows from its own state, and copies into the shared facts when
//! they are made.

use std::rc::Rc;

use switchboard_protocols::{Address, TlsInfo};

use crate::stream::core::{Core, Phase, ReadSide};
use crate::stream::info::StreamInfo;
use crate::stream::socket::StreamSocket;

/// A transport's addresses, and the facts it shares with handles if any.
#[derive(Debug)]
pub(crate) enum Facts {
    /// No handle outside: the addresses are all the transport keeps.
    Own {
        peer: Option<Address>,
        local: Option<Address>,
    },
    /// Shared with handles, kept up to date at every change.
    Shared(Rc<StreamInfo>),
}

impl Facts {
    /// `get_extra_info('peername')`, as it was when the transport was made.
    pub(crate) fn peername(&self) -> Option<&Address> {
        match self {
            Facts::Own { peer, .. } => peer.as_ref(),
            Facts::Shared(info) => info.peername.as_ref(),
        }
    }

    /// `get_extra_info('sockname')`, as it was when the transport was made.
    pub(crate) fn sockname(&self) -> Option<&Address> {
        match self {
            Facts::Own { local, .. } => local.as_ref(),
            Facts::Shared(info) => info.sockname.as_ref(),
        }
    }

    /// The facts shared with handles, if any were asked for.
    pub(crate) fn shared(&self) -> Option<&StreamInfo> {
        match self {
            Facts::Own { .. } => None,
            Facts::Shared(info) => Some(info),
        }
    }

    /// Tells the handles of a change through `f`; nothing to do without
    /// handles.
    pub(crate) fn tell(&self, f: impl FnOnce(&StreamInfo)) {
        if let Facts::Shared(info) = self {
            f(info);
        }
    }

    /// Moves the addresses into new shared facts of descriptor `fd` (the
    /// caller then copies its state into them); the shared facts as they
    /// are if they were made already, and `false` then.
    pub(crate) fn share(&mut self, fd: i32) -> (Rc<StreamInfo>, bool) {
        let (peer, local) = match self {
            Facts::Shared(info) => return (info.clone(), false),
            Facts::Own { peer, local } => (peer.take(), local.take()),
        };
        let info = Rc::new(StreamInfo::new(peer, local, fd));
        *self = Facts::Shared(info.clone());
        (info, true)
    }
}

impl<S: StreamSocket, M: 'static> Core<S, M> {
    /// The facts shared with handles, made now if they were not yet (from
    /// what the transport did so far); `tls` tells whether a TLS session
    /// sits above the socket, whether it is closing, and its facts.
    pub(crate) fn share_facts(&mut self, tls: Option<(bool, Option<TlsInfo>)>) -> Rc<StreamInfo> {
        let (info, made) = self.facts.share(self.fd);
        if made {
            if self.socket.is_none() {
                info.set_socket_closed();
            }
            match self.read {
                ReadSide::Active => {}
                ReadSide::Paused => info.set_reading(false),
                ReadSide::Done => info.set_read_over(),
            }
            if self.phase >= Phase::Closing || tls.as_ref().is_some_and(|t| t.0) {
                info.set_closing();
            }
            if self.phase == Phase::Gone {
                info.set_lost();
            }
            info.set_buffered(self.buffered());
            info.set_writing_paused(self.writing_paused());
            info.set_dropped(self.cold.dropped());
            if let Some((_, facts)) = tls {
                info.set_tls_layer();
                if let Some(f) = facts {
                    info.set_tls(f);
                }
            }
        }
        info
    }
}
