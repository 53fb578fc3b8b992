//! Unix signals: `add_signal_handler`, `remove_signal_handler`, and actors
//! subscribed to signals.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#unix-signals>
//!
//! Ids refer to docs/behavior.md: SG1 a handler runs on the loop thread and
//! wakes a blocked loop, SG2 arguments are checked, SG3 removal reports
//! whether there was a handler and restores the previous disposition, SG4 a
//! burst runs the handler after the last signal (fault 14), SG5 every loop
//! gets a signal (fault 15).
//!
//! Signals are process-wide: the first tests use a signal each and hold
//! [`SERIAL`]; the later ones run alone in a child process.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{raise, Signal as NixSignal};
use switchboard::{new_event_loop, Signal, SignalError};

static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn sg1_handler_runs_on_loop_thread_and_wakes_blocked_loop() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (lp, _z4) = support::new_loop();
    let caught = Rc::new(Cell::new(0));
    let loop_thread = std::thread::current().id();
    let handle = lp.handle();
    let c = caught.clone();
    lp.add_signal_handler(Signal::SIGUSR1, move || {
        assert_eq!(std::thread::current().id(), loop_thread);
        c.set(c.get() + 1);
        handle.stop();
    })
    .unwrap();
    // Raised from another thread while the loop sleeps in poll for a long time.
    let _far = lp
        .call_later(30.0, || panic!("the signal did not wake the loop"))
        .unwrap();
    let raiser = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(100));
        nix::sys::signal::kill(nix::unistd::getpid(), NixSignal::SIGUSR1).unwrap();
    });
    let started = Instant::now();
    lp.run_forever().unwrap();
    raiser.join().unwrap();
    assert_eq!(caught.get(), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(lp.remove_signal_handler(Signal::SIGUSR1).unwrap());
    lp.close().unwrap();
}

#[test]
fn sg1_raise_before_run_is_delivered_through_the_queue() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (lp, _z4) = support::new_loop();
    let caught = Rc::new(Cell::new(0));
    let c = caught.clone();
    lp.add_signal_handler(Signal::SIGUSR2, move || c.set(c.get() + 1))
        .unwrap();
    raise(NixSignal::SIGUSR2).unwrap();
    // The handler only wrote a byte; nothing ran yet.
    assert_eq!(caught.get(), 0);
    let handle = lp.handle();
    lp.call_later(0.2, move || handle.stop()).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(caught.get(), 1);
    assert!(!is_default(NixSignal::SIGUSR2), "the handler is installed");
    lp.close().unwrap();
    // Closing removed the handler, which restored SIG_DFL, and the closed loop
    // reports it has none.
    assert!(
        is_default(NixSignal::SIGUSR2),
        "close left the handler installed"
    );
    assert!(!lp.remove_signal_handler(Signal::SIGUSR2).unwrap());
}

/// Whether `sig`'s disposition is `SIG_DFL`. `sigaction` can only be read by
/// writing, so this sets `SIG_DFL` and puts the old action back.
fn is_default(sig: NixSignal) -> bool {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_DFL and the action just read back are valid dispositions,
    // and the test holds SERIAL, so no other test changes this signal meanwhile.
    let old = unsafe { sigaction(sig, &dfl) }.expect("read the disposition");
    let default = matches!(old.handler(), SigHandler::SigDfl);
    unsafe { sigaction(sig, &old) }.expect("restore the disposition");
    default
}

#[test]
fn sg2_arguments_are_checked() {
    // Numbers are checked where they become a `Signal`.
    for n in [0, -1, 65, 1000] {
        let err = Signal::try_from(n).unwrap_err();
        assert!(
            matches!(err, SignalError::InvalidSignal(s) if s == n),
            "{err:?}"
        );
        assert!(err.to_string().contains(&n.to_string()));
    }
    assert_eq!(Signal::try_from(libc_sigterm()).unwrap(), Signal::SIGTERM);
    assert_eq!(Signal::SIGTERM.number(), libc_sigterm());
    assert_eq!(Signal::SIGTERM.name(), "SIGTERM");

    let (lp, _z4) = support::new_loop();
    for sig in [Signal::SIGKILL, Signal::SIGSTOP] {
        let err = lp.add_signal_handler(sig, || {}).unwrap_err();
        assert!(
            matches!(err, SignalError::Uncatchable(s) if s == sig),
            "{err:?}"
        );
        assert_eq!(err.to_string(), format!("{} cannot be caught", sig.name()));
    }
    lp.close().unwrap();
    assert!(matches!(
        lp.add_signal_handler(Signal::SIGWINCH, || {}),
        Err(SignalError::Closed)
    ));
}

