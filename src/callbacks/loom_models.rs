//! Model-checked (loom) races of the handle table: a handle on another
//! thread cancelling while the loop claims the callback, and a slot that
//! must not be reused while another thread still holds its handle. Run with
//! `RUSTFLAGS="--cfg switchboard_loom" cargo test --release --lib loom`; the table's
//! words are loom atomics then (see `handle_table.rs`), so every
//! interleaving of this very code is explored.

use std::panic::Location;

use crate::handle_table::{reset_for_model, Claimed, HandleTable};

/// X5: a cancel from another thread and the loop's claim race on one word:
/// exactly one wins. The callback runs if and only if the cancel lost, and
/// the handle says so.
#[test]
fn loom_x5_a_cancel_from_another_thread_and_the_claim_exactly_one_wins() {
    loom::model(|| {
        reset_for_model();
        let mut table = HandleTable::new();
        let (slot, handle) = table.schedule(false, Location::caller());
        let canceller = loom::thread::spawn(move || {
            handle.cancel();
            handle.cancelled()
        });
        let ran = match table.start(slot) {
            Claimed::Watched => {
                table.finish(slot);
                true
            }
            Claimed::Unwatched => true,
            Claimed::Cancelled => false,
        };
        let cancelled = canceller.join().expect("the canceller");
        assert_ne!(ran, cancelled, "ran {ran}, cancel won {cancelled}");
    });
}

/// A slot is reused only once no handle refers to it: whatever the
/// interleaving of another thread cloning, cancelling and dropping its
/// handles with the loop finishing the callback and scheduling the next,
/// the next callback's own handle is counted (its claim sees a handle).
#[test]
fn loom_a_slot_is_not_reused_while_another_thread_holds_its_handle() {
    loom::model(|| {
        reset_for_model();
        let mut table = HandleTable::new();
        let (first, handle) = table.schedule(false, Location::caller());
        let other = loom::thread::spawn(move || {
            let copy = handle.clone();
            drop(handle);
            copy.cancel();
            drop(copy);
        });
        if table.start(first) == Claimed::Watched {
            table.finish(first);
        }
        let (next, mine) = table.schedule(false, Location::caller());
        other.join().expect("the other thread");
        assert_eq!(
            table.start(next),
            Claimed::Watched,
            "the next callback's handle is still counted"
        );
        table.finish(next);
        assert!(!mine.cancelled());
    });
}
