//! `EventLoop::supervisor`: a builder that gathers children (each gets its
//! lasting address at once) and starts the tree, and the `Supervisor`
//! handle of a running tree.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use switchboard_protocols::internal::{self, Mailer};
use switchboard_protocols::{ActorExited, ActorId, Addr};

use crate::actor::mailbox::{Mailbox, StartActor};
use crate::actor::{Actor, ActorContext};
use crate::event_loop::{EventLoop, Ready};
use crate::future::LoopFuture;
use crate::net::{CreateServer, NetError, Server};
use crate::routing;
use crate::subprocess::{SpawnSubprocess, SubprocessHandle};
use crate::supervision::child::{Child, Kind, MakeActor, OnAbandon, State};
use crate::supervision::intensity::Intensity;
use crate::supervision::spec::{ChildSpec, Strategy};
use crate::supervision::supervisor::{SupervisorActor, Tree, TreeSlot};
use crate::supervision::system::System;

/// The default restart intensity: at most 3 restarts within 5 seconds.
pub const DEFAULT_INTENSITY: (u32, Duration) = (3, Duration::from_secs(5));

/// The builder [`EventLoop::supervisor`] returns: the strategy and restart
/// intensity as methods, children added with [`actor`](Self::actor),
/// [`server`](Self::server), [`periodic`](Self::periodic) and
/// [`supervisor`](Self::supervisor), in start order. Await it (or call
/// [`start`](Self::start)) to start the tree.
///
/// Each child's address is handed out when the child is added and stays
/// valid across its restarts: messages sent before the tree starts, or
/// while the child restarts, wait for the next incarnation.
///
/// ```
/// use std::time::Duration;
/// use switchboard::prelude::*;
/// use switchboard::Strategy;
///
/// #[derive(Default)]
/// struct Doubler;
/// impl Actor for Doubler {
///     type Message = (u32, ReplyTo<u32>);
///     fn handle(&mut self, (n, reply): Self::Message, _: &mut ActorContext<'_, Self::Message>) {
///         assert!(n != 13, "unlucky input");
///         let _ = reply.send(n * 2);
///     }
/// }
///
/// switchboard::run(|lp: EventLoop| async move {
///     let mut sup = lp.supervisor("workers")
///         .strategy(Strategy::OneForOne)
///         .intensity(5, Duration::from_secs(1));
///     let worker = sup.actor("doubler", Doubler::default);
///     let tree = sup.await?;
///     assert_eq!(worker.call(|r| (21, r)).await?, 42);
///     tree.shutdown().await?;
///     Ok::<(), switchboard::Error>(())
/// })?;
/// # Ok::<(), switchboard::Error>(())
/// ```
#[must_use = "a supervisor does nothing until awaited or started"]
pub struct SupervisorBuilder {
    lp: EventLoop,
    tree: Option<Tree>,
}

impl fmt::Debug for SupervisorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .tree
            .iter()
            .flat_map(|t| t.children.iter().map(|c| c.spec.name.as_str()))
            .collect();
        f.debug_struct("SupervisorBuilder")
            .field("children", &names)
            .finish()
    }
}

impl EventLoop {
    /// A supervisor named `name` (one-for-one, at most 3 restarts in 5
    /// seconds, until changed); see [`SupervisorBuilder`].
    pub fn supervisor(&self, name: impl Into<String>) -> SupervisorBuilder {
        SupervisorBuilder {
            lp: self.clone(),
            tree: Some(Tree {
                name: name.into(),
                strategy: Strategy::OneForOne,
                intensity: Intensity::new(DEFAULT_INTENSITY.0, DEFAULT_INTENSITY.1),
                children: Vec::new(),
            }),
        }
    }
}

impl SupervisorBuilder {
    fn tree(&mut self) -> &mut Tree {
        self.tree.as_mut().expect("the tree is taken only on start")
    }

