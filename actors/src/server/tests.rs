//! The accept loop against a real loopback listener, with a fake loop
//! context and scripted accept errors: a kernel cannot be made to fail one
//! `accept` of a batch on demand.

use std::any::Any;
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use switchboard_protocols::{ActorId, NoMessage, ProtocolError, StreamEvent, StreamProtocol};

use super::*;

/// A loop context that records what the listener asks of the loop.
struct FakeCx {
    poll: mio::Poll,
    me: ActorId,
    next: usize,
    reserved: Vec<ActorId>,
    released: Vec<ActorId>,
    inserted: Vec<(ActorId, Box<dyn LoopActor>)>,
    sent: Vec<ActorId>,
    timers: Vec<u64>,
    reports: Vec<String>,
    buf: BytesMut,
}

impl FakeCx {
    fn new() -> FakeCx {
        FakeCx {
            poll: mio::Poll::new().expect("poll"),
            me: switchboard_protocols::internal::actor_id(0),
            next: 1,
            reserved: Vec::new(),
            released: Vec::new(),
            inserted: Vec::new(),
            sent: Vec::new(),
            timers: Vec::new(),
            reports: Vec::new(),
            buf: BytesMut::new(),
        }
    }

    /// Connections the listener handed to new transport actors.
    fn accepted(&self) -> usize {
        self.inserted.len()
    }
}

impl LoopContext for FakeCx {
    fn id(&self) -> ActorId {
        self.me
    }
    fn registry(&self) -> &mio::Registry {
        self.poll.registry()
    }
    fn token_of(&self, id: ActorId) -> mio::Token {
        mio::Token(id.index() + 2)
    }
    fn reserve(&mut self) -> ActorId {
        let id = switchboard_protocols::internal::actor_id(self.next);
        self.next += 1;
        self.reserved.push(id);
        id
    }
    fn insert(&mut self, id: ActorId, actor: Box<dyn LoopActor>) {
        self.inserted.push((id, actor));
    }
    fn at_end_of_turn(&mut self) {}
    fn generation(&self, id: ActorId) -> u64 {
        id.index() as u64 + 1
    }

    fn release(&mut self, id: ActorId) {
        self.released.push(id);
    }
    fn send(&mut self, to: ActorId, _msg: Box<dyn Any>) {
        self.sent.push(to);
    }
    fn wake_after(&mut self, _delay: Duration, tag: u64) {
        self.timers.push(tag);
    }
    fn report(&mut self, context: ExceptionContext) {
        self.reports.push(context.message);
    }
    fn debug(&self) -> bool {
        false
    }
    fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }
    fn call_soon(&mut self, _f: Box<dyn FnOnce()>) {}
    fn interrupt(&mut self) {}
}

struct NoMail;

impl Mailer for NoMail {
    fn post(
        &self,
        _to: ActorId,
        _gen: u64,
        msg: Box<dyn Any + Send>,
    ) -> Result<(), Box<dyn Any + Send>> {
        Err(msg)
    }
    fn post_after(
        &self,
        _to: ActorId,
        _gen: u64,
        msg: Box<dyn Any + Send>,
        _delay: Duration,
    ) -> Result<(), Box<dyn Any + Send>> {
        Err(msg)
    }
    fn generation(&self, _id: ActorId) -> u64 {
        0
    }
}

struct Quiet;

impl StreamProtocol for Quiet {
    fn handle(
        &mut self,
        _ev: StreamEvent,
        _t: &mut dyn switchboard_protocols::StreamTransport,
    ) -> Result<(), ProtocolError> {
        Ok(())
    }
}

/// What the scripted accept does on one call.
enum Step {
    /// Fail with this error, accepting nothing.
    Fail(io::ErrorKind, Option<i32>),
    /// Accept for real, and register the stream before handing it over, so
    /// that the listener's own registration of it fails (`EEXIST`).
    RegisteredAlready,
}

/// A serving listener actor on 127.0.0.1 whose accept follows `script`
/// (then accepts for real), with `clients` connections in its backlog.
fn scene(
    cx: &mut FakeCx,
    script: Vec<Step>,
    clients: usize,
) -> (TcpListenerActor<NoMessage>, Vec<TcpStream>) {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    sock.bind(&any.into()).expect("bind");
    let addr = sock.local_addr().expect("addr").as_socket().expect("inet");
    let factory: Factory<NoMessage> =
        Rc::new(|| AnyStreamProtocol::Stream(Box::new(Quiet) as Box<dyn StreamProtocol>));
    let mut actor = TcpListenerActor::new(
        sock,
        16,
        factory,
        Rc::new(ServerShared::default()),
        Arc::new(NoMail),
    );
    // Listening, nothing queued yet: the first batch finds nothing.
    actor.deliver(Box::new(ServerCommand::StartServing), cx);
    assert_eq!(cx.accepted(), 0);
    let peers: Vec<TcpStream> = (0..clients)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let mut script: VecDeque<Step> = script.into();
    let registry = cx.registry().try_clone().expect("registry");
    actor.accept = Box::new(move |l| match script.pop_front() {
        Some(Step::Fail(kind, errno)) => Err(match errno {
            Some(n) => io::Error::from_raw_os_error(n),
            None => io::Error::from(kind),
        }),
        Some(Step::RegisteredAlready) => {
            let (mut s, a) = l.accept()?;
            registry.register(&mut s, mio::Token(usize::MAX - 1), mio::Interest::READABLE)?;
            Ok((s, a))
        }
        None => l.accept(),
    });
    (actor, peers)
}

