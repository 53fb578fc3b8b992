//! Watching file descriptors: `add_reader`, `remove_reader`, `add_writer`,
//! `remove_writer`.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#watching-file-descriptors>
//!
//! Ids refer to the behaviour catalogue (`docs/behavior.md`): L4, L7.

mod support;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use switchboard::{FdWatchError, LoopError, NoMessage};

use support::net::until;
use support::{new_loop, run_forever_with_deadline, run_with_deadline, turns};

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).expect("nonblocking");
    b.set_nonblocking(true).expect("nonblocking");
    (a, b)
}

#[test]
fn a_reader_is_level_triggered_and_remove_says_whether_one_was_there() {
    let (lp, _h) = new_loop();
    let (r, mut w) = pair();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let mut rr = r.try_clone().expect("clone");
    // One byte per call: the rest must bring the callback back.
    lp.add_reader(&r, move || {
        let mut b = [0u8; 1];
        if let Ok(1) = rr.read(&mut b) {
            g.borrow_mut().push(b[0]);
        }
    })
    .expect("add_reader");
    w.write_all(b"abc").expect("write");
    let l = lp.clone();
    let g = got.clone();
    run_with_deadline(
        &lp,
        async move { until(&l, || g.borrow().len() == 3).await },
    );
    assert_eq!(&got.borrow()[..], b"abc");
    assert!(lp.remove_reader(&r));
    assert!(!lp.remove_reader(&r), "nothing left to remove");
    let (never, _) = pair();
    assert!(!lp.remove_reader(&never), "never registered");
    // Removed: new data runs nothing.
    w.write_all(b"d").expect("write");
    run_with_deadline(&lp, turns(5));
    assert_eq!(got.borrow().len(), 3);
}

#[test]
fn adding_again_replaces_the_callback() {
    let (lp, _h) = new_loop();
    let (r, mut w) = pair();
    let first = Rc::new(Cell::new(0));
    let second = Rc::new(Cell::new(0));
    let f = first.clone();
    lp.add_reader(&r, move || f.set(f.get() + 1)).expect("add");
    let s = second.clone();
    let mut rr = r.try_clone().expect("clone");
    lp.add_reader(&r, move || {
        let mut buf = [0u8; 16];
        let _ = rr.read(&mut buf);
        s.set(s.get() + 1);
    })
    .expect("replace");
    w.write_all(b"x").expect("write");
    let l = lp.clone();
    let s = second.clone();
    run_with_deadline(&lp, async move { until(&l, || s.get() == 1).await });
    assert_eq!(first.get(), 0, "the replaced callback never runs");
    assert!(lp.remove_reader(&r));
}

#[test]
fn writers_run_while_writable_and_each_side_is_removed_alone() {
    let (lp, _h) = new_loop();
    let (r, mut w) = pair();
    let writes = Rc::new(Cell::new(0));
    let reads = Rc::new(Cell::new(0));
    let wc = writes.clone();
    lp.add_writer(&r, move || wc.set(wc.get() + 1))
        .expect("add_writer");
    let rc = reads.clone();
    let mut rr = r.try_clone().expect("clone");
    lp.add_reader(&r, move || {
        let mut buf = [0u8; 16];
        let _ = rr.read(&mut buf);
        rc.set(rc.get() + 1);
    })
    .expect("add_reader");
    let l = lp.clone();
    let wc = writes.clone();
    // Level-triggered: an always-writable socket keeps calling its writer.
    run_with_deadline(&lp, async move { until(&l, || wc.get() >= 3).await });
    assert!(lp.remove_writer(&r));
    assert!(!lp.remove_writer(&r));
    let after = writes.get();
    w.write_all(b"r").expect("write");
    let l = lp.clone();
    let rc = reads.clone();
    run_with_deadline(&lp, async move { until(&l, || rc.get() == 1).await });
    run_with_deadline(&lp, turns(5));
    assert_eq!(writes.get(), after, "the writer is gone, the reader stays");
    assert!(lp.remove_reader(&r));
}