    /// Which children restart when one of them does.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.tree().strategy = strategy;
        self
    }

    /// At most `max_restarts` restarts within `within`; one more and the
    /// supervisor stops its children and exits failed (escalating to its
    /// parent; at the root, `run` returns the error).
    pub fn intensity(mut self, max_restarts: u32, within: Duration) -> Self {
        self.tree().intensity = Intensity::new(max_restarts, within);
        self
    }

    /// Reserves a lasting row for a child built by `make`.
    fn add_row(
        &mut self,
        spec: ChildSpec,
        make: MakeActor,
        on_abandon: Option<OnAbandon>,
    ) -> (ActorId, u64) {
        let core = &self.lp.core;
        let (id, gen) = routing::reserve_gen(core);
        core.supervised
            .borrow_mut()
            .insert(id.index(), Some(Default::default()));
        self.tree().children.push(Child {
            spec,
            kind: Kind::Actor {
                id,
                gen,
                make,
                on_abandon,
            },
            state: State::Idle,
            inc: 0,
        });
        (id, gen)
    }

    /// Adds an application actor that `factory` builds, once per
    /// incarnation (each restart starts from a fresh value). Returns its
    /// address, valid across restarts.
    pub fn actor<A: Actor>(
        &mut self,
        spec: impl Into<ChildSpec>,
        mut factory: impl FnMut() -> A + 'static,
    ) -> Addr<A::Message> {
        let spec = spec.into();
        let mailer: Arc<dyn Mailer> = Arc::new(self.lp.handle());
        let capacity = spec.mailbox.map(|b| Arc::new(internal::Capacity::new(b)));
        let (m, c) = (mailer.clone(), capacity.clone());
        let address = move |id, gen, mailer: Arc<dyn Mailer>| match &c {
            Some(cap) => internal::bounded_addr(id, gen, mailer, cap.clone()),
            None => internal::addr(id, gen, mailer),
        };
        let addr_of = address.clone();
        let make: MakeActor = Box::new(move |lp, id, gen| {
            let addr = addr_of(id, gen, m.clone());
            Box::new(Mailbox::new(factory(), addr, lp.core.me.clone()))
        });
        let (id, gen) = self.add_row(spec, make, None);
        address(id, gen, mailer)
    }

    /// Adds a periodic timer: `tick` runs every `interval` on the loop
    /// thread. A panic in `tick` is a crash of the child; a restart starts
    /// the ticking again. Returns the timer actor's id.
    pub fn periodic(
        &mut self,
        spec: impl Into<ChildSpec>,
        interval: Duration,
        tick: impl FnMut() + 'static,
    ) -> ActorId {
        let tick: Rc<RefCell<dyn FnMut()>> = Rc::new(RefCell::new(tick));
        let incarnations = Rc::new(Cell::new(0u64));
        self.actor(spec, move || {
            incarnations.set(incarnations.get() + 1);
            Ticker {
                tick: tick.clone(),
                interval,
                inc: incarnations.get(),
            }
        })
        .id()
    }

    /// Adds a TCP server that `make` configures: it must bind numeric
    /// addresses (`.host("127.0.0.1")`, not a name to resolve). When its
    /// listener fails it is re-created on the same address (port 0 picks a
    /// port the first time; restarts keep it); its accepted connections are
    /// actors of their own, which no restart of a sibling drops. When the
    /// tree stops, the server is [drained](Server::drain) within the child's
    /// shutdown deadline, then its connections are aborted.
    ///
    /// Returns a handle on whichever incarnation of the server runs.
    pub fn server<M: Send + 'static>(
        &mut self,
        spec: impl Into<ChildSpec>,
        mut make: impl FnMut(&EventLoop) -> CreateServer<M> + 'static,
    ) -> ServerChild {
        let start = move |lp: &EventLoop, port: Option<u16>| -> crate::Result<Server> {
            let mut builder = make(lp);
            if let Some(p) = port {
                builder = builder.port(p);
            }
            builder.start_now().map_err(Into::into)
        };
        let running = Rc::new(RefCell::new(None));
        self.tree().children.push(Child {
            spec: spec.into(),
            kind: Kind::Server {
                make: Box::new(start),
                running: running.clone(),
                port: None,
                draining: None,
            },
            state: State::Idle,
            inc: 0,
        });
        ServerChild { running }
    }

    /// Adds a child process that `make` spawns (again on each restart). It
    /// counts as stopped when the process exits: `Normal` with return code
    /// 0, failed otherwise (so a [`Transient`](crate::Restart::Transient)
    /// worker is spawned again only after a crash). Asked to stop, it gets
    /// SIGTERM, and SIGKILL at its shutdown deadline. Returns a handle on
    /// whichever process runs.
    pub fn subprocess(
        &mut self,
        spec: impl Into<ChildSpec>,
        make: impl FnMut(&EventLoop) -> SpawnSubprocess + 'static,
    ) -> SubprocessChild {
        let running = Rc::new(RefCell::new(None));
        self.tree().children.push(Child {
            spec: spec.into(),
            kind: Kind::Subprocess {
                make: Box::new(make),
                running: running.clone(),
            },
            state: State::Idle,
            inc: 0,
        });
        SubprocessChild { running }
    }

    /// Adds a supervisor as a child: its failure (giving up) is a crash of
    /// the child, handled by this supervisor's strategy and intensity; a
    /// restart starts its children again, on their same addresses.
    pub fn supervisor(
        &mut self,
        spec: impl Into<ChildSpec>,
        mut child: SupervisorBuilder,
    ) -> ActorId {
        let slot: TreeSlot = Rc::new(RefCell::new(child.tree.take()));
        let s = slot.clone();
        let make: MakeActor = Box::new(move |lp, id, gen| {
            Box::new(SupervisorActor::new(
                s.clone(),
                (id, gen),
                lp.core.me.clone(),
                true,
            ))
        });
        let s = slot;
        let on_abandon = Box::new(move |core: &crate::event_loop::LoopCore| {
            if let Some(mut tree) = s.borrow_mut().take() {
                tree.abandon(core);
            }
        });
        self.add_row(spec.into(), make, Some(on_abandon)).0
    }

    /// Starts the tree: children start at once, in the order they were
    /// added (servers listen, actors have run `started`). A failure of the root supervisor (it gave up) goes to
    /// the exception handler, stops the loop, and makes
    /// [`run`](crate::run) return it.
    pub fn start(mut self) -> crate::Result<Supervisor> {
        let lp = self.lp.clone();
        lp.core.check_open()?;
        let tree = self.tree.take().expect("started once");
        let name = tree.name.clone();
        let (id, gen) = routing::reserve_gen(&lp.core);
        let slot: TreeSlot = Rc::new(RefCell::new(Some(tree)));
        let actor = SupervisorActor::new(slot, (id, gen), lp.core.me.clone(), false);
        routing::insert(&lp.core, id, Box::new(actor));
        // Children start now, in order: once `start` returns, servers
        // listen and actors have run `started`.
        routing::dispatch_message(&lp.core, id, Some(gen), Box::new(StartActor));
        {
            let mut roots = lp.core.roots.borrow_mut();
            roots.retain(|&(id, gen)| crate::supervision::monitor::is_live(&lp.core, id, gen));
            roots.push((id, gen));
        }
        Ok(Supervisor { lp, id, gen, name })
    }
}