const READABLE: Readiness = Readiness {
    readable: true,
    writable: false,
    closed: false,
    source: 0,
};

#[test]
fn fault_30_v7_a_skipped_connection_aborted_does_not_end_the_batch() {
    let mut cx = FakeCx::new();
    let aborted = || Step::Fail(io::ErrorKind::ConnectionAborted, None);
    let (mut actor, _peers) = scene(&mut cx, vec![aborted(), aborted()], 3);
    actor.ready(READABLE, &mut cx);
    // All three, in the one readiness event; nothing reported (asyncio skips
    // ECONNABORTED quietly).
    assert_eq!(cx.accepted(), 3);
    assert_eq!(cx.reports, Vec::<String>::new());
}

#[test]
fn issue_7_defect_3_an_unlisted_accept_error_is_reported_and_the_batch_goes_on() {
    let mut cx = FakeCx::new();
    let eproto = || Step::Fail(io::ErrorKind::Other, Some(nix::libc::EPROTO));
    let (mut actor, _peers) = scene(&mut cx, vec![eproto(), eproto()], 3);
    actor.ready(READABLE, &mut cx);
    assert_eq!(cx.accepted(), 3, "the connections behind the error");
    assert_eq!(cx.reports, vec!["socket.accept() failed".to_string()]);
}

#[test]
fn issue_7_defect_3_a_batch_of_nothing_but_errors_waits_for_the_next_event() {
    let mut cx = FakeCx::new();
    let einval = || Step::Fail(io::ErrorKind::InvalidInput, Some(nix::libc::EINVAL));
    let (mut actor, _peers) = scene(&mut cx, (0..16).map(|_| einval()).collect(), 1);
    actor.ready(READABLE, &mut cx);
    assert_eq!(cx.accepted(), 0);
    // One report, and no AcceptMore to itself: no spinning on the error.
    assert_eq!(cx.reports, vec!["socket.accept() failed".to_string()]);
    assert!(cx.sent.is_empty(), "{:?}", cx.sent);
    // The next event accepts the connection still queued.
    actor.ready(READABLE, &mut cx);
    assert_eq!(cx.accepted(), 1);
}

#[test]
fn issue_7_defect_3_a_failed_registration_gives_its_actor_slot_back() {
    let mut cx = FakeCx::new();
    let (mut actor, mut peers) = scene(&mut cx, vec![Step::RegisteredAlready], 2);
    actor.ready(READABLE, &mut cx);
    assert_eq!(
        cx.reports,
        vec!["cannot register an accepted connection".to_string()]
    );
    // Every reserved id either holds an actor or was given back.
    assert_eq!(cx.reserved.len(), 2);
    assert_eq!(cx.released.len(), 1);
    assert_eq!(cx.accepted(), 1, "the next connection is served");
    let held: Vec<ActorId> = cx.inserted.iter().map(|(id, _)| *id).collect();
    assert!(!held.contains(&cx.released[0]));
    // The connection that could not be registered was closed: its peer sees
    // the end.
    peers[0]
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut b = [0u8; 1];
    match io::Read::read(&mut peers[0], &mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("the dropped connection's peer sees no end: {other:?}"),
    }
}

#[test]
fn issue_7_defect_6_running_out_of_descriptors_is_reported_once_across_retries() {
    let mut cx = FakeCx::new();
    let emfile = || Step::Fail(io::ErrorKind::Other, Some(nix::libc::EMFILE));
    let (mut actor, _peers) = scene(&mut cx, vec![emfile(), emfile(), emfile()], 2);
    // First event: out of descriptors; reported, backing off.
    actor.ready(READABLE, &mut cx);
    assert_eq!(cx.reports.len(), 1);
    assert_eq!(cx.timers, vec![TAG_RESUME_ACCEPT]);
    // Readiness while backing off accepts nothing and says nothing.
    actor.ready(READABLE, &mut cx);
    assert_eq!((cx.accepted(), cx.reports.len()), (0, 1));
    // Two retries that still find no descriptor: no new report.
    actor.timer(TAG_RESUME_ACCEPT, &mut cx);
    actor.timer(TAG_RESUME_ACCEPT, &mut cx);
    assert_eq!(cx.reports.len(), 1, "{:?}", cx.reports);
    assert_eq!(cx.timers.len(), 3);
    // The third retry recovers and accepts both.
    actor.timer(TAG_RESUME_ACCEPT, &mut cx);
    assert_eq!(cx.accepted(), 2);
    // A later exhaustion is a new one, reported again.
    actor.accept = Box::new(|_| Err(io::Error::from_raw_os_error(nix::libc::EMFILE)));
    actor.ready(READABLE, &mut cx);
    assert_eq!(cx.reports.len(), 2);
}
