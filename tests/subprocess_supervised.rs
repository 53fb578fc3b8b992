//! Child processes under supervisors and the loop's shutdown (switchboard's
//! own, on top of asyncio's subprocess API:
//! <https://docs.python.org/3/library/asyncio-eventloop.html#running-subprocesses>).

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use support::net::until;
use support::{new_loop, run_with_deadline, turns};
use switchboard::prelude::*;
use switchboard::{ChildSpec, Restart};

/// Ignores everything the child does.
struct Quiet;

impl SubprocessProtocol for Quiet {
    fn handle(
        &mut self,
        _: SubprocessEvent,
        _: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError> {
        Ok(())
    }
}

#[test]
fn sv10_a_transient_subprocess_worker_is_spawned_again_only_after_it_crashes() {
    let (lp, handler) = new_loop();
    let spawned = Rc::new(Cell::new(0u32));
    let mut sup = lp
        .supervisor("workers")
        .intensity(5, Duration::from_secs(60));
    let s = spawned.clone();
    let worker = sup.subprocess(
        ChildSpec::new("worker").restart(Restart::Transient),
        move |lp| {
            s.set(s.get() + 1);
            // Crashes twice (exit 3), then ends cleanly.
            let script = if s.get() < 3 { "exit 3" } else { "exit 0" };
            lp.subprocess_shell(|| Quiet, script)
        },
    );
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let tree = sup.await.expect("start");
        until(&l, || spawned.get() == 3 && worker.handle().is_none()).await;
        // Clean exit of a transient child: not spawned again (a restart is
        // decided in the turn that reaps the child, so twenty turns show it).
        turns(20).await;
        assert_eq!(spawned.get(), 3);
        assert!(tree.is_alive(), "two restarts are within the intensity");
    });
    assert!(handler.take().is_empty());
}

#[test]
fn dr2_shutdown_terminates_supervised_processes_and_waits_for_the_others() {
    let (lp, _h) = new_loop();
    let mut sup = lp.supervisor("workers");
    let worker = sup.subprocess(
        ChildSpec::new("sleeper").shutdown(Duration::from_secs(5)),
        |lp| lp.subprocess_exec(|| Quiet, "sleep", ["60"]),
    );
    let l = lp.clone();
    let (report, code) = run_with_deadline(&lp, async move {
        let _tree = sup.await.expect("start");
        until(&l, || worker.handle().is_some()).await;
        let sleeper = worker.handle().expect("running");
        // A child of the loop's own, not supervised: the shutdown waits.
        let other = l
            .subprocess_shell(|| Quiet, "sleep 0.05")
            .await
            .expect("spawn");
        let report = l.shutdown(Duration::from_secs(5)).await;
        assert_eq!(other.get_returncode(), Some(0), "waited for");
        (report, sleeper.get_returncode())
    });
    assert_eq!(report.trees, 1);
    assert_eq!(report.subprocesses, 1);
    assert_eq!(report.subprocesses_running, 0);
    assert_eq!(code, Some(-15), "the supervised sleeper got SIGTERM");
}