#[test]
fn sg3_remove_returns_whether_there_was_a_handler() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (lp, _z4) = support::new_loop();
    assert!(!lp.remove_signal_handler(Signal::SIGHUP).unwrap());
    lp.add_signal_handler(Signal::SIGHUP, || {}).unwrap();
    assert!(lp.remove_signal_handler(Signal::SIGHUP).unwrap());
    assert!(!lp.remove_signal_handler(Signal::SIGHUP).unwrap());
    lp.close().unwrap();
}

#[test]
fn sg3_handler_removed_inside_a_handler_receives_nothing_more() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (lp, _z4) = support::new_loop();
    let lp = Rc::new(lp);
    let caught = Rc::new(Cell::new(0));
    let (c, l) = (caught.clone(), Rc::downgrade(&lp));
    lp.add_signal_handler(Signal::SIGALRM, move || {
        c.set(c.get() + 1);
        if let Some(lp) = l.upgrade() {
            assert!(lp.remove_signal_handler(Signal::SIGALRM).unwrap());
        }
    })
    .unwrap();
    // Two signals queued before the loop runs: two bytes, one delivery.
    raise(NixSignal::SIGALRM).unwrap();
    raise(NixSignal::SIGALRM).unwrap();
    let handle = lp.handle();
    lp.call_later(0.2, move || handle.stop()).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(caught.get(), 1);
    lp.close().unwrap();
}

fn libc_sigterm() -> i32 {
    nix::libc::SIGTERM
}

// ---- In child processes (SG3–SG5, faults 14 and 15, subscriptions) -------------------
//
// Each re-runs itself alone in a child process (`support::net::run_alone`),
// so dispositions it changes and signals it sends cannot reach the runner.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
use support::net::{is_alone_child, run_alone};

/// The disposition of `sig` now (read without changing it).
fn disposition(sig: NixSignal) -> SigHandler {
    let probe = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_DFL installs no code; the old action is put straight back.
    let old = unsafe { sigaction(sig, &probe) }.unwrap();
    // SAFETY: `old` is what was installed a moment ago.
    unsafe { sigaction(sig, &old) }.unwrap();
    old.handler()
}

#[test]
fn sg3_the_last_handler_gone_restores_the_previous_disposition() {
    if !is_alone_child() {
        return run_alone(
            "sg3_the_last_handler_gone_restores_the_previous_disposition",
            "SG3-OK",
        );
    }
    // SAFETY: SIG_IGN installs no code.
    unsafe { nix::sys::signal::signal(NixSignal::SIGUSR1, SigHandler::SigIgn) }.unwrap();
    let (a, _za) = support::new_loop();
    let (b, _zb) = support::new_loop();
    a.add_signal_handler(Signal::SIGUSR1, || {}).unwrap();
    b.add_signal_handler(Signal::SIGUSR1, || {}).unwrap();
    assert!(matches!(
        disposition(NixSignal::SIGUSR1),
        SigHandler::Handler(_)
    ));
    assert!(a.remove_signal_handler(Signal::SIGUSR1).unwrap());
    // Loop b still listens.
    assert!(matches!(
        disposition(NixSignal::SIGUSR1),
        SigHandler::Handler(_)
    ));
    b.close().unwrap();
    // The last one gone: what the program had before, not SIG_DFL.
    assert!(matches!(
        disposition(NixSignal::SIGUSR1),
        SigHandler::SigIgn
    ));
    assert!(!a.remove_signal_handler(Signal::SIGUSR1).unwrap());
    // From the default, back to the default.
    a.add_signal_handler(Signal::SIGTERM, || {}).unwrap();
    assert!(a.remove_signal_handler(Signal::SIGTERM).unwrap());
    assert!(matches!(
        disposition(NixSignal::SIGTERM),
        SigHandler::SigDfl
    ));
    a.close().unwrap();
    println!("SG3-OK");
}

