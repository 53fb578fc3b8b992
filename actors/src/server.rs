//! The listening-socket actor behind asyncio's `Server` (TCP and Unix):
//! accepts in batches, spawns a transport actor per connection, backs off on
//! EMFILE, and removes a Unix server's socket file on close.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use switchboard_protocols::internal::Mailer;
use switchboard_protocols::{ActorId, Address, AnyStreamProtocol, Exception, ExceptionContext};

use crate::context::{LoopActor, LoopContext, Readiness, Status};
use crate::stream::tls::TlsSetup;
use crate::stream::{Hooks, SocketTransport, Start, StreamLimits};

mod inspect;
mod listener;
mod socket_file;

pub use listener::StreamListener;
pub use socket_file::SocketFile;

/// How long accepting pauses after EMFILE/ENFILE (asyncio's `ACCEPT_RETRY_DELAY`).
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_secs(1);
const TAG_RESUME_ACCEPT: u64 = 1;

/// A command to a listener actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerCommand {
    /// Start listening and accepting (`start_serving`); idempotent.
    StartServing,
    /// Stop listening and close the socket (`close`); idempotent.
    Close,
    /// Accept what the kernel has already queued (up to the backlog), then
    /// close: the start of a drain, so that no connection the kernel
    /// completed is reset.
    Drain,
}

/// What a server's listener actors and its `Server` handle share: serving
/// state, live connections, and the waiters of `wait_closed`.
#[derive(Default)]
pub struct ServerShared {
    serving: Cell<bool>,
    closed: Cell<bool>,
    /// Each live connection's row and incarnation.
    /// A map, so a connection that goes is removed in O(1) however many
    /// the server has (closing 10,000 is linear, not quadratic).
    connections: RefCell<HashMap<ActorId, u64>>,
    waiters: RefCell<Vec<Waker>>,
    /// A count kept outside the loop (a loop group's balancer): taken down
    /// by one as each connection goes.
    outside_count: RefCell<Option<Arc<AtomicUsize>>>,
    /// Run once, when the server is closed.
    on_close: RefCell<Option<Box<dyn FnOnce()>>>,
    /// Connections accepted, and the rows of the listeners (introspection).
    accepted: Cell<crate::inspect::Counter>,
    rows: RefCell<Vec<ActorId>>,
}

impl std::fmt::Debug for ServerShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerShared")
            .field("serving", &self.serving.get())
            .field("closed", &self.closed.get())
            .field("connections", &self.connections.borrow().len())
            .finish()
    }
}

