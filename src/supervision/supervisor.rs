//! The supervisor actor: starts its children, restarts them by strategy
//! and policy within its restart intensity, and stops them in reverse start
//! order, each within its deadline.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use switchboard_actors::{LoopActor, LoopContext, Status};
use switchboard_protocols::{ActorId, Exception, ExceptionContext, ExitReason};

use crate::actor::mailbox::StartActor;
use crate::event_loop::{EventLoop, LoopCore};
use crate::supervision::child::{Child, ChildDown, State};
use crate::supervision::error::SupervisorError;
use crate::supervision::intensity::Intensity;
use crate::supervision::spec::{Restart, Strategy};
use crate::supervision::system::System;

/// A supervisor's children and rules; it outlives the supervisor's
/// incarnations (a supervisor restarted by its parent takes it back).
pub(crate) struct Tree {
    pub(crate) name: String,
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) children: Vec<Child>,
}

/// Where a supervised supervisor's tree waits between incarnations.
pub(crate) type TreeSlot = Rc<RefCell<Option<Tree>>>;

impl Tree {
    /// Lets go of every child for good, and of their children.
    pub(crate) fn abandon(&mut self, core: &LoopCore) {
        for c in self.children.iter_mut().rev() {
            c.abandon(core);
        }
    }
}

/// What to do once the children of a plan have stopped.
enum After {
    /// Start these children again, in this order.
    Restart(Vec<usize>),
    /// The supervisor exits with this reason.
    Exit(ExitReason),
}

/// Children being stopped one at a time, last started first.
struct Plan {
    to_stop: VecDeque<usize>,
    /// The child being stopped now, with the timer tag of its deadline.
    current: Option<(usize, u64)>,
    then: After,
}

pub(crate) struct SupervisorActor {
    tree: Option<Tree>,
    slot: TreeSlot,
    me: (ActorId, u64),
    core: Weak<LoopCore>,
    plan: Option<Plan>,
    /// Downs that came while a plan ran, handled after it.
    pending: VecDeque<ChildDown>,
    exit: Option<ExitReason>,
    /// A parent will start it again: rows are kept, not let go of.
    supervised: bool,
    tags: u64,
    /// Why it gave up, for the root's report and `run`'s error.
    failure: Option<SupervisorError>,
}

impl SupervisorActor {
    pub(crate) fn new(
        slot: TreeSlot,
        me: (ActorId, u64),
        core: Weak<LoopCore>,
        supervised: bool,
    ) -> Self {
        let tree = slot.borrow_mut().take();
        SupervisorActor {
            tree,
            slot,
            me,
            core,
            plan: None,
            pending: VecDeque::new(),
            exit: None,
            supervised,
            tags: 0,
            failure: None,
        }
    }

    fn lp(&self) -> Option<EventLoop> {
        self.core.upgrade().map(|core| EventLoop { core })
    }

    fn boot(&mut self, lp: &EventLoop) {
        let me = self.me;
        if let Some(tree) = self.tree.as_mut() {
            for (i, c) in tree.children.iter_mut().enumerate() {
                if c.state == State::Idle {
                    c.start(lp, i, me);
                }
            }
        }
    }

    fn child_down(&mut self, down: ChildDown, lp: &EventLoop, cx: &mut dyn LoopContext) {
        let Some(tree) = self.tree.as_mut() else {
            return;
        };
        let Some(child) = tree.children.get_mut(down.index) else {
            return;
        };
        if child.inc != down.inc || !child.is_live() {
            return; // an older incarnation, or one stopped on purpose
        }
        child.stopped();
        if let Some(plan) = self.plan.as_mut() {
            if plan.current.is_some_and(|(i, _)| i == down.index) {
                plan.current = None;
                self.advance(lp, cx);
            } else if plan.to_stop.contains(&down.index) {
                plan.to_stop.retain(|&i| i != down.index);
            } else {
                self.pending.push_back(down);
            }
            return;
        }
        self.restart(down, lp, cx);
    }