#[test]
fn l4_a_reader_removed_by_an_earlier_callback_of_the_same_batch_does_not_run() {
    let (lp, _h) = new_loop();
    let (ra, mut wa) = pair();
    let (rb, mut wb) = pair();
    let (ra, rb) = (Rc::new(ra), Rc::new(rb));
    let ran = Rc::new(RefCell::new(Vec::new()));
    // Both ready before the loop polls: one poll returns both events.
    wa.write_all(b"a").expect("write");
    wb.write_all(b"b").expect("write");
    for (me, other, name) in [(&ra, &rb, "a"), (&rb, &ra, "b")] {
        let l = lp.clone();
        let other = Rc::clone(other);
        let log = ran.clone();
        let mine = Rc::clone(me);
        lp.add_reader(&**me, move || {
            let mut buf = [0u8; 16];
            let _ = (&*mine).read(&mut buf);
            log.borrow_mut().push(name);
            // Whichever runs first removes the other's reader.
            l.remove_reader(&*other);
        })
        .expect("add_reader");
    }
    let l = lp.clone();
    lp.call_later(0.05, move || l.stop()).expect("timer");
    run_forever_with_deadline(&lp);
    assert_eq!(ran.borrow().len(), 1, "{:?}", ran.borrow());
    lp.remove_reader(&*ra);
    lp.remove_reader(&*rb);
}

#[test]
fn l4_an_event_taken_before_stop_does_not_run_again_on_the_next_run() {
    let (lp, _h) = new_loop();
    let (r, mut w) = pair();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let l = lp.clone();
    let mut rr = r.try_clone().expect("clone");
    lp.add_reader(&r, move || {
        let mut buf = [0u8; 16];
        let _ = rr.read(&mut buf);
        c.set(c.get() + 1);
        l.stop();
    })
    .expect("add_reader");
    w.write_all(b"once").expect("write");
    run_forever_with_deadline(&lp);
    assert_eq!(calls.get(), 1);
    let l = lp.clone();
    lp.call_later(0.02, move || l.stop()).expect("timer");
    run_forever_with_deadline(&lp);
    assert_eq!(calls.get(), 1, "not dispatched a second time");
    assert!(lp.remove_reader(&r));
}

#[test]
fn a_descriptor_owned_by_a_transport_is_refused() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (a, _b) = UnixStream::pair().expect("pair");
        let conn = l
            .create_unix_connection::<_, NoMessage>(switchboard::testing::RecordingProtocol::new)
            .sock(a)
            .await
            .expect("adopt");
        let fd = conn.transport.fileno().expect("open");
        let same = fd;
        let err = l.add_reader(same, || {}).expect_err("owned by a transport");
        assert!(
            matches!(err, FdWatchError::OwnedByTransport { fd: f } if f == fd),
            "{err:?}"
        );
        assert!(matches!(
            l.add_writer(same, || {}),
            Err(FdWatchError::OwnedByTransport { .. })
        ));
        assert!(!l.remove_reader(same));
        conn.transport.close();
        until(&l, || conn.transport.is_lost()).await;
    });
}

#[test]
fn a_panicking_reader_is_reported_and_stays_registered() {
    let (lp, h) = new_loop();
    let (r, mut w) = pair();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let mut rr = r.try_clone().expect("clone");
    lp.add_reader(&r, move || {
        let mut buf = [0u8; 1];
        let _ = rr.read(&mut buf);
        c.set(c.get() + 1);
        panic!("reader fails");
    })
    .expect("add_reader");
    w.write_all(b"12").expect("write");
    let l = lp.clone();
    let c = calls.clone();
    run_with_deadline(&lp, async move { until(&l, || c.get() == 2).await });
    let reports = h.take();
    assert_eq!(reports.len(), 2);
    assert!(
        reports[0].message.contains("reader"),
        "{}",
        reports[0].message
    );
    assert!(lp.remove_reader(&r));
}

#[test]
fn l7_after_close_add_is_refused_and_remove_returns_false() {
    let (lp, _h) = new_loop();
    let (r, _w) = pair();
    lp.add_reader(&r, || {}).expect("add_reader");
    lp.close().expect("close");
    assert!(matches!(
        lp.add_reader(&r, || {}),
        Err(FdWatchError::Loop(LoopError::Closed))
    ));
    assert!(matches!(
        lp.add_writer(&r, || {}),
        Err(FdWatchError::Loop(LoopError::Closed))
    ));
    assert!(!lp.remove_reader(&r));
    assert!(!lp.remove_writer(&r));
}

#[test]
fn a_regular_file_cannot_be_watched() {
    let (lp, _h) = new_loop();
    let file = tempfile::tempfile().expect("file");
    let err = lp
        .add_reader(&file, || {})
        .expect_err("epoll refuses regular files");
    assert!(matches!(err, FdWatchError::Register { .. }), "{err:?}");
    assert!(!lp.remove_reader(&file));
}
