//! Ctrl+C out of `run_*`: SIGINT with no handler of the program's own.
//! <https://docs.python.org/3/library/asyncio-runner.html#handling-keyboard-interruption>
//!
//! Ids refer to docs/behavior.md: SG6 a SIGINT nobody handles surfaces as an
//! interrupt out of `run_*` (`switchboard::run` returns
//! `LoopError::Interrupted`, `run_until_complete` unwinds with `Interrupt`
//! and the loop runs again), a handler of the program's own takes precedence,
//! the disposition from before is back when the run ends, and only the main
//! thread takes SIGINT this way. (SG6's fork half is in loop_signals.rs.)
//!
//! Only the process's main thread claims SIGINT, and libtest runs each test
//! on a thread of its own: so each test re-runs itself alone in a child
//! process (`support::net::run_alone`) and forks there; the forked process's
//! only thread is its main thread. SIGINT is sent from another thread once
//! the run has started, and the parent bounds the wait with a deadline, so a
//! SIGINT that killed the child, or a run that never returned, fails the test.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::Signal as NixSignal;
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, ForkResult};
use support::net::{is_alone_child, run_alone};
use switchboard::{EventLoop, Interrupt, LoopError, Signal};

/// How long a forked check may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(5);

/// The disposition of SIGINT now (read without changing it).
fn sigint_disposition() -> SigHandler {
    let probe = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_DFL installs no code; the old action is put straight back.
    let old = unsafe { sigaction(NixSignal::SIGINT, &probe) }.unwrap();
    // SAFETY: `old` is what was installed a moment ago.
    unsafe { sigaction(NixSignal::SIGINT, &old) }.unwrap();
    old.handler()
}

/// Runs `check` in a forked child, on that process's main thread, and fails
/// unless it returns within [`DEADLINE`] without panicking (a SIGINT that
/// kills the child fails it too, naming the signal).
fn on_a_main_thread(check: impl FnOnce()) {
    // SAFETY: the child runs `check` and `_exit`s; this process's other
    // thread (libtest's main) is parked on a channel, holding no lock.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            // The checks start from SIGINT's default disposition, whatever
            // this process inherited (a shell starting it in the
            // background without job control makes it SIG_IGN).
            let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
            // SAFETY: SIG_DFL installs no code.
            let _ = unsafe { sigaction(NixSignal::SIGINT, &dfl) };
            let ok = catch_unwind(AssertUnwindSafe(check)).is_ok();
            // SAFETY: _exit skips the parent's atexit handlers and buffers.
            unsafe { nix::libc::_exit(if ok { 0 } else { 1 }) };
        }
        ForkResult::Parent { child } => {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || tx.send(waitpid(child, None)));
            let status = match rx.recv_timeout(DEADLINE) {
                Ok(status) => status.unwrap(),
                Err(_) => {
                    let _ = kill(child, NixSignal::SIGKILL);
                    panic!("the run did not return within {DEADLINE:?}");
                }
            };
            assert_eq!(
                status,
                WaitStatus::Exited(child, 0),
                "the forked check failed (Signaled(.., SIGINT, ..): SIGINT killed it)"
            );
        }
    }
}

/// A thread that sends SIGINT to this process once `started` fires.
fn sigint_when(started: mpsc::Receiver<()>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        started.recv().expect("the run started");
        kill(getpid(), NixSignal::SIGINT).unwrap();
    })
}

#[test]
fn sg6_sigint_with_no_handler_ends_run_with_interrupted() {
    if !is_alone_child() {
        return run_alone(
            "sg6_sigint_with_no_handler_ends_run_with_interrupted",
            "SG6-RUN-OK",
        );
    }
    on_a_main_thread(|| {
        assert!(matches!(sigint_disposition(), SigHandler::SigDfl));
        let (started, rx) = mpsc::channel();
        let sender = sigint_when(rx);
        let out = switchboard::run(move |_lp: EventLoop| async move {
            // While run runs, SIGINT is the loop's.
            assert!(matches!(sigint_disposition(), SigHandler::Handler(_)));
            started.send(()).unwrap();
            std::future::pending::<()>().await;
            Ok::<_, switchboard::Error>(())
        });
        sender.join().unwrap();
        assert!(
            matches!(out, Err(switchboard::Error::Loop(LoopError::Interrupted))),
            "{out:?}"
        );
        // And after it, SIGINT is what it was.
        assert!(matches!(sigint_disposition(), SigHandler::SigDfl));
    });
    println!("SG6-RUN-OK");
}

