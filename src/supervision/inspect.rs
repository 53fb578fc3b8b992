//! What introspection shows of a supervisor: its strategy, intensity,
//! restarts and children, each with the row of its running incarnation.

use switchboard_actors::inspect::{ActorInfo, ActorKind, ChildInfo, SupervisorInfo};

use crate::event_loop::EventLoop;
use crate::supervision::child::{Child, Kind, State};
use crate::supervision::spec::Strategy;
use crate::supervision::supervisor::Tree;

/// Fills in a supervisor's figures (`stopping`: it is stopping children).
pub(crate) fn supervisor(
    tree: Option<&Tree>,
    stopping: bool,
    lp: Option<EventLoop>,
    info: &mut ActorInfo,
) {
    info.kind = ActorKind::Supervisor;
    info.state = if stopping { "restarting" } else { "running" }.into();
    let Some(tree) = tree else {
        info.state = "stopped".into();
        return;
    };
    if info.name.is_none() {
        info.name = Some(tree.name.clone());
    }
    let now = lp.map_or(0, |lp| lp.core.now_ns());
    info.supervisor = Some(Box::new(SupervisorInfo {
        strategy: match tree.strategy {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        }
        .into(),
        max_restarts: tree.intensity.max,
        within_seconds: tree.intensity.within.as_secs_f64(),
        restarts_in_window: tree.intensity.in_window(now),
        restarts_total: tree.intensity.total(),
        children: tree.children.iter().map(child).collect(),
    }));
}

fn child(c: &Child) -> ChildInfo {
    let live = matches!(c.state, State::Running | State::Stopping);
    let actor = match &c.kind {
        Kind::Actor { id, .. } => live.then_some(id.index()),
        Kind::Subprocess { running, .. } => running.borrow().as_ref().map(|h| h.id().index()),
        Kind::Server { running, .. } => running.borrow().as_ref().and_then(|s| s.first_row()),
    };
    ChildInfo {
        name: c.spec.name.clone(),
        actor,
        restarts: c.inc.saturating_sub(1),
    }
}
