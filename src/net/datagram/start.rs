//! Puts a datagram socket under the loop as a transport actor and waits for
//! `ConnectionMade` to be delivered.

use std::rc::Rc;
use std::sync::Arc;

use switchboard_actors::datagram::{DatagramSocket, DatagramSocketTransport};
use switchboard_actors::stream::tls::MadeHook;
use switchboard_actors::stream::Start;
use switchboard_protocols::internal::{self, Mailer};
use switchboard_protocols::{ActorId, DatagramCommand, DatagramProtocol};

use crate::event_loop::EventLoop;
use crate::net::datagram::handle::{DatagramEndpoint, DatagramHandle};
use crate::net::error::NetError;
use crate::routing;

/// Aborts a started endpoint if the future starting it is dropped first.
struct AbortUnlessHanded<'a> {
    lp: &'a EventLoop,
    id: ActorId,
    gen: u64,
    armed: bool,
}

impl Drop for AbortUnlessHanded<'_> {
    fn drop(&mut self) {
        if self.armed && !self.lp.is_closed() {
            let abort = Box::new(DatagramCommand::Abort);
            routing::deliver(&self.lp.core, self.id, self.gen, abort);
        }
    }
}

/// Registers `socket` under a new actor id, delivers `ConnectionMade` and
/// resolves once it was delivered.
pub(crate) async fn start_datagram<S: DatagramSocket, M: Send + 'static>(
    lp: &EventLoop,
    mut socket: S,
    protocol: Box<dyn DatagramProtocol<M>>,
    max_write_buffer: Option<usize>,
) -> Result<DatagramEndpoint<M>, NetError> {
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
    let made = lp.create_future::<()>();
    let resolve = made.clone();
    let on_made: MadeHook = Box::new(move |_| {
        let _ = resolve.set_result(());
    });
    let mailer: Arc<dyn Mailer> = Arc::new(lp.handle());
    let (mut transport, info) =
        DatagramSocketTransport::new(socket, id, protocol, mailer.clone(), Some(on_made));
    transport.set_max_write_buffer(max_write_buffer);
    routing::insert(core, id, Box::new(transport));
    routing::deliver(core, id, gen, Box::new(Start));
    let mut guard = AbortUnlessHanded {
        lp,
        id,
        gen,
        armed: true,
    };
    let made = made.await;
    guard.armed = false;
    made.map_err(|_| NetError::Loop(crate::LoopError::Closed))?;
    Ok(DatagramEndpoint {
        transport: DatagramHandle {
            lp: lp.clone(),
            id,
            gen,
            info: Rc::clone(&info),
        },
        protocol: internal::addr(id, gen, mailer),
    })
}
