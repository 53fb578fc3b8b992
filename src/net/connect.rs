//! `create_connection` and `connect_accepted_socket`.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use switchboard_actors::stream::StreamLimits;
use switchboard_protocols::{AnyStreamProtocol, BufferedProtocol, StreamProtocol};

use crate::event_loop::{EventLoop, FIRST_ACTOR_TOKEN};
use crate::net::dns::{interleave, Family};
use crate::net::error::NetError;
use crate::net::race::{race, Either};
use crate::net::start::start_transport;
use crate::net::transport_handle::Connection;
use crate::net::writable::Writable;
use crate::routing;

type ProtocolMaker<M> = Box<dyn FnOnce() -> AnyStreamProtocol<M>>;

/// The builder [`EventLoop::create_connection`] returns; each asyncio keyword
/// argument is a method. Await it (it implements `IntoFuture`).
///
/// Addresses are tried in the resolver's order (or interleaved by family with
/// [`interleave`](Self::interleave)); with
/// [`happy_eyeballs_delay`](Self::happy_eyeballs_delay) the next attempt
/// starts when the delay passes even if the previous one is still pending (RFC
/// 8305), and the first to connect wins. When all fail, every error is
/// reported. TCP_NODELAY is on. The future resolves after the protocol got
/// `ConnectionMade`.
#[must_use = "a CreateConnection does nothing until awaited"]
pub struct CreateConnection<M: 'static> {
    lp: EventLoop,
    factory: ProtocolMaker<M>,
    host: Option<String>,
    port: Option<u16>,
    family: Family,
    local_addr: Option<SocketAddr>,
    sock: Option<std::net::TcpStream>,
    happy_eyeballs_delay: Option<Duration>,
    interleave: Option<usize>,
    limits: StreamLimits,
}

impl<M: 'static> std::fmt::Debug for CreateConnection<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateConnection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("family", &self.family)
            .finish()
    }
}

impl EventLoop {
    /// Opens a TCP connection whose events go to the protocol `factory` makes
    /// (asyncio's `loop.create_connection`).
    ///
    /// ```
    /// use switchboard::protocols::ready_made::Echo;
    /// let lp = switchboard::new_event_loop()?;
    /// let l2 = lp.clone();
    /// lp.run_until_complete(async move {
    ///     let server = l2.create_server(|| Echo).host("127.0.0.1").port(0).await?;
    ///     let port = server.sockets()[0].port();
    ///     let conn = l2.create_connection(|| Echo).host("127.0.0.1").port(port).await?;
    ///     assert!(conn.transport.peername().is_some());
    ///     conn.transport.close();
    ///     server.close();
    ///     Ok::<(), switchboard::NetError>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P + 'static,
    ) -> CreateConnection<M>
    where
        P: StreamProtocol<M>,
        M: Send + 'static,
    {
        self.connection_builder(Box::new(move || {
            AnyStreamProtocol::Stream(Box::new(factory()))
        }))
    }

    /// [`create_connection`](Self::create_connection) for a [`BufferedProtocol`].
    pub fn create_buffered_connection<P, M>(
        &self,
        factory: impl FnOnce() -> P + 'static,
    ) -> CreateConnection<M>
    where
        P: BufferedProtocol<M>,
        M: Send + 'static,
    {
        self.connection_builder(Box::new(move || {
            AnyStreamProtocol::Buffered(Box::new(factory()))
        }))
    }

    fn connection_builder<M>(&self, factory: ProtocolMaker<M>) -> CreateConnection<M> {
        CreateConnection {
            lp: self.clone(),
            factory,
            host: None,
            port: None,
            family: Family::Unspec,
            local_addr: None,
            sock: None,
            happy_eyeballs_delay: None,
            interleave: None,
            limits: StreamLimits::default(),
        }
    }

    /// Wraps an already accepted (or otherwise connected) TCP socket into a
    /// transport and protocol (asyncio's `loop.connect_accepted_socket`).
    pub async fn connect_accepted_socket<P, M>(
        &self,
        factory: impl FnOnce() -> P + 'static,
        sock: std::net::TcpStream,
    ) -> Result<Connection<M>, NetError>
    where
        P: StreamProtocol<M>,
        M: Send + 'static,
    {
        let stream = adopt(sock)?;
        start_transport(
            self,
            stream,
            AnyStreamProtocol::Stream(Box::new(factory())),
            None,
            StreamLimits::default(),
        )
        .await
    }
}