#[test]
fn sg4_fault_14_a_burst_runs_the_handler_after_the_last_signal() {
    if !is_alone_child() {
        return run_alone(
            "sg4_fault_14_a_burst_runs_the_handler_after_the_last_signal",
            "SG4-OK",
        );
    }
    let (lp, _z4) = support::new_loop();
    let sent_all = Arc::new(AtomicBool::new(false));
    let calls = Rc::new(Cell::new(0usize));
    let after_last = Rc::new(Cell::new(false));
    let (s, c, a, h) = (
        sent_all.clone(),
        calls.clone(),
        after_last.clone(),
        lp.handle(),
    );
    lp.add_signal_handler(Signal::SIGUSR1, move || {
        c.set(c.get() + 1);
        if s.load(Ordering::SeqCst) {
            a.set(true);
            h.stop();
        }
    })
    .unwrap();
    // The loop is busy (a blocking callback) while the burst arrives.
    lp.call_soon(|| std::thread::sleep(Duration::from_millis(100)))
        .unwrap();
    let sender = {
        let sent_all = sent_all.clone();
        std::thread::spawn(move || {
            for _ in 0..1000 {
                nix::sys::signal::kill(nix::unistd::getpid(), NixSignal::SIGUSR1).unwrap();
            }
            sent_all.store(true, Ordering::SeqCst);
            // One more after the flag: a handler call that began after the
            // burst must follow it, whatever the burst coalesced into.
            nix::sys::signal::kill(nix::unistd::getpid(), NixSignal::SIGUSR1).unwrap();
        })
    };
    let _far = lp
        .call_later(10.0, || panic!("no handler call after the last signal"))
        .unwrap();
    lp.run_forever().unwrap();
    sender.join().unwrap();
    assert!(after_last.get());
    assert!(calls.get() >= 1 && calls.get() <= 1001, "{}", calls.get());
    lp.close().unwrap();
    println!("SG4-OK calls={}", calls.get());
}

