//! Unit tests of the timer queue: order (T2), purge (T6), cross-thread cancel (X5).
use super::*;
use crate::callbacks::store::new_store;
use crate::handle_table::Claimed;
use std::cell::RefCell;
use std::panic::Location;
use std::rc::Rc;

fn push_nop(q: &mut TimerQueue, deadline: i64) -> crate::Handle {
    q.push(
        deadline,
        Callback::new(&new_store(), || {}),
        Location::caller(),
    )
}

/// Pushes a timer that records `id` when it runs.
fn push_rec(
    q: &mut TimerQueue,
    deadline: i64,
    id: u64,
    log: &Rc<RefCell<Vec<u64>>>,
) -> crate::Handle {
    let log = log.clone();
    q.push(
        deadline,
        Callback::new(&new_store(), move || log.borrow_mut().push(id)),
        Location::caller(),
    )
}

/// Runs every live entry due at `now`, in order; returns how many were
/// cancelled (buried by `pop_due`, or cancelled after it).
fn run_due(q: &mut TimerQueue, now: i64) -> usize {
    let buried = q.dead.entries.len();
    let mut skipped = 0;
    while let Some(e) = q.pop_due(now) {
        // As the loop does: a cancel after `start` has no effect.
        match q.handles().start(e.slot) {
            Claimed::Watched => {
                e.callback.call();
                q.handles().finish(e.slot);
            }
            Claimed::Unwatched => e.callback.call(),
            Claimed::Cancelled => skipped += 1,
        }
    }
    skipped + q.dead.entries.len() - buried
}

/// A fixed-seed xorshift for shuffled deadlines.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// The heap is a heap and the run is sorted latest first.
fn check_heap(q: &TimerQueue) {
    for (i, w) in q.run.windows(2).enumerate() {
        assert!(w[0].key > w[1].key, "run order at {i}");
    }
    for i in 1..q.heap.len() {
        assert!(
            q.heap[(i - 1) / ARITY].key <= q.heap[i].key,
            "heap order at {i}"
        );
    }
}

#[test]
fn t2_equal_deadlines_pop_in_scheduling_order() {
    let mut q = TimerQueue::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..20 {
        push_rec(&mut q, 5, i, &order);
    }
    run_due(&mut q, 5);
    assert_eq!(*order.borrow(), (0..20).collect::<Vec<_>>());
}

#[test]
fn t2_random_deadlines_pop_in_deadline_then_fifo_order() {
    let mut q = TimerQueue::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let mut seed = 0x1234_5678_9abc_def1;
    let mut expected = Vec::new();
    for id in 0..5000 {
        // Few distinct deadlines, including negative ones, so ties abound.
        let d = (rng(&mut seed) % 64) as i64 - 16;
        push_rec(&mut q, d, id, &order);
        expected.push((d, id));
    }
    check_heap(&q);
    expected.sort();
    // Nothing is popped before its deadline.
    assert_eq!(run_due(&mut q, -17), 0);
    assert!(order.borrow().is_empty());
    for now in -16..48 {
        run_due(&mut q, now);
        let n = order.borrow().len();
        let due = expected.iter().take_while(|(d, _)| *d <= now).count();
        assert_eq!(n, due, "popped at {now}");
    }
    let want: Vec<u64> = expected.iter().map(|&(_, id)| id).collect();
    assert_eq!(*order.borrow(), want);
    assert_eq!(q.len(), 0);
}

#[test]
fn t2_extreme_deadlines_keep_order() {
    let mut q = TimerQueue::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    push_rec(&mut q, i64::MAX, 0, &order);
    push_rec(&mut q, 0, 1, &order);
    push_rec(&mut q, i64::MIN, 2, &order);
    push_rec(&mut q, -1, 3, &order);
    push_rec(&mut q, i64::MAX, 4, &order);
    run_due(&mut q, i64::MAX);
    assert_eq!(*order.borrow(), [2, 3, 1, 0, 4]);
}

#[test]
fn t2_interleaved_pops_across_wheel_levels_keep_order() {
    let mut q = TimerQueue::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let mut seed = 0x0dd_ba11;
    let mut expected = Vec::new();
    let mut now = 0i64;
    for id in 0..4000 {
        // Deadlines from "due now" to hours ahead (every wheel level), with
        // ties, while time moves on and due timers are popped in between.
        let r = rng(&mut seed);
        let span = 1i64 << (r % 44);
        let d = now + (r >> 8) as i64 % span - (r % 3) as i64;
        push_rec(&mut q, d, id, &order);
        expected.push((d, id));
        if id % 7 == 6 {
            now += (rng(&mut seed) % 3_000_000) as i64;
            run_due(&mut q, now);
            check_heap(&q);
            let due = expected.iter().filter(|(d, _)| *d <= now).count();
            assert_eq!(order.borrow().len(), due, "popped by {now}");
        }
    }
    expected.sort();
    run_due(&mut q, i64::MAX);
    let want: Vec<u64> = expected.iter().map(|&(_, id)| id).collect();
    assert_eq!(*order.borrow(), want);
    assert_eq!(q.len(), 0);
}