impl ServerShared {
    /// True while accepting.
    pub fn is_serving(&self) -> bool {
        self.serving.get() && !self.closed.get()
    }
    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }
    /// Marks the server closed (the listeners are told separately).
    pub fn mark_closed(&self) {
        self.closed.set(true);
        self.serving.set(false);
        if let Some(f) = self.on_close.take() {
            f();
        }
        // Every waiter looks again: `serve_forever` ends at the close itself
        // (as asyncio's does), live connections or not; `wait_closed` waits
        // on for the connections.
        for w in self.waiters.take() {
            w.wake();
        }
    }
    /// The live connections: each one's row and incarnation, so a command
    /// sent to one of them never reaches a later tenant of its row.
    pub fn connections(&self) -> Vec<(ActorId, u64)> {
        self.connections
            .borrow()
            .iter()
            .map(|(&id, &gen)| (id, gen))
            .collect()
    }
    /// How many connections are live.
    pub fn connection_count(&self) -> usize {
        self.connections.borrow().len()
    }
    /// True once closed and every accepted connection is gone (`wait_closed`).
    pub fn is_done(&self) -> bool {
        self.closed.get() && self.connections.borrow().is_empty()
    }
    /// Registers a waker for [`is_done`](Self::is_done).
    pub fn add_waiter(&self, w: &Waker) {
        let mut ws = self.waiters.borrow_mut();
        if !ws.iter().any(|x| x.will_wake(w)) {
            ws.push(w.clone());
        }
    }
    fn wake_if_done(&self) {
        if self.is_done() {
            for w in self.waiters.take() {
                w.wake();
            }
        }
    }
    /// Forgets the connection `id`, gone.
    pub(crate) fn remove(&self, id: ActorId) {
        let removed = self.connections.borrow_mut().remove(&id).is_some();
        if removed {
            if let Some(count) = self.outside_count.borrow().as_ref() {
                count.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.wake_if_done();
    }
    /// Takes `count` down by one as each connection goes (it is raised
    /// outside, when a connection is handed to this server).
    pub fn count_into(&self, count: Arc<AtomicUsize>) {
        *self.outside_count.borrow_mut() = Some(count);
    }
    /// Takes the outside count down by one for a connection handed over
    /// that never became one.
    pub fn uncount(&self) {
        if let Some(count) = self.outside_count.borrow().as_ref() {
            count.fetch_sub(1, Ordering::AcqRel);
        }
    }
    /// Runs `f` once, when the server is closed.
    pub fn on_close(&self, f: Box<dyn FnOnce()>) {
        *self.on_close.borrow_mut() = Some(f);
    }
}

/// A protocol factory shared by a server's listeners.
pub type Factory<M> = Rc<dyn Fn() -> AnyStreamProtocol<M>>;

enum State<L> {
    /// Bound, not listening (`start_serving=False`): connects are refused.
    Bound(socket2::Socket),
    Serving(L),
    /// No socket of its own: takes connections another thread accepted
    /// ([`AcceptedSocket`]), a loop group's balanced server.
    Adopting,
    /// Accept hit EMFILE/ENFILE (reported); retrying after a delay.
    Backoff(L),
    /// Accepting again after a back-off, not yet recovered: a batch that
    /// ends without running out of descriptors makes it `Serving` again; one
    /// that runs out again backs off again without a second report, so one
    /// exhaustion is reported once however many retries it takes.
    Retrying(L),
    Closed,
}

impl<L> State<L> {
    /// The listener, while accepting.
    fn accepting(&self) -> Option<&L> {
        match self {
            State::Serving(l) | State::Retrying(l) => Some(l),
            _ => None,
        }
    }
}

/// How a listener accepts one connection: its `accept`, or a stand-in in
/// tests.
type AcceptFn<L> =
    Box<dyn FnMut(&L) -> io::Result<(<L as StreamListener>::Stream, <L as StreamListener>::Peer)>>;

/// One listening socket of a server, TCP or Unix.
pub struct ListenerActor<L: StreamListener, M: 'static> {
    state: State<L>,
    backlog: i32,
    factory: Factory<M>,
    shared: Rc<ServerShared>,
    mailer: Arc<dyn Mailer>,
    local: Option<Address>,
    /// The limits given to every accepted connection's transport.
    limits: StreamLimits,
    /// A Unix server's socket file, removed on close if still ours.
    socket_file: Option<SocketFile>,
    /// TLS for every accepted connection (`create_server(..).ssl(..)`).
    tls: Option<TlsSetup>,
    accept: AcceptFn<L>,
}

/// A listening TCP socket.
pub type TcpListenerActor<M> = ListenerActor<mio::net::TcpListener, M>;
/// A listening Unix stream socket.
pub type UnixListenerActor<M> = ListenerActor<mio::net::UnixListener, M>;

impl<L: StreamListener, M: 'static> std::fmt::Debug for ListenerActor<L, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<L: StreamListener, M: 'static> ListenerActor<L, M> {
    /// Wraps a bound (not yet listening) socket.
    pub fn new(
        socket: socket2::Socket,
        backlog: i32,
        factory: Factory<M>,
        shared: Rc<ServerShared>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        let local = L::local_address(&socket);
        ListenerActor {
            state: State::Bound(socket),
            backlog,
            factory,
            shared,
            mailer,
            local,
            limits: StreamLimits::default(),
            socket_file: None,
            tls: None,
            accept: Box::new(|l| l.accept_stream()),
        }
    }

    /// A listener without a socket: serves the connections another thread
    /// accepted on `local` and sends it as [`AcceptedSocket`] messages (a
    /// loop group's balanced server), as if it had accepted them itself.
    pub fn adopting(
        local: Option<Address>,
        factory: Factory<M>,
        shared: Rc<ServerShared>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        ListenerActor {
            state: State::Adopting,
            backlog: 0,
            factory,
            shared,
            mailer,
            local,
            limits: StreamLimits::default(),
            socket_file: None,
            tls: None,
            accept: Box::new(|_| Err(io::ErrorKind::WouldBlock.into())),
        }
    }

    /// The bound address.
    pub fn local(&self) -> Option<&Address> {
        self.local.as_ref()
    }

    /// Removes this socket file on close if the path still holds it (a Unix
    /// server that bound a path, asyncio 3.13's `cleanup_socket`).
    pub fn with_socket_file(mut self, file: SocketFile) -> Self {
        self.socket_file = Some(file);
        self
    }

