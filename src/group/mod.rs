//! One loop per core: [`LoopGroup`] runs the same setup on N loops, each on
//! its own thread, supervises them, serves one address from all of them,
//! and lets their actors find and message each other.

pub(crate) mod balance;
mod error;
pub(crate) mod handle;
mod run;
mod signals;

pub use error::GroupError;
pub use handle::{GroupHandle, Lookup};
pub use run::LoopGroup;
pub use signals::GroupShutdown;

use crate::net::CreateServer;
use crate::EventLoop;

impl EventLoop {
    /// This loop's place in its [`LoopGroup`]: `None` for a loop that is not
    /// one of a group's.
    pub fn group(&self) -> Option<GroupHandle> {
        self.core.group.borrow().clone()
    }
}

impl<M: Send + 'static> CreateServer<M> {
    /// On a loop of a [`LoopGroup`]: one listening socket for the whole
    /// group. Every loop that creates this server (same hosts, port and
    /// family) with `balanced(true)` joins it; the first one binds it, and a
    /// thread of its own accepts, handing each connection to the joined
    /// loop with the fewest live connections (ties in turn). Each loop's
    /// [`Server`](crate::Server) is its share: closing or draining it takes
    /// that loop out (the others keep serving); the listening socket closes
    /// when the last loop's share closes. Better than `reuse_port` for few,
    /// long-lived connections, which `SO_REUSEPORT` spreads by hash and never
    /// moves. [`NetError::InvalidArgs`](crate::NetError::InvalidArgs) outside
    /// a group, or with `sock(..)` or `start_serving(false)`. TCP only.
    ///
    /// ```
    /// use switchboard::prelude::*;
    ///
    /// switchboard::LoopGroup::new().loops(1).run(|lp: EventLoop| async move {
    ///     let server = lp.create_server(|| switchboard::ready_made::Echo)
    ///         .host("127.0.0.1").port(0).balanced(true).await?;
    ///     assert!(server.sockets()[0].port() > 0);
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn balanced(mut self, on: bool) -> Self {
        self.balanced = on;
        self
    }
}
