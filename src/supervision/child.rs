//! A supervisor's children: how each one is started again, stopped and let
//! go of.

use std::rc::Rc;

use switchboard_actors::LoopActor;
use switchboard_protocols::{ActorExited, ActorId, Exception, ExceptionContext, ExitReason};

use crate::event_loop::{EventLoop, LoopCore, Ready};
use crate::net::{Drain, Server};
use crate::routing;
use crate::subprocess::{SpawnSubprocess, SubprocessHandle};
use crate::supervision::rows;
use crate::supervision::spec::ChildSpec;
use crate::supervision::system::System;
use crate::supervision::watchers::Watcher;

/// Builds the next incarnation of an actor child for its kept row.
pub(crate) type MakeActor = Box<dyn FnMut(&EventLoop, ActorId, u64) -> Box<dyn LoopActor>>;
/// Builds the spawn of a subprocess child.
pub(crate) type MakeSubprocess = Box<dyn FnMut(&EventLoop) -> SpawnSubprocess>;
/// Runs when an actor child's row is let go of for good.
pub(crate) type OnAbandon = Box<dyn FnMut(&LoopCore)>;
/// Starts a server child; `Some(port)` after the first start, to re-create
/// it on the same address.
pub(crate) type MakeServer = Box<dyn FnMut(&EventLoop, Option<u16>) -> crate::Result<Server>>;

pub(crate) enum Kind {
    /// An actor (application actor, periodic timer, supervisor) in a row
    /// kept across incarnations, so its address stays valid.
    Actor {
        id: ActorId,
        gen: u64,
        make: MakeActor,
        /// Runs when the row is let go of for good (a supervisor child lets
        /// go of its own children).
        on_abandon: Option<OnAbandon>,
    },
    /// A child process, spawned again when it exits (for a transient
    /// child: with a non-zero return code or by a signal).
    Subprocess {
        make: MakeSubprocess,
        running: Rc<std::cell::RefCell<Option<SubprocessHandle>>>,
    },
    /// A server, re-created on its address.
    Server {
        make: MakeServer,
        running: Rc<std::cell::RefCell<Option<Server>>>,
        port: Option<u16>,
        /// The drain of a server being stopped for good.
        draining: Option<Drain>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Not running (never started, stopped, or waiting for a restart).
    Idle,
    Running,
    /// Asked to stop; killed when its deadline passes.
    Stopping,
    /// A temporary (or clean transient) child that stopped: let go of.
    Gone,
}

pub(crate) struct Child {
    pub(crate) spec: ChildSpec,
    pub(crate) kind: Kind,
    pub(crate) state: State,
    /// Counts incarnations, so that news of an older one is ignored.
    pub(crate) inc: u64,
}

/// A child stopped: sent to its supervisor by the child's exit hook.
#[derive(Debug)]
pub(crate) struct ChildDown {
    pub(crate) index: usize,
    pub(crate) inc: u64,
    pub(crate) reason: ExitReason,
}

impl Child {
    pub(crate) fn is_live(&self) -> bool {
        matches!(self.state, State::Running | State::Stopping)
    }

