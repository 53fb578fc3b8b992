//! A balanced server: one listening socket for the whole group, accepted on
//! a thread of its own, each connection handed to the loop serving the
//! fewest (actix's accept thread).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::Socket;
use switchboard_actors::server::{
    is_resource_exhausted, AcceptedSocket, ServerShared, TcpListenerActor,
};
use switchboard_protocols::internal::Mailer;
use switchboard_protocols::{ActorId, Address};

use crate::group::handle::GroupShared;
use crate::net::{CreateServer, Listening, NetError, Server};
use crate::routing;
use crate::shared::LoopHandle;

/// How long accepting pauses when the process runs out of descriptors.
const RETRY_DELAY: Duration = Duration::from_secs(1);
const WAKE: mio::Token = mio::Token(usize::MAX);

/// One loop's server taking part: where its connections go.
struct Sink {
    key: u64,
    handle: LoopHandle,
    /// The loop's adopting listener actor.
    id: ActorId,
    gen: u64,
    /// Connections handed to it and not yet gone.
    live: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Sinks {
    list: Vec<Sink>,
    next_key: u64,
    /// Where the search for the least loaded starts, so ties rotate.
    cursor: usize,
    /// A sink ever joined (the thread ends when the last one leaves).
    joined: bool,
}

/// The listening side of one balanced address.
pub(crate) struct Balancer {
    /// The bound addresses, in bind order.
    addrs: Vec<SocketAddr>,
    fds: Vec<RawFd>,
    sinks: Mutex<Sinks>,
    waker: mio::Waker,
    /// No sink is left: the thread closes the listeners and ends.
    done: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Balancer {
    fn sinks(&self) -> MutexGuard<'_, Sinks> {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, handle: LoopHandle, id: ActorId, gen: u64, live: Arc<AtomicUsize>) -> u64 {
        let mut s = self.sinks();
        let key = s.next_key;
        s.next_key += 1;
        s.joined = true;
        s.list.push(Sink {
            key,
            handle,
            id,
            gen,
            live,
        });
        key
    }

    /// Sink `key` left; the last one to leave ends the listening.
    fn remove(&self, key: u64) {
        let mut s = self.sinks();
        s.list.retain(|k| k.key != key);
        if s.list.is_empty() && s.joined {
            self.done.store(true, Ordering::Release);
            let _ = self.waker.wake();
        }
    }

    /// Ends the listening now (the group is over).
    pub(crate) fn finish(&self) {
        self.done.store(true, Ordering::Release);
        let _ = self.waker.wake();
        let t = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = t {
            let _ = t.join();
        }
    }