fn adopt(sock: std::net::TcpStream) -> Result<mio::net::TcpStream, NetError> {
    sock.set_nonblocking(true)
        .map_err(|source| NetError::Socket {
            op: "set_nonblocking",
            source,
        })?;
    let stream = mio::net::TcpStream::from_std(sock);
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

impl<M: Send + 'static> CreateConnection<M> {
    /// The host name or address to connect to.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    /// The port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// Only addresses of this family.
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }
    /// Binds the socket locally before connecting.
    pub fn local_addr(mut self, addr: SocketAddr) -> Self {
        self.local_addr = Some(addr);
        self
    }
    /// Uses an already connected socket (no host or port then).
    pub fn sock(mut self, sock: std::net::TcpStream) -> Self {
        self.sock = Some(sock);
        self
    }
    /// Starts the next attempt after this delay (RFC 8305; 0.25 s is the RFC's
    /// recommendation). Off by default: attempts are sequential.
    pub fn happy_eyeballs_delay(mut self, delay: Duration) -> Self {
        self.happy_eyeballs_delay = Some(delay);
        self
    }
    /// Interleaves address families, `first_count` of the first family first.
    pub fn interleave(mut self, first_count: usize) -> Self {
        self.interleave = Some(first_count.max(1));
        self
    }
    /// Beyond asyncio (BEHAVIOR fault 4): a hard cap on the transport's write
    /// buffer. A write that takes it past `cap` bytes aborts the transport
    /// with `ConnectionLost(Some(TransportError::BufferOverflow { cap }))`;
    /// the write itself does not fail. Off by default (asyncio has no cap);
    /// keep it well above the high-water mark.
    pub fn max_write_buffer(mut self, cap: usize) -> Self {
        self.limits = self.limits.max_write_buffer(Some(cap));
        self
    }
    /// Beyond asyncio (BEHAVIOR fault 5): if the buffer has not drained
    /// `timeout` after `close()`, the transport aborts with
    /// `ConnectionLost(Some(TransportError::CloseTimedOut { pending }))`. Off
    /// by default: a close then waits for the peer as long as it takes.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.limits = self.limits.close_timeout(Some(timeout));
        self
    }

    async fn run(self) -> Result<Connection<M>, NetError> {
        let lp = self.lp.clone();
        if let Some(sock) = self.sock {
            if self.host.is_some() || self.port.is_some() {
                return Err(NetError::InvalidArgs(
                    "host/port and sock can not be specified at the same time",
                ));
            }
            let stream = adopt(sock)?;
            return start_transport(&lp, stream, (self.factory)(), None, self.limits).await;
        }
        let (Some(host), Some(port)) = (self.host.clone(), self.port) else {
            return Err(NetError::InvalidArgs(
                "host and port was not specified and no sock specified",
            ));
        };
        let mut addrs = lp.resolve(&host, port, self.family).await?;
        let delay = match self.happy_eyeballs_delay {
            Some(d) => {
                addrs = interleave(addrs, self.interleave.unwrap_or(1));
                Some(d)
            }
            None => {
                if let Some(n) = self.interleave {
                    addrs = interleave(addrs, n);
                }
                None
            }
        };
        let stream = connect_any(&lp, addrs, self.local_addr, delay).await?;
        let _ = stream.set_nodelay(true);
        start_transport(&lp, stream, (self.factory)(), None, self.limits).await
    }
}

impl<M: Send + 'static> IntoFuture for CreateConnection<M> {
    type Output = Result<Connection<M>, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// The attempts of one `connect_any`; dropping it cancels those still running,
/// so a cancelled `create_connection` leaves no socket connecting and no
/// waiter actor behind (fault 22), and the losers of a race are stopped.
struct Attempts {
    tasks: Vec<crate::Task<()>>,
    /// The index of the next address to try.
    next: usize,
    running: usize,
    /// When the latest attempt started (loop time).
    started: f64,
}

impl Attempts {
    fn launch(
        &mut self,
        lp: &EventLoop,
        addrs: &[SocketAddr],
        local: Option<SocketAddr>,
        tx: &flume::Sender<Attempt>,
    ) -> Result<(), NetError> {
        let i = self.next;
        self.tasks
            .push(spawn_attempt(lp, i, addrs[i], local, tx.clone())?);
        self.next += 1;
        self.running += 1;
        self.started = lp.time();
        Ok(())
    }
}

impl Drop for Attempts {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.cancel();
        }
    }
}

