//! Signal handlers (docs/behavior.md section N): SG1 a handler runs on the loop
//! thread and wakes a blocked loop, SG2 arguments are checked, SG3 removal
//! reports whether there was a handler.
//!
//! Signals are process-wide, so every test here uses its own signal and the
//! tests that raise one hold [`SERIAL`].

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
    let lp = new_event_loop().unwrap();
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
    let lp = new_event_loop().unwrap();
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
    lp.close().unwrap();
    // Closing restored SIG_DFL and forgot the handler.
    assert!(!lp_remove_after_close(Signal::SIGUSR2));
}

fn lp_remove_after_close(sig: Signal) -> bool {
    let lp = new_event_loop().unwrap();
    let removed = lp.remove_signal_handler(sig).unwrap();
    lp.close().unwrap();
    removed
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

    let lp = new_event_loop().unwrap();
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
    let lp = new_event_loop().unwrap();
    assert!(!lp.remove_signal_handler(Signal::SIGHUP).unwrap());
    lp.add_signal_handler(Signal::SIGHUP, || {}).unwrap();
    assert!(lp.remove_signal_handler(Signal::SIGHUP).unwrap());
    assert!(!lp.remove_signal_handler(Signal::SIGHUP).unwrap());
    lp.close().unwrap();
}

#[test]
fn sg3_handler_removed_inside_a_handler_receives_nothing_more() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let lp = Rc::new(new_event_loop().unwrap());
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