    /// Starts a new incarnation; news of its end goes to supervisor `sup`
    /// as a [`ChildDown`] for child `index`.
    pub(crate) fn start(&mut self, lp: &EventLoop, index: usize, sup: (ActorId, u64)) {
        self.inc += 1;
        self.state = State::Running;
        let inc = self.inc;
        let core = &lp.core;
        let me = core.me.clone();
        let hook = move |e: &ActorExited| {
            if let Some(core) = me.upgrade() {
                let down = ChildDown {
                    index,
                    inc,
                    reason: e.reason.clone(),
                };
                core.ready
                    .borrow_mut()
                    .push_back(Ready::DeliverTo(sup.0, sup.1, Box::new(down)));
            }
        };
        match &mut self.kind {
            Kind::Actor { id, gen, make, .. } => {
                let (id, gen) = (*id, *gen);
                let built =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make(lp, id, gen)));
                match built {
                    Ok(actor) => {
                        let token = core.watchers.borrow_mut().token();
                        core.watchers.borrow_mut().add(
                            id.index(),
                            gen,
                            Watcher::Hook {
                                token,
                                f: Box::new(hook),
                            },
                        );
                        rows::reinstall(core, id, actor);
                        // `started` runs now, so children start in order
                        // (and before the messages held for them).
                        routing::dispatch_message(
                            core,
                            id,
                            Some(gen),
                            Box::new(crate::actor::mailbox::StartActor),
                        );
                    }
                    Err(payload) => {
                        let message = routing::panic_message(&*payload);
                        self.start_failed(lp, message, hook);
                    }
                }
            }
            Kind::Subprocess { make, running } => {
                let spawn = make(lp);
                let running = running.clone();
                let name = self.spec.name.clone();
                let l = lp.clone();
                let watch = async move {
                    let (id, reason) = match spawn.await {
                        Ok(child) => {
                            *running.borrow_mut() = Some(child.clone());
                            let code = child.wait().await;
                            running.borrow_mut().take();
                            let reason = match code {
                                Ok(0) => ExitReason::Normal,
                                Ok(c) => ExitReason::failed(format!("exited with returncode {c}")),
                                Err(e) => ExitReason::failed(e.to_string()),
                            };
                            (child.id(), reason)
                        }
                        Err(e) => {
                            l.call_exception_handler(
                                ExceptionContext::new(format!("cannot start child {name}"))
                                    .with_exception(Exception::Error(e.to_string())),
                            );
                            let id = switchboard_protocols::internal::actor_id(usize::MAX);
                            (id, ExitReason::failed(e.to_string()))
                        }
                    };
                    hook(&ActorExited { id, reason });
                };
                if lp.create_task(watch).is_err() {
                    self.state = State::Idle;
                }
            }
            Kind::Server {
                make,
                running,
                port,
                ..
            } => match make(lp, *port) {
                Ok(server) => {
                    if port.is_none() {
                        *port = server.sockets().first().map(|a| a.port());
                    }
                    let hook = Rc::new(std::cell::RefCell::new(Some(hook)));
                    for (id, gen) in server.listener_rows() {
                        let h = hook.clone();
                        let token = core.watchers.borrow_mut().token();
                        core.watchers.borrow_mut().add(
                            id.index(),
                            gen,
                            Watcher::Hook {
                                token,
                                f: Box::new(move |e| {
                                    if let Some(f) = h.borrow_mut().take() {
                                        f(e);
                                    }
                                }),
                            },
                        );
                    }
                    *running.borrow_mut() = Some(server);
                }
                Err(e) => self.start_failed(lp, e.to_string(), hook),
            },
        }
    }

    fn start_failed(&mut self, lp: &EventLoop, message: String, hook: impl FnOnce(&ActorExited)) {
        lp.call_exception_handler(
            ExceptionContext::new(format!("cannot start child {}", self.spec.name))
                .with_exception(Exception::Error(message.clone())),
        );
        let id = match &self.kind {
            Kind::Actor { id, .. } => *id,
            _ => switchboard_protocols::internal::actor_id(usize::MAX),
        };
        hook(&ActorExited {
            id,
            reason: ExitReason::failed(message),
        });
    }

    /// Asks the child to stop (an actor gets its shutdown request, behind
    /// the messages sent before; a child process gets SIGTERM). A server
    /// stops listening; stopped for good (`drain`), it also drains its
    /// connections until its deadline, and is down once they are all gone;
    /// stopped to be restarted with a sibling, its connections stay.
    pub(crate) fn request_stop(
        &mut self,
        lp: &EventLoop,
        index: usize,
        sup: (ActorId, u64),
        drain: bool,
    ) {
        self.state = State::Stopping;
        if let Kind::Server {
            running, draining, ..
        } = &mut self.kind
        {
            let Some(server) = running.borrow_mut().take() else {
                return;
            };
            if !drain {
                server.close();
                return;
            }
            // The listener's own exit is not the end now: the drain is.
            self.inc += 1;
            let inc = self.inc;
            let d = server.drain(self.spec.shutdown);
            *draining = Some(d.clone());
            let me = lp.core.me.clone();
            let _ = lp.create_task(async move {
                d.await;
                if let Some(core) = me.upgrade() {
                    let down = ChildDown {
                        index,
                        inc,
                        reason: ExitReason::Shutdown,
                    };
                    core.ready.borrow_mut().push_back(Ready::DeliverTo(
                        sup.0,
                        sup.1,
                        Box::new(down),
                    ));
                }
            });
            return;
        }
        match &mut self.kind {
            Kind::Actor { id, gen, .. } => lp.core.ready.borrow_mut().push_back(Ready::DeliverTo(
                *id,
                *gen,
                Box::new(System::Shutdown),
            )),
            Kind::Server { .. } => {}
            Kind::Subprocess { running, .. } => {
                if let Some(child) = running.borrow().as_ref() {
                    let _ = child.terminate();
                }
            }
        }
    }

    /// Stops the child now.
    pub(crate) fn kill(&mut self, lp: &EventLoop, reason: ExitReason) {
        self.state = State::Idle;
        match &mut self.kind {
            Kind::Actor { id, gen, .. } => routing::kill(&lp.core, *id, Some(*gen), reason),
            Kind::Server {
                running, draining, ..
            } => {
                if let Some(s) = running.borrow_mut().take() {
                    s.close();
                    s.abort_clients();
                }
                if let Some(d) = draining.take() {
                    d.abort_now();
                }
            }
            Kind::Subprocess { running, .. } => {
                if let Some(child) = running.borrow().as_ref() {
                    let _ = child.kill();
                }
            }
        }
    }

    /// The child stopped on its own: what is left of it goes (a server's
    /// other listeners).
    pub(crate) fn stopped(&mut self) {
        self.state = State::Idle;
        if let Kind::Server {
            running, draining, ..
        } = &mut self.kind
        {
            if let Some(s) = running.borrow_mut().take() {
                s.close();
            }
            *draining = None;
        }
    }

    /// Lets go of the child for good: its address refuses from now on.
    pub(crate) fn abandon(&mut self, core: &LoopCore) {
        self.state = State::Gone;
        if let Kind::Actor { id, on_abandon, .. } = &mut self.kind {
            rows::abandon(core, *id);
            if let Some(f) = on_abandon.as_mut() {
                f(core);
            }
        }
    }
}