/// Tries `addrs`, staggered by `delay` when given, else one after another.
///
/// With a delay (RFC 8305 §5, asyncio's `staggered_race`): the next attempt
/// starts `delay` after the latest one started, or at once when the latest
/// one fails; the first to connect wins and the others are cancelled. Errors
/// are reported in address order.
pub(crate) async fn connect_any(
    lp: &EventLoop,
    addrs: Vec<SocketAddr>,
    local: Option<SocketAddr>,
    delay: Option<Duration>,
) -> Result<mio::net::TcpStream, NetError> {
    let (tx, rx) = flume::unbounded();
    let mut at = Attempts {
        tasks: Vec::new(),
        next: 0,
        running: 0,
        started: 0.0,
    };
    let mut errors = Vec::new();
    loop {
        if at.running == 0 {
            if at.next >= addrs.len() {
                break;
            }
            at.launch(lp, &addrs, local, &tx)?;
        }
        let event = match delay.filter(|_| at.next < addrs.len()) {
            Some(d) => {
                let left = (at.started + d.as_secs_f64() - lp.time()).max(0.0);
                race(rx.recv_async(), lp.sleep(left)).await
            }
            None => Either::Left(rx.recv_async().await),
        };
        match event {
            // Dropping `at` cancels the losers.
            Either::Left(Ok((_, _, Ok(stream)))) => return Ok(stream),
            Either::Left(Ok((index, addr, Err(e)))) => {
                at.running -= 1;
                errors.push((index, addr, e));
                let latest_failed = index + 1 == at.next;
                if delay.is_some() && latest_failed && at.next < addrs.len() {
                    at.launch(lp, &addrs, local, &tx)?;
                }
            }
            Either::Left(Err(_)) => break,
            Either::Right(_) => at.launch(lp, &addrs, local, &tx)?,
        }
    }
    errors.sort_by_key(|(index, _, _)| *index);
    let mut errors: Vec<_> = errors.into_iter().map(|(_, a, e)| (a, e)).collect();
    if errors.len() == 1 {
        let (addr, source) = errors.remove(0);
        return Err(NetError::Connect { addr, source });
    }
    Err(NetError::AllFailed { errors })
}

/// An attempt's outcome: its index in the address list, the address, the result.
type Attempt = (usize, SocketAddr, io::Result<mio::net::TcpStream>);

fn spawn_attempt(
    lp: &EventLoop,
    index: usize,
    addr: SocketAddr,
    local: Option<SocketAddr>,
    tx: flume::Sender<Attempt>,
) -> Result<crate::Task<()>, NetError> {
    let l2 = lp.clone();
    Ok(lp.create_task(async move {
        let r = connect_one(&l2, addr, local).await;
        let _ = tx.send((index, addr, r));
    })?)
}

/// Removes a waiter actor if the attempt is dropped before it fired.
struct WaiterGuard<'a> {
    lp: &'a EventLoop,
    id: switchboard_protocols::ActorId,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        let slot = self.lp.core.actors.borrow_mut().try_remove(self.id.0);
        drop(slot);
    }
}

/// One non-blocking connect, resolved when the socket becomes writable.
async fn connect_one(
    lp: &EventLoop,
    addr: SocketAddr,
    local: Option<SocketAddr>,
) -> io::Result<mio::net::TcpStream> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    if let Some(l) = local {
        sock.bind(&l.into())?;
    }
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if switchboard_actors::sys::unix::fd::is_connect_in_progress(&e) => {}
        Err(e) => return Err(e),
    }
    let mut stream = mio::net::TcpStream::from_std(sock.into());
    let core = &lp.core;
    let id = routing::reserve(core);
    let guard = WaiterGuard { lp, id };
    let done = lp.create_future::<()>();
    core.registry.register(
        &mut stream,
        mio::Token(id.0 + FIRST_ACTOR_TOKEN),
        mio::Interest::WRITABLE,
    )?;
    routing::insert(core, id, Box::new(Writable { done: done.clone() }));
    let waited = done.await;
    drop(guard);
    let _ = core.registry.deregister(&mut stream);
    if waited.is_err() {
        return Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "loop closed while connecting",
        ));
    }
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(stream),
        Err(e) => Err(stream.take_error()?.unwrap_or(e)),
    }
}

#[cfg(test)]
mod tests {
    //! `connect_any` over loopback with explicit address lists (a host name
    //! cannot be made to resolve to a hanging and a live address).
    use std::net::{TcpListener, TcpStream};

    use super::*;

    fn run<F: Future + 'static>(lp: &EventLoop, f: F) -> F::Output
    where
        F::Output: 'static,
    {
        let stopper = lp.clone();
        let guard = lp
            .call_later(Duration::from_secs(10), move || stopper.stop())
            .expect("open loop");
        let out = lp.run_until_complete(f).expect("finished within 10 s");
        guard.cancel();
        out
    }

    fn actors(lp: &EventLoop) -> usize {
        lp.core.actors.borrow().len()
    }

