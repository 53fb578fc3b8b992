//! Waiting once for a descriptor's readiness, for the `sock_*` futures.

use std::os::fd::RawFd;

use mio::unix::SourceFd;
use switchboard_protocols::ActorId;

use crate::event_loop::{EventLoop, FIRST_ACTOR_TOKEN};
use crate::net::sock::SockError;
use crate::net::writable::Writable;
use crate::routing;

/// Takes the descriptor out of the poller and its waiter out of the table,
/// also when the waiting future is dropped (cancelled).
struct Registered<'a> {
    lp: &'a EventLoop,
    fd: RawFd,
    id: ActorId,
    gen: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if self.lp.is_closed() {
            return;
        }
        let _ = self.lp.core.registry.deregister(&mut SourceFd(&self.fd));
        routing::remove_gen(&self.lp.core, self.id, self.gen);
    }
}

/// Resolves at the first readiness of `fd` for `interest`.
///
/// Registered edge-triggered after the caller's attempt gave `WouldBlock`:
/// `EPOLL_CTL_ADD` reports readiness that is already there, so nothing that
/// happened between the attempt and the registration is missed. Each wait
/// registers and deregisters (asyncio adds and removes a reader per try), so
/// a descriptor watched with `add_reader` meanwhile cannot be waited on.
pub(crate) async fn wait_ready(
    lp: &EventLoop,
    fd: RawFd,
    interest: mio::Interest,
) -> Result<(), SockError> {
    let core = &lp.core;
    core.check_open()?;
    let (id, gen) = routing::reserve_gen(core);
    let token = mio::Token(id.index() + FIRST_ACTOR_TOKEN);
    if let Err(source) = core.registry.register(&mut SourceFd(&fd), token, interest) {
        routing::release(core, id);
        return Err(SockError::Io {
            op: "register",
            fd,
            source,
        });
    }
    let done = lp.create_future::<()>();
    routing::insert(core, id, Box::new(Writable { done: done.clone() }));
    let _registered = Registered { lp, fd, id, gen };
    done.await
        .map_err(|_| SockError::Loop(crate::LoopError::Closed))
}