    /// Hands `fd` to the least loaded sink (ties in turn); a sink that
    /// refuses (its loop or server ended) is dropped and the next one
    /// tried. With no sink left the connection is closed.
    fn dispatch(&self, fd: OwnedFd) {
        let mut msg: Box<dyn std::any::Any + Send> = Box::new(AcceptedSocket(fd));
        let mut s = self.sinks();
        while !s.list.is_empty() {
            let n = s.list.len();
            let start = s.cursor % n;
            let pick = (0..n)
                .map(|k| (start + k) % n)
                .min_by_key(|&i| s.list[i].live.load(Ordering::Acquire))
                .unwrap_or(start);
            s.cursor = pick + 1;
            let sink = &s.list[pick];
            sink.live.fetch_add(1, Ordering::AcqRel);
            match sink.handle.post(sink.id, sink.gen, msg) {
                Ok(()) => return,
                Err(back) => {
                    sink.live.fetch_sub(1, Ordering::AcqRel);
                    s.list.swap_remove(pick);
                    msg = back;
                }
            }
        }
    }
}

/// The accept thread: accepts while any sink is left, hands each
/// connection over, backs off a second when out of descriptors.
fn accept_loop(b: Arc<Balancer>, mut poll: mio::Poll, listeners: Vec<mio::net::TcpListener>) {
    let mut events = mio::Events::with_capacity(64);
    let mut retry_at: Option<Instant> = None;
    loop {
        let timeout = retry_at.map(|t| t.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
        if b.done.load(Ordering::Acquire) {
            break;
        }
        if retry_at.is_some_and(|t| Instant::now() < t) {
            continue;
        }
        retry_at = None;
        for l in &listeners {
            loop {
                match l.accept() {
                    Ok((stream, _)) => b.dispatch(OwnedFd::from(stream)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                        ) => {}
                    Err(e) if is_resource_exhausted(&e) => {
                        retry_at = Some(Instant::now() + RETRY_DELAY);
                        break;
                    }
                    // Another error concerns one queued connection: skip it.
                    Err(_) => {}
                }
            }
        }
    }
    // Dropping the listeners closes them: new connects are refused. Marked
    // done also when polling failed, so that a loop joining later binds anew
    // instead of waiting on a listener nobody accepts on.
    b.done.store(true, Ordering::Release);
    drop(listeners);
}

/// Binds `sockets` (already bound, not listening) and starts their accept
/// thread.
fn start(sockets: Vec<Socket>, backlog: i32) -> io::Result<Arc<Balancer>> {
    let poll = mio::Poll::new()?;
    let waker = mio::Waker::new(poll.registry(), WAKE)?;
    let mut listeners = Vec::new();
    let mut addrs = Vec::new();
    let mut fds = Vec::new();
    for (i, s) in sockets.into_iter().enumerate() {
        s.listen(backlog)?;
        s.set_nonblocking(true)?;
        if let Some(a) = s.local_addr()?.as_socket() {
            addrs.push(a);
        }
        let mut l = mio::net::TcpListener::from_std(std::net::TcpListener::from(s));
        poll.registry()
            .register(&mut l, mio::Token(i), mio::Interest::READABLE)?;
        fds.push(l.as_raw_fd());
        listeners.push(l);
    }
    let b = Arc::new(Balancer {
        addrs,
        fds,
        sinks: Mutex::new(Sinks::default()),
        waker,
        done: AtomicBool::new(false),
        thread: Mutex::new(None),
    });
    let run = b.clone();
    let t = std::thread::Builder::new()
        .name("switchboard-accept".into())
        .spawn(move || accept_loop(run, poll, listeners))?;
    *b.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
    Ok(b)
}

/// `create_server(..).balanced(true)` on a loop of a group: joins (or
/// starts) the group's listener for this address and serves what it hands
/// over.
pub(crate) async fn create<M: Send + 'static>(
    builder: CreateServer<M>,
) -> Result<Server, NetError> {
    let lp = builder.lp.clone();
    let Some(group) = lp.group() else {
        return Err(NetError::InvalidArgs(
            "balanced(true) needs a loop of a LoopGroup",
        ));
    };
    if builder.sock.is_some() || !builder.start_serving {
        return Err(NetError::InvalidArgs(
            "a balanced server takes neither sock nor start_serving(false)",
        ));
    }
    let tls = builder.tls_setup()?;
    let addrs = builder.bind_addrs().await?;
    lp.core.check_open()?;
    let key = format!("{:?}|{}|{:?}", builder.hosts, builder.port, builder.family);
    let balancer = joined(&group.shared, &key, &addrs, || {
        let dual = addrs.iter().any(|a| a.is_ipv4()) && addrs.iter().any(|a| a.is_ipv6());
        let mut socks = Vec::new();
        for a in &addrs {
            socks.push(builder.bind(*a, dual)?);
        }
        start(socks, builder.backlog).map_err(|source| NetError::Socket {
            op: "listen",
            source,
        })
    })?;
    let shared = Rc::new(ServerShared::default());
    let live = Arc::new(AtomicUsize::new(0));
    shared.count_into(live.clone());
    let mailer: Arc<dyn Mailer> = Arc::new(lp.handle());
    let local = balancer.addrs.first().copied().map(Address::Inet);
    let actor = TcpListenerActor::adopting(local, builder.factory.clone(), shared.clone(), mailer)
        .with_limits(builder.limits)
        .with_tls(tls);
    let (id, gen) = routing::reserve_gen(&lp.core);
    routing::insert(&lp.core, id, Box::new(actor));
    let sink = balancer.add(lp.handle(), id, gen, live);
    let leaving = balancer.clone();
    shared.on_close(Box::new(move || leaving.remove(sink)));
    let listeners = balancer
        .addrs
        .iter()
        .zip(&balancer.fds)
        .map(|(a, &fd)| Listening {
            id,
            gen,
            local: Some(Address::Inet(*a)),
            fd,
        })
        .collect();
    Ok(Server::new(&lp, shared, listeners, true))
}

/// The group's balancer for `key`, started by `bind` if there is none (or
/// the last one has ended).
/// A loop that asks for the port another loop's port 0 was given (read
/// from its `sockets()`) joins that one too.
fn joined(
    group: &GroupShared,
    key: &str,
    addrs: &[SocketAddr],
    bind: impl FnOnce() -> Result<Arc<Balancer>, NetError>,
) -> Result<Arc<Balancer>, NetError> {
    let mut map = group.balancers.lock().unwrap_or_else(|p| p.into_inner());
    let live = |b: &&Arc<Balancer>| !b.done.load(Ordering::Acquire);
    if let Some(b) = map.get(key).filter(live) {
        return Ok(b.clone());
    }
    let same = |b: &&Arc<Balancer>| {
        !addrs.is_empty() && addrs.iter().all(|a| a.port() != 0 && b.addrs.contains(a))
    };
    if let Some(b) = map.values().filter(live).find(same) {
        return Ok(b.clone());
    }
    // The last one ended: its listening sockets must be closed before the
    // address is bound again.
    if let Some(old) = map.remove(key) {
        old.finish();
    }
    let b = bind()?;
    map.insert(key.to_owned(), b.clone());
    Ok(b)
}

/// Ends every balanced listener of the group (its loops are all gone).
pub(crate) fn finish_all(group: &GroupShared) {
    let all: Vec<_> = group
        .balancers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain()
        .map(|(_, b)| b)
        .collect();
    for b in all {
        b.finish();
    }
}