impl IntoFuture for SupervisorBuilder {
    type Output = crate::Result<Supervisor>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(std::future::ready(self.start()))
    }
}

impl Drop for SupervisorBuilder {
    fn drop(&mut self) {
        // Never started: the reserved rows are let go of.
        if let Some(mut tree) = self.tree.take() {
            if !self.lp.is_closed() {
                tree.abandon(&self.lp.core);
            }
        }
    }
}

/// A server child of a supervisor: the incarnation that runs now.
#[derive(Clone)]
pub struct ServerChild {
    running: Rc<RefCell<Option<Server>>>,
}

impl ServerChild {
    /// The server while it runs (`None` before the tree starts, while it
    /// restarts, and once stopped).
    pub fn server(&self) -> Option<Server> {
        self.running.borrow().clone()
    }

    /// The bound addresses of the running server (empty if none runs).
    pub fn sockets(&self) -> Vec<std::net::SocketAddr> {
        self.server().map(|s| s.sockets()).unwrap_or_default()
    }
}

impl fmt::Debug for ServerChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerChild")
            .field("sockets", &self.sockets())
            .finish()
    }
}

/// A subprocess child of a supervisor: the process that runs now.
#[derive(Clone)]
pub struct SubprocessChild {
    running: Rc<RefCell<Option<SubprocessHandle>>>,
}

