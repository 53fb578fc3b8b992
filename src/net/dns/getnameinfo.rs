//! `getnameinfo` on the executor.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;

use switchboard_actors::sys::unix::dns as sys;

use crate::event_loop::EventLoop;
use crate::net::dns::flags::NameInfoFlags;
use crate::net::error::NetError;

/// The builder [`EventLoop::getnameinfo`] returns: awaited, the host and the
/// service of an address.
#[must_use = "a GetNameInfo does nothing until awaited"]
#[derive(Debug)]
pub struct GetNameInfo {
    lp: EventLoop,
    addr: SocketAddr,
    flags: NameInfoFlags,
}

impl EventLoop {
    /// The host name and service of `addr` (asyncio's `loop.getnameinfo`),
    /// looked up on the default executor.
    ///
    /// ```
    /// use switchboard::NameInfoFlags;
    /// switchboard::run(|lp| async move {
    ///     let addr = "127.0.0.1:80".parse().expect("address");
    ///     let flags = NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV;
    ///     let (host, port) = lp.getnameinfo(addr).flags(flags).await?;
    ///     assert_eq!((host.as_str(), port.as_str()), ("127.0.0.1", "80"));
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn getnameinfo(&self, addr: SocketAddr) -> GetNameInfo {
        GetNameInfo {
            lp: self.clone(),
            addr,
            flags: NameInfoFlags::NONE,
        }
    }
}

impl GetNameInfo {
    /// `NI_*` flags (`flags=`).
    pub fn flags(mut self, flags: NameInfoFlags) -> Self {
        self.flags = flags;
        self
    }

    async fn run(self) -> Result<(String, String), NetError> {
        let (addr, flags) = (self.addr, self.flags.bits());
        let job = self
            .lp
            .run_in_executor(None, move || sys::getnameinfo(&addr, flags))?;
        match job.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) => Err(NetError::NameInfo { addr, source }),
            Err(e) => Err(NetError::Loop(e.into())),
        }
    }
}

impl IntoFuture for GetNameInfo {
    type Output = Result<(String, String), NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
