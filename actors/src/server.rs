//! The listening-socket actor behind asyncio's `Server`: accepts in batches,
//! spawns a transport actor per connection, backs off on EMFILE.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use switchboard_protocols::internal::Mailer;
use switchboard_protocols::{ActorId, Address, AnyStreamProtocol, Exception, ExceptionContext};

use crate::context::{LoopActor, LoopContext, Readiness, Status};
use crate::stream::{Hooks, Start, StreamLimits, TcpTransport};

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
}

/// What a server's listener actors and its `Server` handle share: serving
/// state, live connections, and the waiters of `wait_closed`.
#[derive(Debug, Default)]
pub struct ServerShared {
    serving: Cell<bool>,
    closed: Cell<bool>,
    connections: RefCell<Vec<ActorId>>,
    waiters: RefCell<Vec<Waker>>,
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
        self.wake_if_done();
    }
    /// Ids of the live connections.
    pub fn connections(&self) -> Vec<ActorId> {
        self.connections.borrow().clone()
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
    fn remove(&self, id: ActorId) {
        self.connections.borrow_mut().retain(|c| *c != id);
        self.wake_if_done();
    }
}

/// A protocol factory shared by a server's listeners.
pub type Factory<M> = Rc<dyn Fn() -> AnyStreamProtocol<M>>;

enum State {
    /// Bound, not listening (`start_serving=False`): connects are refused.
    Bound(socket2::Socket),
    Serving(mio::net::TcpListener),
    /// Accept hit EMFILE/ENFILE; retrying after a delay.
    Backoff(mio::net::TcpListener),
    Closed,
}

/// One listening TCP socket of a server.
pub struct TcpListenerActor<M: 'static> {
    state: State,
    backlog: i32,
    factory: Factory<M>,
    shared: Rc<ServerShared>,
    mailer: Arc<dyn Mailer>,
    local: Option<Address>,
    /// A connection's transport calls this with its info once made (for
    /// introspection and `close_clients`).
    nodelay: bool,
    /// Opt-in limits given to every accepted connection's transport.
    limits: StreamLimits,
}

impl<M: 'static> std::fmt::Debug for TcpListenerActor<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl<M: 'static> TcpListenerActor<M> {
    /// Wraps a bound (not yet listening) socket.
    pub fn new(
        socket: socket2::Socket,
        backlog: i32,
        factory: Factory<M>,
        shared: Rc<ServerShared>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        let local = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(Address::Inet);
        TcpListenerActor {
            state: State::Bound(socket),
            backlog,
            factory,
            shared,
            mailer,
            local,
            nodelay: true,
            limits: StreamLimits::default(),
        }
    }

    /// Gives every accepted connection's transport these opt-in limits (a
    /// write-buffer cap, a close timeout).
    pub fn with_limits(mut self, limits: StreamLimits) -> Self {
        self.limits = limits;
        self
    }

    fn start(&mut self, cx: &mut dyn LoopContext) {
        let State::Bound(sock) = std::mem::replace(&mut self.state, State::Closed) else {
            return;
        };
        let listening = sock.listen(self.backlog).and_then(|()| {
            sock.set_nonblocking(true)?;
            let mut l = mio::net::TcpListener::from_std(std::net::TcpListener::from(sock));
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
    fn accept_batch(&mut self, cx: &mut dyn LoopContext) {
        for _ in 0..self.backlog.max(1) {
            let State::Serving(listener) = &self.state else {
                return;
            };
            match listener.accept() {
                Ok((stream, _)) => self.spawn_connection(stream, cx),
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    // A client that reset while queued: skip it, keep draining.
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => continue,
                    _ if is_resource_exhausted(&e) => return self.back_off(e, cx),
                    _ => {
                        cx.report(
                            ExceptionContext::new("socket.accept() failed")
                                .with_exception(Exception::Io(Arc::new(e)))
                                .with_socket(self.describe()),
                        );
                        return;
                    }
                },
            }
        }
        let me = cx.id();
        cx.send(me, Box::new(AcceptMore));
    }

    fn back_off(&mut self, e: io::Error, cx: &mut dyn LoopContext) {
        cx.report(
            ExceptionContext::new("socket.accept() out of system resource")
                .with_exception(Exception::Io(Arc::new(e)))
                .with_socket(self.describe()),
        );
        if let State::Serving(l) = std::mem::replace(&mut self.state, State::Closed) {
            self.state = State::Backoff(l);
            cx.wake_after(ACCEPT_RETRY_DELAY, TAG_RESUME_ACCEPT);
        }
    }

    fn spawn_connection(&mut self, mut stream: mio::net::TcpStream, cx: &mut dyn LoopContext) {
        if self.nodelay {
            let _ = stream.set_nodelay(true);
        }
        let id = cx.reserve();
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = cx
            .registry()
            .register(&mut stream, cx.token_of(id), interest)
        {
            cx.report(
                ExceptionContext::new("cannot register an accepted connection")
                    .with_exception(Exception::Io(Arc::new(e))),
            );
            return;
        }
        let shared = self.shared.clone();
        let hooks = Hooks {
            on_made: None,
            on_lost: Some(Box::new(move || shared.remove(id))),
        };
        let protocol = (self.factory)();
        let (mut transport, _info) =
            TcpTransport::new(stream, id, protocol, self.mailer.clone(), hooks);
        transport.set_limits(self.limits);
        self.shared.connections.borrow_mut().push(id);
        cx.insert(id, Box::new(transport));
        cx.send(id, Box::new(Start));
    }

    fn close(&mut self, cx: &mut dyn LoopContext) {
        if let State::Serving(mut l) | State::Backoff(mut l) =
            std::mem::replace(&mut self.state, State::Closed)
        {
            let _ = cx.registry().deregister(&mut l);
        }
        self.shared.mark_closed();
    }
}

#[derive(Debug)]
struct AcceptMore;

fn is_resource_exhausted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE | nix::libc::ENOBUFS | nix::libc::ENOMEM)
    )
}

impl<M: 'static> LoopActor for TcpListenerActor<M> {
    fn ready(&mut self, _r: Readiness, cx: &mut dyn LoopContext) -> Status {
        self.accept_batch(cx);
        self.status()
    }

    fn timer(&mut self, tag: u64, cx: &mut dyn LoopContext) -> Status {
        if tag == TAG_RESUME_ACCEPT {
            if let State::Backoff(l) = std::mem::replace(&mut self.state, State::Closed) {
                self.state = State::Serving(l);
                self.accept_batch(cx);
            }
        }
        self.status()
    }

    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        if msg.is::<AcceptMore>() {
            self.accept_batch(cx);
        } else if let Some(cmd) = msg.downcast_ref::<ServerCommand>() {
            match cmd {
                ServerCommand::StartServing => self.start(cx),
                ServerCommand::Close => self.close(cx),
            }
        }
        self.status()
    }

    fn shutdown(&mut self, cx: &mut dyn LoopContext) {
        self.close(cx);
    }

    fn describe(&self) -> String {
        let local = self
            .local
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        format!("<TcpListener {local}>")
    }
}

impl<M: 'static> TcpListenerActor<M> {
    fn status(&self) -> Status {
        if matches!(self.state, State::Closed) {
            Status::Done
        } else {
            Status::Alive
        }
    }
}