impl SubprocessChild {
    /// The running process (`None` before it started, between two, and
    /// once stopped).
    pub fn handle(&self) -> Option<SubprocessHandle> {
        self.running.borrow().clone()
    }
}

impl fmt::Debug for SubprocessChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pid = self.handle().map(|h| h.get_pid());
        f.debug_struct("SubprocessChild")
            .field("pid", &pid)
            .finish()
    }
}

/// A running supervision tree (its root supervisor).
#[derive(Clone)]
pub struct Supervisor {
    lp: EventLoop,
    id: ActorId,
    gen: u64,
    name: String,
}

impl Supervisor {
    /// The root supervisor's actor id.
    pub fn id(&self) -> ActorId {
        self.id
    }

    /// True until the tree has stopped.
    pub fn is_alive(&self) -> bool {
        crate::supervision::monitor::is_live(&self.lp.core, self.id, self.gen)
    }

    /// Resolves when the root supervisor exits: `Shutdown` after
    /// [`shutdown`](Self::shutdown), failed if it gave up.
    pub fn exited(&self) -> LoopFuture<ActorExited> {
        let fut = self.lp.create_future();
        let f = fut.clone();
        crate::supervision::monitor::watch(&self.lp.core, self.id, self.gen, |token| {
            crate::supervision::watchers::Watcher::Future { token, fut: f }
        });
        fut
    }

    /// Stops the tree: children in reverse start order, each asked first
    /// and killed once its shutdown deadline passes (nested supervisors
    /// stop theirs the same way). Resolves once the root has exited.
    pub fn shutdown(&self) -> LoopFuture<ActorExited> {
        let exited = self.exited();
        if self.is_alive() {
            self.lp.core.ready.borrow_mut().push_back(Ready::DeliverTo(
                self.id,
                self.gen,
                Box::new(System::Shutdown),
            ));
        }
        exited
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Supervisor {} {}>", self.name, self.id)
    }
}

/// The periodic timer child: `tick` every `interval`, from the first
/// message of its incarnation on.
struct Ticker {
    tick: Rc<RefCell<dyn FnMut()>>,
    interval: Duration,
    inc: u64,
}

/// A tick for incarnation `.0` of a periodic timer.
struct Tick(u64);

impl Actor for Ticker {
    type Message = Tick;
    fn started(&mut self, ctx: &mut ActorContext<'_, Tick>) {
        ctx.send_later(Tick(self.inc), self.interval);
    }
    fn handle(&mut self, Tick(inc): Tick, ctx: &mut ActorContext<'_, Tick>) {
        if inc == self.inc {
            (self.tick.borrow_mut())();
            ctx.send_later(Tick(self.inc), self.interval);
        }
    }
}

impl<M: Send + 'static> CreateServer<M> {
    /// Starts the server at once, without awaiting: only for numeric hosts
    /// (or a `sock`), which need no resolver.
    pub(crate) fn start_now(self) -> Result<Server, NetError> {
        let mut fut = self.into_future();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => Err(NetError::InvalidArgs(
                "a supervised server binds numeric addresses only",
            )),
        }
    }
}