#[test]
fn sg6_sigint_unwinds_run_until_complete_and_the_loop_runs_again() {
    if !is_alone_child() {
        return run_alone(
            "sg6_sigint_unwinds_run_until_complete_and_the_loop_runs_again",
            "SG6-RUC-OK",
        );
    }
    on_a_main_thread(|| {
        let lp = switchboard::new_event_loop().unwrap();
        let (started, rx) = mpsc::channel();
        let sender = sigint_when(rx);
        let out = catch_unwind(AssertUnwindSafe(|| {
            lp.run_until_complete(async move {
                started.send(()).unwrap();
                std::future::pending::<()>().await;
            })
        }));
        sender.join().unwrap();
        let payload = out.expect_err("the interrupt leaves through run_until_complete");
        assert!(payload.is::<Interrupt>());
        assert!(!lp.is_running() && !lp.is_closed());
        assert!(matches!(sigint_disposition(), SigHandler::SigDfl));
        // The loop runs again, and claims SIGINT again for that run.
        let again = lp
            .run_until_complete(async { matches!(sigint_disposition(), SigHandler::Handler(_)) })
            .unwrap();
        assert!(again, "the second run claims SIGINT too");
        assert!(matches!(sigint_disposition(), SigHandler::SigDfl));
        lp.close().unwrap();
    });
    println!("SG6-RUC-OK");
}

#[test]
fn sg6_a_sigint_handler_added_during_run_takes_precedence() {
    if !is_alone_child() {
        return run_alone(
            "sg6_a_sigint_handler_added_during_run_takes_precedence",
            "SG6-HANDLER-OK",
        );
    }
    on_a_main_thread(|| {
        let (started, rx) = mpsc::channel();
        let sender = sigint_when(rx);
        let out = switchboard::run(move |lp: EventLoop| async move {
            let caught = lp.create_future::<&'static str>();
            let setter = caught.clone();
            lp.add_signal_handler(Signal::SIGINT, move || {
                let _ = setter.set_result("the user's handler ran");
            })?;
            started.send(()).unwrap();
            Ok::<_, switchboard::Error>(caught.await.unwrap())
        });
        sender.join().unwrap();
        assert_eq!(out.unwrap(), "the user's handler ran");
        assert!(matches!(sigint_disposition(), SigHandler::SigDfl));
    });
    println!("SG6-HANDLER-OK");
}

#[test]
fn sg6_a_loop_off_the_main_thread_or_an_ignored_sigint_is_left_alone() {
    if !is_alone_child() {
        return run_alone(
            "sg6_a_loop_off_the_main_thread_or_an_ignored_sigint_is_left_alone",
            "SG6-ALONE-OK",
        );
    }
    on_a_main_thread(|| {
        // Another thread's run does not take SIGINT.
        std::thread::spawn(|| {
            switchboard::run(|_lp: EventLoop| async {
                assert!(matches!(sigint_disposition(), SigHandler::SigDfl));
                Ok::<_, switchboard::Error>(())
            })
            .unwrap();
        })
        .join()
        .unwrap();
        // Nor does the main thread's, when the program ignores SIGINT.
        // SAFETY: SIG_IGN installs no code.
        unsafe { nix::sys::signal::signal(NixSignal::SIGINT, SigHandler::SigIgn) }.unwrap();
        switchboard::run(|_lp: EventLoop| async {
            assert!(matches!(sigint_disposition(), SigHandler::SigIgn));
            Ok::<_, switchboard::Error>(())
        })
        .unwrap();
        assert!(matches!(sigint_disposition(), SigHandler::SigIgn));
    });
    println!("SG6-ALONE-OK");
}