#[test]
fn next_deadline_is_exact_or_early_and_never_late() {
    let mut q = TimerQueue::new();
    let mut seed = 0xabcd_ef01;
    let mut live = Vec::new();
    for _ in 0..500 {
        let d = (rng(&mut seed) % (1 << 36)) as i64;
        live.push(d);
        let _h = push_nop(&mut q, d);
    }
    live.sort();
    let mut now = 0;
    for &d in &live {
        // Wake at what next_deadline says until the timer is due.
        loop {
            let next = q.next_deadline().expect("timers left");
            assert!(next <= d, "next deadline {next} after {d}");
            now = now.max(next);
            if q.pop_due(now).is_some() {
                break;
            }
        }
    }
    assert_eq!(q.next_deadline(), None);
}

#[test]
fn t6_next_deadline_skips_cancelled_head() {
    let mut q = TimerQueue::new();
    let h5 = push_nop(&mut q, 5);
    let _h10 = push_nop(&mut q, 10);
    h5.cancel();
    assert_eq!(q.next_deadline(), Some(10));
    assert_eq!(q.len(), 1);
    assert_eq!(q.take_dead().into_entries().count(), 1);
}

#[test]
fn t6_purges_when_more_than_half_cancelled() {
    let mut q = TimerQueue::new();
    let mut states = Vec::new();
    for i in 0..200 {
        states.push(push_nop(&mut q, i));
    }
    for s in states.iter().take(100) {
        s.cancel();
    }
    q.maybe_purge();
    assert_eq!(q.len(), 200, "exactly half cancelled: no purge");
    states[100].cancel();
    q.maybe_purge();
    assert_eq!(q.len(), 99);
    assert_eq!(q.handles.cancelled_timers(), 0);
    assert_eq!(q.take_dead().into_entries().count(), 101);
    check_heap(&q);
}

#[test]
fn t6_purge_keeps_order_of_the_survivors() {
    let mut q = TimerQueue::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let mut seed = 0xfeed_f00d;
    let mut live = Vec::new();
    let mut states = Vec::new();
    for id in 0..3000 {
        let d = (rng(&mut seed) % 100) as i64;
        states.push(push_rec(&mut q, d, id, &order));
        if id % 3 == 0 {
            live.push((d, id));
        }
    }
    // Pop some first, so the slab has holes that later pushes reuse.
    run_due(&mut q, 3);
    let popped = order.borrow().len();
    live.retain(|&(d, _)| d > 3);
    for (id, s) in states.iter().enumerate() {
        if id % 3 != 0 {
            s.cancel();
        }
    }
    q.maybe_purge();
    check_heap(&q);
    assert_eq!(q.len(), live.len());
    assert_eq!(q.handles.cancelled_timers(), 0);
    let dead = q.take_dead().into_entries().count();
    assert_eq!(dead, 3000 - popped - live.len());
    // Survivors moved to a new slab; new timers go in beside them.
    for id in 3000..3100 {
        let d = (rng(&mut seed) % 100) as i64;
        push_rec(&mut q, d, id, &order);
        live.push((d, id));
    }
    check_heap(&q);
    live.sort();
    order.borrow_mut().clear();
    assert_eq!(run_due(&mut q, 1000), 0);
    let want: Vec<u64> = live.iter().map(|&(_, id)| id).collect();
    assert_eq!(*order.borrow(), want, "{popped} popped before the purge");
}

#[test]
fn x5_cancel_from_another_thread_is_purged_and_never_runs() {
    let mut q = TimerQueue::new();
    let ran = Rc::new(RefCell::new(Vec::new()));
    let handles: Vec<crate::Handle> = (0..1000)
        .map(|i| push_rec(&mut q, i % 10, i as u64, &ran))
        .collect();
    let to_cancel: Vec<_> = handles.iter().skip(1).step_by(2).cloned().collect();
    std::thread::spawn(move || {
        for h in to_cancel.iter().chain(to_cancel.iter()) {
            h.cancel();
        }
    })
    .join()
    .unwrap();
    assert_eq!(q.handles.cancelled_timers(), 500);
    // Due at 4: deadlines 0..=4, of which 1 and 3 are cancelled.
    assert_eq!(run_due(&mut q, 4), 200);
    assert_eq!(q.handles.cancelled_timers(), 300);
    q.maybe_purge();
    assert_eq!(q.len(), 200);
    assert_eq!(q.handles.cancelled_timers(), 0);
    run_due(&mut q, 10);
    assert!(ran.borrow().iter().all(|id| id % 2 == 0));
    assert_eq!(ran.borrow().len(), 500);
    for (i, h) in handles.iter().enumerate() {
        assert_eq!(h.cancelled(), i % 2 == 1, "handle {i}");
    }
}

#[test]
fn drain_returns_queued_and_dead_entries() {
    let mut q = TimerQueue::new();
    let h = push_nop(&mut q, 1);
    let _h2 = push_nop(&mut q, 2);
    h.cancel();
    assert_eq!(q.next_deadline(), Some(2));
    assert_eq!(q.drain().len(), 2);
    assert_eq!(q.len(), 0);
    assert_eq!(q.next_deadline(), None);
}