    /// Decides on a child that stopped by itself.
    fn restart(&mut self, down: ChildDown, lp: &EventLoop, cx: &mut dyn LoopContext) {
        let Some(tree) = self.tree.as_mut() else {
            return;
        };
        let i = down.index;
        if lp.core.shutting_down.get() {
            // The loop's shutdown stops every tree: nothing restarts now.
            return;
        }
        let again = match tree.children[i].spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !down.reason.is_clean(),
            Restart::Temporary => false,
        };
        if !again {
            tree.children[i].abandon(&lp.core);
            return;
        }
        if !tree.intensity.allow(lp.core.now_ns()) {
            let err = SupervisorError::GaveUp {
                name: tree.name.clone(),
                max_restarts: tree.intensity.max,
                within: tree.intensity.within,
            };
            let all = (0..tree.children.len()).rev().collect();
            self.failure = Some(err.clone());
            self.plan = Some(Plan {
                to_stop: all,
                current: None,
                then: After::Exit(ExitReason::failed(err.to_string())),
            });
            return self.advance(lp, cx);
        }
        let n = tree.children.len();
        let restart: Vec<usize> = match tree.strategy {
            Strategy::OneForOne => vec![i],
            Strategy::OneForAll => (0..n).collect(),
            Strategy::RestForOne => (i..n).collect(),
        };
        let to_stop = restart.iter().rev().copied().filter(|&j| j != i).collect();
        self.plan = Some(Plan {
            to_stop,
            current: None,
            then: After::Restart(restart),
        });
        self.advance(lp, cx);
    }

    /// Stops the next child of the plan, or, when none is left, does what
    /// comes after.
    fn advance(&mut self, lp: &EventLoop, cx: &mut dyn LoopContext) {
        loop {
            let (Some(plan), Some(tree)) = (self.plan.as_mut(), self.tree.as_mut()) else {
                return;
            };
            if plan.current.is_some() {
                return;
            }
            if let Some(i) = plan.to_stop.pop_front() {
                let child = &mut tree.children[i];
                if child.state != State::Running {
                    continue;
                }
                // Stopped for good, a server drains; stopped for a restart
                // of siblings, it keeps its connections.
                let for_good = matches!(plan.then, After::Exit(_));
                child.request_stop(lp, i, self.me, for_good);
                if child.state == State::Stopping {
                    self.tags += 1;
                    plan.current = Some((i, self.tags));
                    cx.wake_after(child.spec.shutdown, self.tags);
                }
                continue;
            }
            let Some(plan) = self.plan.take() else {
                return;
            };
            match plan.then {
                After::Restart(list) => {
                    let me = self.me;
                    for i in list {
                        let c = &mut tree.children[i];
                        if c.state == State::Idle {
                            c.start(lp, i, me);
                        }
                    }
                    if let Some(down) = self.pending.pop_front() {
                        self.restart(down, lp, cx);
                    }
                }
                After::Exit(reason) => {
                    self.exit = Some(reason);
                    return;
                }
            }
        }
    }

    /// Stops every child, last started first, then exits with `reason`.
    fn stop_all(&mut self, reason: ExitReason, lp: &EventLoop, cx: &mut dyn LoopContext) {
        let Some(tree) = self.tree.as_ref() else {
            self.exit = Some(reason);
            return;
        };
        let all: VecDeque<usize> = (0..tree.children.len()).rev().collect();
        match self.plan.as_mut() {
            Some(plan) => {
                for i in all {
                    if !plan.to_stop.contains(&i) {
                        plan.to_stop.push_back(i);
                    }
                }
                plan.then = After::Exit(reason);
            }
            None => {
                self.plan = Some(Plan {
                    to_stop: all,
                    current: None,
                    then: After::Exit(reason),
                });
            }
        }
        self.pending.clear();
        self.advance(lp, cx);
    }

    /// The supervisor is done: its tree goes back to where its parent will
    /// find it, or, without a parent, its children are let go of.
    fn leave(&mut self) {
        if let Some(mut tree) = self.tree.take() {
            if !self.supervised {
                if let Some(core) = self.core.upgrade() {
                    tree.abandon(&core);
                }
            }
            *self.slot.borrow_mut() = Some(tree);
        }
    }

    fn status(&mut self) -> Status {
        if self.exit.is_some() {
            self.leave();
            if let (false, Some(err), Some(core)) =
                (self.supervised, self.failure.take(), self.core.upgrade())
            {
                // The root gave up: the loop's exception handler hears it,
                // and `run` returns it.
                crate::exception::report(
                    &core,
                    ExceptionContext::new(format!("Exception in supervisor {}", self.me.0))
                        .with_exception(Exception::Error(err.to_string())),
                );
                *core.fatal.borrow_mut() = Some(err);
                core.shared
                    .stopping
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
            Status::Done
        } else {
            Status::Alive
        }
    }
}

impl LoopActor for SupervisorActor {
    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        let Some(lp) = self.lp() else {
            return Status::Alive;
        };
        if msg.is::<StartActor>() {
            self.boot(&lp);
        } else if let Some(down) = msg.downcast_ref::<ChildDown>() {
            let down = ChildDown {
                index: down.index,
                inc: down.inc,
                reason: down.reason.clone(),
            };
            self.child_down(down, &lp, cx);
        } else if let Some(System::Shutdown) = msg.downcast_ref::<System>() {
            self.stop_all(ExitReason::Shutdown, &lp, cx);
        }
        self.status()
    }

    fn timer(&mut self, tag: u64, cx: &mut dyn LoopContext) -> Status {
        let Some(lp) = self.lp() else {
            return Status::Alive;
        };
        let due = self
            .plan
            .as_ref()
            .and_then(|p| p.current)
            .filter(|&(_, t)| t == tag);
        if let (Some((i, _)), Some(tree)) = (due, self.tree.as_mut()) {
            tree.children[i].kill(&lp, ExitReason::Killed);
            if let Some(plan) = self.plan.as_mut() {
                plan.current = None;
            }
            self.advance(&lp, cx);
        }
        self.status()
    }

    fn shutdown(&mut self, _cx: &mut dyn LoopContext) {
        // Killed (or the loop closes): every child goes now, last first.
        if let (Some(lp), Some(tree)) = (self.lp(), self.tree.as_mut()) {
            if !lp.is_closed() {
                for c in tree.children.iter_mut().rev() {
                    if c.is_live() {
                        c.kill(&lp, ExitReason::Killed);
                    }
                }
            }
        }
        self.leave();
    }

    fn exit_reason(&mut self) -> ExitReason {
        self.exit.take().unwrap_or(ExitReason::Normal)
    }

    fn traps_exits(&self) -> bool {
        true
    }

    fn inspect(&self, info: &mut switchboard_actors::inspect::ActorInfo) {
        crate::supervision::inspect::supervisor(
            self.tree.as_ref(),
            self.plan.is_some(),
            self.lp(),
            info,
        );
    }

    fn describe(&self) -> String {
        let name = self.tree.as_ref().map(|t| t.name.as_str()).unwrap_or("-");
        format!("<Supervisor {name} {}>", self.me.0)
    }
}