#[test]
fn sg5_fault_15_every_loop_gets_the_signal_even_after_one_closed() {
    if !is_alone_child() {
        return run_alone(
            "sg5_fault_15_every_loop_gets_the_signal_even_after_one_closed",
            "SG5-OK",
        );
    }
    let got = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let ready = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    let mut loops = Vec::new();
    for i in 0..2 {
        let (got, ready) = (got.clone(), ready.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        loops.push(rx);
        handles.push(std::thread::spawn(move || {
            let (lp, _z4) = support::new_loop();
            let g = got.clone();
            lp.add_signal_handler(Signal::SIGUSR2, move || {
                g[i].fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
            tx.send(lp.handle()).unwrap();
            ready.fetch_add(1, Ordering::SeqCst);
            lp.run_forever().unwrap();
            lp.close().unwrap();
        }));
    }
    let stoppers: Vec<_> = loops.into_iter().map(|rx| rx.recv().unwrap()).collect();
    let wait_for = |cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    wait_for(&|| ready.load(Ordering::SeqCst) == 2);
    nix::sys::signal::kill(nix::unistd::getpid(), NixSignal::SIGUSR2).unwrap();
    wait_for(&|| got[0].load(Ordering::SeqCst) >= 1 && got[1].load(Ordering::SeqCst) >= 1);
    // Loop 0 stops and closes; loop 1 still gets the next one.
    stoppers[0].stop();
    let first = handles.remove(0);
    first.join().unwrap();
    let before = got[1].load(Ordering::SeqCst);
    nix::sys::signal::kill(nix::unistd::getpid(), NixSignal::SIGUSR2).unwrap();
    wait_for(&|| got[1].load(Ordering::SeqCst) > before);
    stoppers[1].stop();
    handles.remove(0).join().unwrap();
    println!("SG5-OK");
}

#[test]
fn sg1_an_actor_subscribed_to_a_signal_gets_signal_received() {
    if !is_alone_child() {
        return run_alone(
            "sg1_an_actor_subscribed_to_a_signal_gets_signal_received",
            "SUBSCRIBE-OK",
        );
    }
    use switchboard::{Actor, ActorContext, LoopFuture, SignalReceived};

    struct Watcher {
        seen: LoopFuture<Signal>,
    }
    struct Got(SignalReceived);
    impl From<SignalReceived> for Got {
        fn from(s: SignalReceived) -> Self {
            Got(s)
        }
    }
    impl Actor for Watcher {
        type Message = Got;
        fn handle(&mut self, Got(s): Got, ctx: &mut ActorContext<'_, Got>) {
            let _ = self.seen.set_result(s.signal);
            ctx.stop();
        }
    }

    let (lp, _z4) = support::new_loop();
    let seen = lp.create_future();
    let addr = lp.spawn(Watcher { seen: seen.clone() }).unwrap();
    lp.subscribe_signal(Signal::SIGWINCH, &addr).unwrap();
    assert!(matches!(
        lp.subscribe_signal(Signal::SIGKILL, &addr),
        Err(SignalError::Uncatchable(_))
    ));
    raise(NixSignal::SIGWINCH).unwrap();
    assert_eq!(lp.run_until_complete(seen).unwrap(), Ok(Signal::SIGWINCH));
    // The actor stopped: the next signal ends its subscription, and the
    // disposition goes back to the default.
    raise(NixSignal::SIGWINCH).unwrap();
    let h = lp.handle();
    lp.call_later(0.05, move || h.stop()).unwrap();
    lp.run_forever().unwrap();
    assert!(!lp.unsubscribe_signal(Signal::SIGWINCH, &addr).unwrap());
    assert!(matches!(
        disposition(NixSignal::SIGWINCH),
        SigHandler::SigDfl
    ));
    lp.close().unwrap();
    println!("SUBSCRIBE-OK");
}

/// Fault 16 / SG6: after `fork`, a signal sent to the child never runs the
/// parent's handler, and the child builds its own loop, handles its own
/// signal and runs a subprocess.
#[test]
fn sg6_fault_16_after_fork_the_child_has_its_own_signals_and_subprocesses() {
    if !is_alone_child() {
        return run_alone(
            "sg6_fault_16_after_fork_the_child_has_its_own_signals_and_subprocesses",
            "FAULT16-OK",
        );
    }
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    let (lp, _z4) = support::new_loop();
    let parent_calls = Rc::new(Cell::new(0));
    let p = parent_calls.clone();
    lp.add_signal_handler(Signal::SIGUSR1, move || p.set(p.get() + 1))
        .unwrap();
    // SAFETY: the child only builds a loop, runs it and `_exit`s; the test
    // harness's other thread is parked on a channel, holding no lock.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let ok = std::panic::catch_unwind(|| {
                let child_loop = new_event_loop().unwrap();
                let caught = Rc::new(Cell::new(false));
                let (c, h) = (caught.clone(), child_loop.handle());
                child_loop
                    .add_signal_handler(Signal::SIGUSR1, move || {
                        c.set(true);
                        h.stop();
                    })
                    .unwrap();
                raise(NixSignal::SIGUSR1).unwrap();
                let h = child_loop.handle();
                child_loop.call_later(5.0, move || h.stop()).unwrap();
                child_loop.run_forever().unwrap();
                assert!(caught.get());
                struct Nop;
                impl switchboard::SubprocessProtocol for Nop {
                    fn handle(
                        &mut self,
                        _: switchboard::SubprocessEvent,
                        _: &mut dyn switchboard::SubprocessTransport,
                    ) -> Result<(), switchboard::ProtocolError> {
                        Ok(())
                    }
                }
                let l = child_loop.clone();
                let code = child_loop
                    .run_until_complete(async move {
                        let c = l.subprocess_shell(|| Nop, "exit 4").await.unwrap();
                        c.wait().await.unwrap()
                    })
                    .unwrap();
                assert_eq!(code, 4);
                child_loop.close().unwrap();
            })
            .is_ok();
            // SAFETY: _exit skips the parent's atexit handlers and buffers.
            unsafe { nix::libc::_exit(if ok { 0 } else { 1 }) };
        }
        ForkResult::Parent { child } => {
            assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            // Nothing reached the parent's loop.
            let h = lp.handle();
            lp.call_later(0.1, move || h.stop()).unwrap();
            lp.run_forever().unwrap();
            assert_eq!(
                parent_calls.get(),
                0,
                "the child's signal ran the parent's handler"
            );
            lp.close().unwrap();
        }
    }
    println!("FAULT16-OK");
}
