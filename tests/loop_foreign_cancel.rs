//! `Handle.cancel()` from another thread (X5): thread-safe, and a cancel
//! that returns before the loop has dequeued the handle always wins.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#callback-handles>
//!
//! asyncio gives no guarantee here (uvloop crashes); switchboard's is
//! checked without a timing window: one test forces both outcomes by handing
//! off inside the loop's batch, the other races freely and checks only what
//! must hold whoever wins.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use support::{new_loop, run_forever_with_deadline, stop_soon};
use switchboard::Handle;

/// Requests to a [`canceller`] thread, and its answers.
type Canceller = (mpsc::Sender<usize>, mpsc::Receiver<bool>);

/// A thread that cancels handles on request and answers, for each request,
/// whether the handle reads as cancelled once `cancel()` has returned.
fn canceller(handles: Vec<Handle>) -> Canceller {
    let (ask, asked) = mpsc::channel::<usize>();
    let (tell, told) = mpsc::channel::<bool>();
    std::thread::spawn(move || {
        for i in asked {
            handles[i].cancel();
            if tell.send(handles[i].cancelled()).is_err() {
                break;
            }
        }
    });
    (ask, told)
}

#[test]
fn x5_fault_19_a_foreign_cancel_that_returns_before_the_handle_is_dequeued_always_wins() {
    // Deterministic: the loop thread waits, inside the callback before, for
    // the other thread's cancel() to return; no timing window to miss.
    const N: usize = 400;
    let (lp, handler) = new_loop();
    let ran: Rc<RefCell<Vec<bool>>> = Rc::new(RefCell::new(vec![false; N]));
    let won: Rc<RefCell<Vec<Option<bool>>>> = Rc::new(RefCell::new(vec![None; N]));
    let hub: Rc<RefCell<Option<Canceller>>> = Rc::new(RefCell::new(None));
    let mut handles = Vec::with_capacity(N);
    for i in 0..N {
        let (ran, won, hub) = (ran.clone(), won.clone(), hub.clone());
        // All due together: they run in one batch, in order.
        let h = lp
            .call_later(0.0, move || {
                ran.borrow_mut()[i] = true;
                let hub = hub.borrow();
                let (ask, told) = hub.as_ref().expect("canceller");
                let cancel = |k: usize| {
                    ask.send(k).expect("canceller alive");
                    let w = told
                        .recv_timeout(support::DEADLINE)
                        .expect("cancel() returned");
                    won.borrow_mut()[k] = Some(w);
                };
                if i % 4 == 0 {
                    // Too late: this handle is running.
                    cancel(i);
                }
                if i % 2 == 0 && i + 1 < N {
                    // In time: the next one is not dequeued yet.
                    cancel(i + 1);
                }
            })
            .unwrap();
        handles.push((*h).clone());
    }
    *hub.borrow_mut() = Some(canceller(handles.clone()));
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    // Nothing left for a second run either.
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    let (ran, won) = (ran.borrow(), won.borrow());
    for i in 0..N {
        match (i % 2, i % 4) {
            (1, _) => {
                assert_eq!(won[i], Some(true), "timer {i}: the cancel won");
                assert!(!ran[i], "timer {i} ran after its cancel returned");
                assert!(handles[i].cancelled());
            }
            (_, 0) => {
                assert_eq!(won[i], Some(false), "timer {i}: cancel of a running handle");
                assert!(ran[i]);
                assert!(
                    !handles[i].cancelled(),
                    "T3: a handle that ran is not cancelled"
                );
            }
            _ => assert!(ran[i] && !handles[i].cancelled(), "timer {i}"),
        }
    }
    assert!(handler.take().is_empty());
}

#[test]
fn x5_foreign_cancels_racing_a_batch_never_run_after_cancel_returned() {
    // The free race (10 000 due timers, cancelled from another thread while
    // the loop runs them): whoever wins each one, a handle whose cancel()
    // returned true never runs, and one that ran never reads as cancelled.
    // Nothing here depends on timing; the test above forces both outcomes.
    const N: usize = 10_000;
    let (lp, handler) = new_loop();
    let won: Arc<Vec<AtomicBool>> = Arc::new((0..N).map(|_| AtomicBool::new(false)).collect());
    let ran: Rc<RefCell<Vec<bool>>> = Rc::new(RefCell::new(vec![false; N]));
    let violations = Rc::new(Cell::new(0usize));
    let mut handles = Vec::with_capacity(N);
    for i in 0..N {
        let (won, ran, violations) = (won.clone(), ran.clone(), violations.clone());
        let h = lp
            .call_later(0.0, move || {
                if won[i].load(Ordering::SeqCst) {
                    violations.set(violations.get() + 1);
                }
                ran.borrow_mut()[i] = true;
            })
            .unwrap();
        handles.push((*h).clone());
    }
    let (go, start) = mpsc::channel::<()>();
    let remote = lp.handle();
    let canceller = {
        let (won, handles) = (won.clone(), handles.clone());
        std::thread::spawn(move || {
            start.recv().unwrap();
            for (i, h) in handles.iter().enumerate().rev() {
                h.cancel();
                if h.cancelled() {
                    won[i].store(true, Ordering::SeqCst);
                }
            }
            remote
                .call_soon_threadsafe(|| switchboard::get_running_loop().unwrap().stop())
                .unwrap();
        })
    };
    lp.call_soon(move || go.send(()).unwrap()).unwrap();
    run_forever_with_deadline(&lp);
    canceller.join().unwrap();
    // What the canceller lost is run by now or on the next iteration.
    stop_soon(&lp).unwrap();
    run_forever_with_deadline(&lp);
    assert_eq!(
        violations.get(),
        0,
        "callbacks started after their cancel won"
    );
    let ran = ran.borrow();
    for i in 0..N {
        let w = won[i].load(Ordering::SeqCst);
        assert!(w != ran[i], "timer {i}: won={w} ran={}", ran[i]);
        assert_eq!(handles[i].cancelled(), w, "timer {i}");
    }
    assert!(handler.take().is_empty());
}