    /// Gives every accepted connection's transport these limits (a
    /// write-buffer cap, a close timeout).
    pub fn with_limits(mut self, limits: StreamLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Puts a TLS session on every accepted connection: its protocol gets
    /// `ConnectionMade` once the handshake is done; a failed handshake ends
    /// that connection alone (reported, unless the peer just left or
    /// stalled).
    pub fn with_tls(mut self, tls: Option<TlsSetup>) -> Self {
        self.tls = tls;
        self
    }

    fn start(&mut self, cx: &mut dyn LoopContext) {
        self.shared.note_row(cx.id());
        if matches!(self.state, State::Adopting) {
            self.shared.serving.set(true);
            return;
        }
        let State::Bound(sock) = std::mem::replace(&mut self.state, State::Closed) else {
            return;
        };
        let listening = sock.listen(self.backlog).and_then(|()| {
            sock.set_nonblocking(true)?;
            let mut l = L::from_listening(sock);
            cx.registry()
                .register(&mut l, cx.token_of(cx.id()), mio::Interest::READABLE)?;
            Ok(l)
        });
        match listening {
            Ok(l) => {
                self.state = State::Serving(l);
                self.shared.serving.set(true);
                self.accept_batch(cx);
            }
            Err(e) => cx.report(
                ExceptionContext::new("cannot start serving")
                    .with_exception(Exception::Io(Arc::new(e)))
                    .with_socket(self.describe()),
            ),
        }
    }

    /// Accepts up to `backlog` connections; more wait for the next turn.
    ///
    /// An error that concerns one queued connection (a client that reset
    /// while queued, `ECONNABORTED`, fault scenario 30; or any other kind but
    /// running out of descriptors or memory) skips it and keeps draining, so
    /// the connections behind it are not delayed to the next readiness
    /// event; the first such error of a batch is reported. If no connection
    /// came out of a whole batch, the listener waits for its next readiness
    /// event rather than spin on an error that does not go away.
    fn accept_batch(&mut self, cx: &mut dyn LoopContext) {
        let mut accepted = false;
        let mut reported = false;
        for _ in 0..self.backlog.max(1) {
            let Some(listener) = self.state.accepting() else {
                return;
            };
            match (self.accept)(listener) {
                Ok((stream, _)) => {
                    accepted = true;
                    self.spawn_connection(stream, cx);
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return self.recovered(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => continue,
                    _ if is_resource_exhausted(&e) => return self.back_off(e, cx),
                    _ => {
                        if !reported {
                            reported = true;
                            cx.report(
                                ExceptionContext::new("socket.accept() failed")
                                    .with_exception(Exception::Io(Arc::new(e)))
                                    .with_socket(self.describe()),
                            );
                        }
                    }
                },
            }
        }
        if accepted {
            self.recovered();
            let me = cx.id();
            cx.send(me, Box::new(AcceptMore));
        }
    }

    /// A batch ended without running out of descriptors: a retry after a
    /// back-off has recovered.
    fn recovered(&mut self) {
        if matches!(self.state, State::Retrying(_)) {
            if let State::Retrying(l) = std::mem::replace(&mut self.state, State::Closed) {
                self.state = State::Serving(l);
            }
        }
    }

    /// Out of descriptors (or memory): stop accepting for
    /// [`ACCEPT_RETRY_DELAY`], keeping the listening socket, then retry.
    /// Reported once per exhaustion, not again when a retry finds it still
    /// there (asyncio reports every attempt of the batch).
    fn back_off(&mut self, e: io::Error, cx: &mut dyn LoopContext) {
        let first = match std::mem::replace(&mut self.state, State::Closed) {
            State::Serving(l) => {
                self.state = State::Backoff(l);
                true
            }
            State::Retrying(l) => {
                self.state = State::Backoff(l);
                false
            }
            other => {
                self.state = other;
                return;
            }
        };
        if first {
            cx.report(
                ExceptionContext::new("socket.accept() out of system resource")
                    .with_exception(Exception::Io(Arc::new(e)))
                    .with_socket(self.describe()),
            );
        }
        cx.wake_after(ACCEPT_RETRY_DELAY, TAG_RESUME_ACCEPT);
    }

    fn spawn_connection(&mut self, mut stream: L::Stream, cx: &mut dyn LoopContext) {
        L::configure(&mut stream);
        let id = cx.reserve();
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = cx
            .registry()
            .register(&mut stream, cx.token_of(id), interest)
        {
            // The id will hold no actor: give it back. Dropping the stream
            // closes the connection, so its peer sees the end.
            cx.release(id);
            self.shared.uncount();
            cx.report(
                ExceptionContext::new("cannot register an accepted connection")
                    .with_exception(Exception::Io(Arc::new(e)))
                    .with_socket(self.describe()),
            );
            return;
        }
        let hooks = Hooks {
            on_made: None,
            server: Some(self.shared.clone()),
        };
        let protocol = (self.factory)();
        // No handle to this connection exists outside its protocol: the
        // transport shares no facts, and allocates none.
        let mut transport = SocketTransport::new(stream, id, protocol, self.mailer.clone(), hooks);
        transport.set_limits(self.limits);
        if let Some(setup) = &self.tls {
            if let Err(e) = transport.set_tls(setup.clone()) {
                drop(transport);
                cx.release(id);
                self.shared.uncount();
                self.shared.uncount();
                cx.report(
                    ExceptionContext::new("cannot start tls on an accepted connection")
                        .with_exception(Exception::Error(e.to_string()))
                        .with_socket(self.describe()),
                );
                return;
            }
        }
        let gen = cx.generation(id);
        self.shared.connections.borrow_mut().insert(id, gen);
        self.shared.count_accepted();
        cx.insert(id, Box::new(transport));
        cx.send(id, Box::new(Start));
    }

    fn close(&mut self, cx: &mut dyn LoopContext) {
        // The row goes with this listener: the connections left no longer
        // point at it (its next tenant is someone else).
        self.shared.forget_row(cx.id());
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Serving(mut l) | State::Backoff(mut l) | State::Retrying(mut l) => {
                let _ = cx.registry().deregister(&mut l);
            }
            State::Bound(_) | State::Adopting => {}
            // Closed already: the socket file was dealt with then.
            State::Closed => return self.shared.mark_closed(),
        }
        if let Some(file) = self.socket_file.take() {
            if let Err(e) = file.remove_if_ours() {
                cx.report(
                    ExceptionContext::new(format!(
                        "cannot remove the socket file {}",
                        file.path().display()
                    ))
                    .with_exception(Exception::Io(Arc::new(e)))
                    .with_socket(self.describe()),
                );
            }
        }
        self.shared.mark_closed();
    }
}

#[derive(Debug)]
struct AcceptMore;

/// A connection accepted on another thread, for a listener made with
/// [`ListenerActor::adopting`]; dropped (closing it) if that listener is
/// closed or not serving yet.
#[derive(Debug)]
pub struct AcceptedSocket(pub OwnedFd);

/// True for running out of descriptors or memory (accepting backs off).
pub fn is_resource_exhausted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE | nix::libc::ENOBUFS | nix::libc::ENOMEM)
    )
}

