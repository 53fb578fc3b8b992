//! The connect race behind `create_connection`: one non-blocking connect per
//! address, tried in order or staggered (RFC 8305 happy eyeballs), the first
//! to connect wins, and every other attempt is cancelled.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::event_loop::{EventLoop, FIRST_ACTOR_TOKEN};
use crate::net::error::NetError;
use crate::net::race::{race, Either};
use crate::net::writable::Writable;
use crate::routing;

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
    fn launch<C: Connector>(
        &mut self,
        lp: &EventLoop,
        connect: &C,
        addrs: &[SocketAddr],
        local: Option<SocketAddr>,
        tx: &flume::Sender<Attempt>,
    ) -> Result<(), NetError> {
        let i = self.next;
        self.tasks
            .push(spawn_attempt(lp, connect, i, addrs[i], local, tx.clone())?);
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
    race_attempts(lp, &connect_one, addrs, local, delay).await
}

/// One connection attempt: `connect_one`, or a stand-in in tests.
trait Connector {
    /// The attempt's future.
    type Attempt: std::future::Future<Output = io::Result<mio::net::TcpStream>> + 'static;
    /// Starts an attempt to connect to `addr` from `local`.
    fn attempt(&self, lp: EventLoop, addr: SocketAddr, local: Option<SocketAddr>) -> Self::Attempt;
}

impl<F, Fut> Connector for F
where
    F: Fn(EventLoop, SocketAddr, Option<SocketAddr>) -> Fut,
    Fut: std::future::Future<Output = io::Result<mio::net::TcpStream>> + 'static,
{
    type Attempt = Fut;
    fn attempt(&self, lp: EventLoop, addr: SocketAddr, local: Option<SocketAddr>) -> Fut {
        self(lp, addr, local)
    }
}

/// [`connect_any`] with the attempts `connect` makes.
async fn race_attempts<C: Connector>(
    lp: &EventLoop,
    connect: &C,
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
            at.launch(lp, connect, &addrs, local, &tx)?;
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
                    at.launch(lp, connect, &addrs, local, &tx)?;
                }
            }
            Either::Left(Err(_)) => break,
            Either::Right(_) => at.launch(lp, connect, &addrs, local, &tx)?,
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

/// Sends an attempt's outcome; if the attempt ends without one (it panicked,
/// and the loop dropped its task), sends an error instead, so the race never
/// waits for an answer that cannot come.
struct Answer {
    index: usize,
    addr: SocketAddr,
    tx: Option<flume::Sender<Attempt>>,
}

impl Answer {
    fn send(mut self, r: io::Result<mio::net::TcpStream>) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((self.index, self.addr, r));
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            // Also reached when the race is over and cancels the attempt:
            // nobody listens then, and the send fails quietly.
            let e = io::Error::other("the connection attempt panicked");
            let _ = tx.send((self.index, self.addr, Err(e)));
        }
    }
}

fn spawn_attempt<C: Connector>(
    lp: &EventLoop,
    connect: &C,
    index: usize,
    addr: SocketAddr,
    local: Option<SocketAddr>,
    tx: flume::Sender<Attempt>,
) -> Result<crate::Task<()>, NetError> {
    let answer = Answer {
        index,
        addr,
        tx: Some(tx),
    };
    let attempt = connect.attempt(lp.clone(), addr, local);
    Ok(lp.create_task(async move {
        let answer = answer;
        answer.send(attempt.await);
    })?)
}

/// Removes a waiter actor if the attempt is dropped before it fired.
struct WaiterGuard<'a> {
    lp: &'a EventLoop,
    id: switchboard_protocols::ActorId,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        let slot = crate::routing::remove(&self.lp.core, self.id);
        drop(slot);
    }
}

/// One non-blocking connect, resolved when the socket becomes writable.
async fn connect_one(
    lp: EventLoop,
    addr: SocketAddr,
    local: Option<SocketAddr>,
) -> io::Result<mio::net::TcpStream> {
    let lp = &lp;
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
        mio::Token(id.index() + FIRST_ACTOR_TOKEN),
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
    use std::future::Future;
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

    /// What a stand-in connector's attempt is.
    type BoxedAttempt = std::pin::Pin<Box<dyn Future<Output = io::Result<mio::net::TcpStream>>>>;

    /// A connector whose attempt at `bad` panics without answering; the
    /// others connect for real.
    #[allow(clippy::type_complexity)]
    fn panics_at(
        bad: SocketAddr,
    ) -> impl Fn(EventLoop, SocketAddr, Option<SocketAddr>) -> BoxedAttempt {
        move |lp, addr, local| {
            Box::pin(async move {
                if addr == bad {
                    panic!("the attempt at {addr} panics");
                }
                connect_one(lp, addr, local).await
            })
        }
    }

    /// Like `run`, with a short deadline: a hang fails in 2 s.
    fn run_briefly<F: Future + 'static>(lp: &EventLoop, f: F) -> Option<F::Output>
    where
        F::Output: 'static,
    {
        let stopper = lp.clone();
        let guard = lp
            .call_later(Duration::from_secs(2), move || stopper.stop())
            .expect("open loop");
        let out = lp.run_until_complete(f).ok();
        guard.cancel();
        out
    }

    fn quiet_handler(lp: &EventLoop) -> std::rc::Rc<std::cell::RefCell<Vec<String>>> {
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let s2 = seen.clone();
        lp.set_exception_handler(Some(std::rc::Rc::new(
            move |_: &EventLoop, ctx: &crate::ExceptionContext| {
                s2.borrow_mut().push(ctx.message.clone());
            },
        )));
        seen
    }

    #[test]
    fn issue_7_defect_5_a_panicking_attempt_falls_through_to_the_next_address() {
        for delay in [None, Some(Duration::from_millis(50))] {
            let lp = EventLoop::new().expect("loop");
            let reports = quiet_handler(&lp);
            let bad = refused();
            let (_listener, ok) = live();
            let l = lp.clone();
            let peer = run_briefly(&lp, async move {
                race_attempts(&l, &panics_at(bad), vec![bad, ok], None, delay)
                    .await
                    .map(|s| s.peer_addr().expect("peer"))
            })
            .expect("the race ends instead of waiting for the panicked attempt");
            assert_eq!(peer.expect("the second address connects"), ok, "{delay:?}");
            assert_eq!(reports.borrow().len(), 1, "{:?}", reports.borrow());
            assert_eq!(actors(&lp), 0);
        }
    }

    #[test]
    fn issue_7_defect_5_a_lone_panicking_attempt_is_an_error_not_a_hang() {
        let lp = EventLoop::new().expect("loop");
        let reports = quiet_handler(&lp);
        let bad = refused();
        let l = lp.clone();
        let err = run_briefly(&lp, async move {
            race_attempts(&l, &panics_at(bad), vec![bad], None, None).await
        })
        .expect("the call returns")
        .expect_err("nothing connected");
        let NetError::Connect { addr, source } = &err else {
            panic!("expected Connect, got {err:?}");
        };
        assert_eq!(*addr, bad);
        assert!(source.to_string().contains("panicked"), "{source}");
        // The panic itself went to the exception handler, as any task's.
        assert_eq!(reports.borrow().len(), 1, "{:?}", reports.borrow());
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
