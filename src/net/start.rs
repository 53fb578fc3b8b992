//! Puts a connected stream socket under the loop as a transport actor and waits
//! for `ConnectionMade` to be delivered.

use std::rc::Rc;
use std::sync::Arc;

use switchboard_actors::stream::tls::TlsSetup;
use switchboard_actors::stream::{Hooks, SocketTransport, Start, StreamLimits, StreamSocket};
use switchboard_protocols::internal::{self, Mailer};
use switchboard_protocols::{ActorId, AnyStreamProtocol, StreamCommand, TransportError};

use crate::event_loop::EventLoop;
use crate::net::error::NetError;
use crate::net::transport_handle::{Connection, TransportHandle};
use crate::routing;

/// Aborts a started transport if the future that is starting it is dropped
/// (a cancelled `create_connection`) before it handed the connection over, so
/// no connection lives on with nobody holding it (fault 22; asyncio closes the
/// transport in the same case). The protocol still sees its whole grammar:
/// `ConnectionMade`, then `ConnectionLost(None)`.
struct AbortUnlessHanded<'a> {
    lp: &'a EventLoop,
    id: ActorId,
    gen: u64,
    armed: bool,
}

impl Drop for AbortUnlessHanded<'_> {
    fn drop(&mut self) {
        if self.armed && !self.lp.is_closed() {
            let abort = Box::new(StreamCommand::Abort);
            routing::deliver(&self.lp.core, self.id, self.gen, abort);
        }
    }
}

/// Registers `socket` under a new actor id with `limits`, delivers
/// `ConnectionMade` and resolves once it was delivered (S2). With `tls`, a
/// TLS session sits between the socket and the protocol, and
/// `ConnectionMade` (and so the result) waits for its handshake.
pub(crate) async fn start_transport<S: StreamSocket, M: Send + 'static>(
    lp: &EventLoop,
    mut socket: S,
    protocol: AnyStreamProtocol<M>,
    limits: StreamLimits,
    tls: Option<TlsSetup>,
) -> Result<Connection<M>, NetError> {
    let core = &lp.core;
    core.check_open()?;
    let (id, gen) = routing::reserve_gen(core);
    let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
    let token = mio::Token(id.index() + crate::event_loop::FIRST_ACTOR_TOKEN);
    if let Err(source) = core.registry.register(&mut socket, token, interest) {
        routing::release(core, id);
        return Err(NetError::Socket {
            op: "register",
            source,
        });
    }
    let made = lp.create_fallible_future::<(), TransportError>();
    let resolve = made.clone();
    let hooks = Hooks {
        on_made: Some(Box::new(move |r| {
            let _ = match r {
                Ok(()) => resolve.set_result(()),
                Err(e) => resolve.set_exception(e),
            };
        })),
        server: None,
    };
    let mailer: Arc<dyn Mailer> = Arc::new(lp.handle());
    let mut transport = SocketTransport::new(socket, id, protocol, mailer.clone(), hooks);
    let info = transport.share_info();
    transport.set_limits(limits);
    if let Some(setup) = tls {
        if let Err(e) = transport.set_tls(setup) {
            // Dropping the transport closes the socket (and its registration).
            drop(transport);
            routing::release(core, id);
            return Err(NetError::Tls(e));
        }
    }
    routing::insert(core, id, Box::new(transport));
    routing::deliver(core, id, gen, Box::new(Start));
    let mut guard = AbortUnlessHanded {
        lp,
        id,
        gen,
        armed: true,
    };
    // The future fails if the loop closes first, or (over TLS) if the
    // connection is lost before its handshake is done.
    let made = made.await;
    guard.armed = false;
    match made {
        Ok(()) => {}
        Err(crate::FutureError::Failed(e)) => {
            return Err(NetError::Tls(crate::net::tls::handshake_error(e)))
        }
        Err(_) => return Err(NetError::Loop(crate::LoopError::Closed)),
    }
    Ok(Connection {
        transport: TransportHandle {
            lp: lp.clone(),
            id,
            gen,
            info: Rc::clone(&info),
        },
        protocol: internal::addr(id, gen, mailer),
    })
}