impl<L: StreamListener, M: 'static> LoopActor for ListenerActor<L, M> {
    fn ready(&mut self, _r: Readiness, cx: &mut dyn LoopContext) -> Status {
        self.accept_batch(cx);
        self.status()
    }

    fn timer(&mut self, tag: u64, cx: &mut dyn LoopContext) -> Status {
        if tag == TAG_RESUME_ACCEPT && matches!(self.state, State::Backoff(_)) {
            if let State::Backoff(l) = std::mem::replace(&mut self.state, State::Closed) {
                self.state = State::Retrying(l);
                self.accept_batch(cx);
            }
        }
        self.status()
    }

    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        let msg = match msg.downcast::<AcceptedSocket>() {
            Ok(sock) => {
                if matches!(self.state, State::Adopting) && self.shared.is_serving() {
                    let mut stream = L::stream_from_fd(sock.0);
                    L::configure(&mut stream);
                    self.spawn_connection(stream, cx);
                } else {
                    // Dropped, so closed: it was counted when handed over.
                    self.shared.uncount();
                }
                return self.status();
            }
            Err(msg) => msg,
        };
        if msg.is::<AcceptMore>() {
            self.accept_batch(cx);
        } else if let Some(cmd) = msg.downcast_ref::<ServerCommand>() {
            match cmd {
                ServerCommand::StartServing => self.start(cx),
                ServerCommand::Close => self.close(cx),
                ServerCommand::Drain => {
                    self.accept_batch(cx);
                    self.close(cx);
                }
            }
        }
        self.status()
    }

    fn shutdown(&mut self, cx: &mut dyn LoopContext) {
        self.close(cx);
    }

    fn inspect(&self, info: &mut crate::inspect::ActorInfo) {
        self.inspect_into(info);
    }

    fn describe(&self) -> String {
        let local = self
            .local
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        format!("<{} {local}>", L::KIND)
    }
}

impl<L: StreamListener, M: 'static> ListenerActor<L, M> {
    fn status(&self) -> Status {
        if matches!(self.state, State::Closed) {
            Status::Done
        } else {
            Status::Alive
        }
    }
}

#[cfg(test)]
mod tests;