    async fn until(lp: &EventLoop, mut cond: impl FnMut() -> bool) {
        while !cond() {
            let _ = lp.sleep(Duration::from_millis(1)).await;
        }
    }

    /// A listener whose accept queue is full: Linux (and gVisor) drop further
    /// SYNs, so a connect to it stays pending. Keep both values alive.
    fn hanging() -> (Socket, TcpStream, SocketAddr) {
        let l = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        l.bind(&"127.0.0.1:0".parse::<SocketAddr>().expect("addr").into())
            .expect("bind");
        l.listen(0).expect("listen");
        let addr = l.local_addr().expect("addr").as_socket().expect("inet");
        let filler = TcpStream::connect(addr).expect("the one queued connection");
        (l, filler, addr)
    }

    fn refused() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    }

    fn live() -> (TcpListener, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = l.local_addr().expect("addr");
        (l, a)
    }

    #[test]
    fn happy_eyeballs_second_address_wins_while_the_first_hangs() {
        let lp = EventLoop::new().expect("loop");
        let (_hl, _filler, hang) = hanging();
        let (listener, ok) = live();
        let l = lp.clone();
        let before = actors(&lp);
        let (peer, waited) = run(&lp, async move {
            let t0 = l.time();
            let delay = Some(Duration::from_millis(50));
            let s = connect_any(&l, vec![hang, ok], None, delay)
                .await
                .expect("the second address connects");
            let waited = l.time() - t0;
            // The loser (still connecting to `hang`) is cancelled: its waiter
            // actor and socket go away.
            until(&l, || actors(&l) == before).await;
            (s.peer_addr().expect("peer"), waited)
        });
        assert_eq!(peer, ok);
        assert!(
            waited >= 0.045,
            "the second attempt waited the delay: {waited}"
        );
        listener
            .accept()
            .expect("the winner is in the live backlog");
        assert_eq!(actors(&lp), before);
    }

    #[test]
    fn without_a_delay_a_refused_address_falls_through_to_the_next() {
        let lp = EventLoop::new().expect("loop");
        let (_listener, ok) = live();
        let l = lp.clone();
        let peer = run(&lp, async move {
            let s = connect_any(&l, vec![refused(), ok], None, None)
                .await
                .expect("falls through");
            s.peer_addr().expect("peer")
        });
        assert_eq!(peer, ok);
        assert_eq!(actors(&lp), 0);
    }

    #[test]
    fn a_failed_attempt_starts_the_next_at_once() {
        let lp = EventLoop::new().expect("loop");
        let (_listener, ok) = live();
        let l = lp.clone();
        let (peer, waited) = run(&lp, async move {
            let t0 = l.time();
            let delay = Some(Duration::from_secs(5));
            let s = connect_any(&l, vec![refused(), ok], None, delay)
                .await
                .expect("the second address connects");
            (s.peer_addr().expect("peer"), l.time() - t0)
        });
        assert_eq!(peer, ok);
        assert!(waited < 2.0, "did not wait out the 5 s delay: {waited}");
    }

    #[test]
    fn all_refused_lists_every_address_in_order() {
        for delay in [None, Some(Duration::from_millis(50))] {
            let lp = EventLoop::new().expect("loop");
            let addrs = vec![refused(), refused(), refused()];
            let (l, a2) = (lp.clone(), addrs.clone());
            let err = run(&lp, async move { connect_any(&l, a2, None, delay).await })
                .expect_err("nobody listens");
            let NetError::AllFailed { errors } = &err else {
                panic!("expected AllFailed, got {err:?}");
            };
            let tried: Vec<SocketAddr> = errors.iter().map(|(a, _)| *a).collect();
            assert_eq!(tried, addrs, "{delay:?}");
            for (a, e) in errors {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{a}: {e}");
                assert!(err.to_string().contains(&a.to_string()), "{err}");
            }
            assert_eq!(actors(&lp), 0);
        }
    }

    #[test]
    fn fault22_dropping_connect_any_cancels_every_attempt() {
        let lp = EventLoop::new().expect("loop");
        let (_h1, _f1, hang1) = hanging();
        let (_h2, _f2, hang2) = hanging();
        let l = lp.clone();
        run(&lp, async move {
            let delay = Some(Duration::from_millis(5));
            let l2 = l.clone();
            let task = l
                .create_task(async move { connect_any(&l2, vec![hang1, hang2], None, delay).await })
                .expect("task");
            until(&l, || actors(&l) == 2).await;
            task.cancel();
            until(&l, || actors(&l) == 0).await;
            assert!(task.cancelled());
        });
    }
}
