//! What the loop needs to make addresses and ids. Not part of the public API:
//! the `switchboard` crate does not re-export this module, so user code cannot
//! forge an [`Addr`] or an [`ActorId`].

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use crate::addr::Addr;
pub use crate::call::{CallAnswer, Convert, LiveCall, Ticket};
pub use crate::capacity::Capacity;
use crate::ids::ActorId;

/// Delivers boxed messages to an actor of a loop; the loop implements it. A
/// refused message comes back.
pub trait Mailer: Send + Sync + 'static {
    /// Queues `msg` for incarnation `gen` of actor `to`; refused (the message
    /// comes back) when that incarnation has stopped or the loop is closed.
    fn post(
        &self,
        to: ActorId,
        gen: u64,
        msg: Box<dyn Any + Send>,
    ) -> Result<(), Box<dyn Any + Send>>;
    /// Queues `msg` for actor `to` after `delay`.
    fn post_after(
        &self,
        to: ActorId,
        gen: u64,
        msg: Box<dyn Any + Send>,
        delay: Duration,
    ) -> Result<(), Box<dyn Any + Send>>;
    /// The incarnation living in row `id` now (0 for none).
    fn generation(&self, id: ActorId) -> u64;
}

/// The id of row `index` of a loop's actor table.
pub fn actor_id(index: usize) -> ActorId {
    ActorId::from_index(index)
}

/// The address of incarnation `gen` of actor `id`, delivered through `mailer`.
pub fn addr<M: Send + 'static>(id: ActorId, gen: u64, mailer: Arc<dyn Mailer>) -> Addr<M> {
    Addr::from_parts(id, gen, mailer, None)
}

/// [`addr`] for an actor with a bounded mailbox.
pub fn bounded_addr<M: Send + 'static>(
    id: ActorId,
    gen: u64,
    mailer: Arc<dyn Mailer>,
    capacity: Arc<Capacity>,
) -> Addr<M> {
    Addr::from_parts(id, gen, mailer, Some(capacity))
}

/// The bound shared by `addr` and its mailbox, if it has one.
pub fn capacity_of<M: Send + 'static>(addr: &Addr<M>) -> Option<Arc<Capacity>> {
    addr.capacity_arc()
}

/// The address of actor `id` as it lives now.
pub fn current_addr<M: Send + 'static>(id: ActorId, mailer: Arc<dyn Mailer>) -> Addr<M> {
    let gen = mailer.generation(id);
    Addr::from_parts(id, gen, mailer, None)
}

/// The incarnation `addr` was made for.
pub fn generation_of<M: Send + 'static>(addr: &Addr<M>) -> u64 {
    addr.generation()
}

/// A TLS upgrade around the TLS layer's own setup (the transports downcast it).
pub fn tls_upgrade(setup: Box<dyn Any>) -> crate::tls::TlsUpgrade {
    crate::tls::upgrade(setup)
}

/// The parts of a TLS upgrade, for the transport that applies it.
pub fn tls_upgrade_parts(u: crate::tls::TlsUpgrade) -> crate::tls::TlsUpgradeParts {
    crate::tls::into_parts(u)
}

pub use crate::tls::TlsUpgradeParts;
