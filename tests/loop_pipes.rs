//! Working with pipes: `connect_read_pipe` and `connect_write_pipe`.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#working-with-pipes>
//!
//! Ids refer to docs/behavior.md (P1–P4, fault 2).

mod support;

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::rc::Rc;

use switchboard::prelude::*;
use switchboard::{
    PipeError, ReadPipeEvent, ReadPipeProtocol, ReadPipeTransport, TransportError, WritePipeEvent,
    WritePipeProtocol, WritePipeTransport,
};

use support::net::{is_alone_child, run_alone, until};
use support::{new_loop, run_with_deadline};

/// What a recording pipe protocol saw.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Made,
    Data(Vec<u8>),
    Eof,
    Pause(usize),
    Resume,
    Lost(Option<String>),
}

type Log = Rc<RefCell<Vec<Seen>>>;

fn lost(log: &Log) -> bool {
    log.borrow().iter().any(|s| matches!(s, Seen::Lost(_)))
}

/// Records a read pipe's events; `pause_on_made` pauses reading at once.
struct ReadRecorder {
    log: Log,
    pause_on_made: bool,
}

impl ReadPipeProtocol for ReadRecorder {
    fn handle(
        &mut self,
        ev: ReadPipeEvent,
        t: &mut dyn ReadPipeTransport,
    ) -> Result<(), ProtocolError> {
        let seen = match ev {
            ReadPipeEvent::ConnectionMade => {
                if self.pause_on_made {
                    t.pause_reading();
                    t.pause_reading();
                    assert!(!t.is_reading());
                }
                Seen::Made
            }
            ReadPipeEvent::DataReceived(d) => {
                assert!(!d.is_empty());
                Seen::Data(d.to_vec())
            }
            ReadPipeEvent::EofReceived => Seen::Eof,
            ReadPipeEvent::ConnectionLost(r) => {
                // Safe after close (P4).
                t.pause_reading();
                t.resume_reading();
                Seen::Lost(r.map(|e| e.to_string()))
            }
            other => panic!("unexpected {other:?}"),
        };
        self.log.borrow_mut().push(seen);
        Ok(())
    }
}

/// Writes `first` on `ConnectionMade` (then closes if `close`), records the
/// rest.
struct WriteRecorder {
    log: Log,
    first: Vec<u8>,
    close: bool,
}

impl WritePipeProtocol for WriteRecorder {
    fn handle(
        &mut self,
        ev: WritePipeEvent,
        t: &mut dyn WritePipeTransport,
    ) -> Result<(), ProtocolError> {
        let seen = match ev {
            WritePipeEvent::ConnectionMade => {
                t.write(&self.first)?;
                if self.close {
                    t.close();
                }
                Seen::Made
            }
            WritePipeEvent::PauseWriting => Seen::Pause(t.get_write_buffer_size()),
            WritePipeEvent::ResumeWriting => Seen::Resume,
            WritePipeEvent::ConnectionLost(r) => {
                // Writes after the loss are dropped, never an error (P3).
                t.write(b"late")?;
                Seen::Lost(r.map(|e| e.to_string()))
            }
            other => panic!("unexpected {other:?}"),
        };
        self.log.borrow_mut().push(seen);
        Ok(())
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe().expect("pipe")
}

fn all_data(log: &Log) -> Vec<u8> {
    log.borrow()
        .iter()
        .filter_map(|s| match s {
            Seen::Data(d) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn p1_read_pipe_gives_data_in_order_then_eof_then_lost_none() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        let handle = l
            .connect_read_pipe(
                || ReadRecorder {
                    log: rec.clone(),
                    pause_on_made: false,
                },
                r,
            )
            .await
            .unwrap();
        assert_eq!(rec.borrow().as_slice(), &[Seen::Made]);
        let mut w = File::from(w);
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let writer = std::thread::spawn(move || {
            w.write_all(&payload).unwrap();
            payload
        });
        until(&l, || lost(&rec)).await;
        let payload = writer.join().unwrap();
        assert_eq!(all_data(&rec), payload);
        let log = rec.borrow();
        let n = log.len();
        assert_eq!(log[n - 2..], [Seen::Eof, Seen::Lost(None)]);
        assert!(handle.is_lost() && handle.fileno().is_none());
    });
}

#[test]
fn p1_a_regular_file_is_refused() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let file = tempfile::tempfile().unwrap();
        // Which open file it is (other tests of this binary open and close
        // descriptors meanwhile, so a count would race): its /proc link.
        let link = |fd: i32| std::fs::read_link(format!("/proc/self/fd/{fd}")).ok();
        let target = link(std::os::fd::AsRawFd::as_raw_fd(&file)).expect("its /proc link");
        let still_open = move || {
            std::fs::read_dir("/proc/self/fd")
                .expect("/proc/self/fd")
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .any(|fd| link(fd).as_ref() == Some(&target))
        };
        let err = l
            .connect_read_pipe(
                || ReadRecorder {
                    log: Rc::default(),
                    pause_on_made: false,
                },
                file,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, PipeError::NotAPipe { .. }), "{err:?}");
        assert!(err.to_string().contains("is not a pipe"), "{err}");
        // The refused file was closed, not leaked.
        assert!(!still_open(), "the refused file is still open");
    });
}

#[test]
fn p2_write_pipe_close_flushes_then_lost_none() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        // More than the pipe holds: close() must wait for the reader.
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let expected = payload.clone();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            File::from(r).read_to_end(&mut got).unwrap();
            got
        });
        let handle = l
            .connect_write_pipe(
                || WriteRecorder {
                    log: rec.clone(),
                    first: payload,
                    close: true,
                },
                w,
            )
            .await
            .unwrap();
        assert!(handle.is_closing());
        until(&l, || lost(&rec)).await;
        assert_eq!(reader.join().unwrap(), expected);
        let log = rec.borrow();
        assert_eq!(log.first(), Some(&Seen::Made));
        assert_eq!(log.last(), Some(&Seen::Lost(None)));
    });
}

#[test]
fn p2_abort_drops_the_buffer_then_lost_none() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        let handle = l
            .connect_write_pipe(
                || WriteRecorder {
                    log: rec.clone(),
                    first: vec![7; 200_000],
                    close: false,
                },
                w,
            )
            .await
            .unwrap();
        assert!(handle.get_write_buffer_size() > 0);
        handle.abort();
        until(&l, || lost(&rec)).await;
        assert_eq!(rec.borrow().last(), Some(&Seen::Lost(None)));
        // The reader gets what the pipe held, then EOF: the rest was dropped.
        let mut got = Vec::new();
        File::from(r).read_to_end(&mut got).unwrap();
        assert!(got.len() < 200_000, "{}", got.len());
    });
}

#[test]
fn p3_reader_gone_with_empty_buffer_is_lost_none() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        l.connect_write_pipe(
            || WriteRecorder {
                log: rec.clone(),
                first: b"hi".to_vec(),
                close: false,
            },
            w,
        )
        .await
        .unwrap();
        drop(r);
        until(&l, || lost(&rec)).await;
        assert_eq!(rec.borrow().as_slice(), &[Seen::Made, Seen::Lost(None)]);
    });
}

#[test]
fn p3_reader_gone_with_bytes_buffered_is_broken_pipe_and_no_resume() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        let handle = l
            .connect_write_pipe(
                || WriteRecorder {
                    log: rec.clone(),
                    first: vec![1; 1 << 20],
                    close: false,
                },
                w,
            )
            .await
            .unwrap();
        drop(r);
        until(&l, || lost(&rec)).await;
        let log = rec.borrow().clone();
        assert_eq!(
            log.last(),
            Some(&Seen::Lost(Some(TransportError::BrokenPipe.to_string())))
        );
        assert!(!log.contains(&Seen::Resume), "{log:?}");
        // Later writes through the handle are dropped silently.
        handle.write(b"after").unwrap();
        support::turns(3).await;
    });
}

#[test]
fn p4_one_mib_into_a_64_kib_pipe_pauses_at_983040() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        l.connect_write_pipe(
            || WriteRecorder {
                log: rec.clone(),
                first: vec![2; 1 << 20],
                close: true,
            },
            w,
        )
        .await
        .unwrap();
        // The pipe took its 64 KiB; the rest is buffered and paused.
        assert_eq!(rec.borrow()[1], Seen::Pause(983_040));
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            File::from(r).read_to_end(&mut got).unwrap();
            got.len()
        });
        until(&l, || lost(&rec)).await;
        assert_eq!(reader.join().unwrap(), 1 << 20);
        let log = rec.borrow();
        assert_eq!(
            log.as_slice(),
            &[
                Seen::Made,
                Seen::Pause(983_040),
                Seen::Resume,
                Seen::Lost(None)
            ]
        );
    });
}

/// A write pipe whose reader never reads cannot grow the process without
/// end: past the default hard cap (as for stream transports) the pipe ends
/// with `BufferOverflow`, and nothing is buffered any more.
#[test]
fn p4_a_reader_that_never_reads_meets_the_default_cap() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (_r, w) = pipe();
        l.connect_write_pipe(
            || WriteRecorder {
                log: rec.clone(),
                first: vec![3; switchboard::DEFAULT_MAX_WRITE_BUFFER + (1 << 20)],
                close: false,
            },
            w,
        )
        .await
        .unwrap();
        until(&l, || lost(&rec)).await;
        let overflow = TransportError::BufferOverflow {
            cap: switchboard::DEFAULT_MAX_WRITE_BUFFER,
        };
        assert_eq!(
            rec.borrow().last(),
            Some(&Seen::Lost(Some(overflow.to_string())))
        );
    });
}

#[test]
fn p4_pause_and_resume_reading_repeat_harmlessly() {
    let (lp, _h) = new_loop();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        let handle = l
            .connect_read_pipe(
                || ReadRecorder {
                    log: rec.clone(),
                    pause_on_made: true,
                },
                r,
            )
            .await
            .unwrap();
        let mut w = File::from(w);
        w.write_all(b"held").unwrap();
        support::turns(5).await;
        assert_eq!(rec.borrow().as_slice(), &[Seen::Made], "paused");
        assert!(!handle.is_reading());
        handle.resume_reading();
        handle.resume_reading();
        until(&l, || !all_data(&rec).is_empty()).await;
        assert_eq!(all_data(&rec), b"held");
        handle.close();
        until(&l, || lost(&rec)).await;
        handle.pause_reading();
        handle.resume_reading();
        assert_eq!(rec.borrow().last(), Some(&Seen::Lost(None)));
    });
}

/// Fault 2 in a child process: SIGPIPE back to its default disposition and a
/// loop handler watching it; a write pipe whose reader has gone still ends
/// with `BrokenPipe`, the process lives, and the handler never runs.
#[test]
fn fault_2_broken_pipe_never_kills_or_fires_a_sigpipe_watcher() {
    if !is_alone_child() {
        return run_alone(
            "fault_2_broken_pipe_never_kills_or_fires_a_sigpipe_watcher",
            "FAULT2-OK",
        );
    }
    use nix::sys::signal::{signal, SigHandler, Signal as NixSignal};
    // SAFETY: restoring the default disposition installs no Rust code.
    unsafe { signal(NixSignal::SIGPIPE, SigHandler::SigDfl) }.unwrap();
    let (lp, _h) = new_loop();
    let fired = Rc::new(RefCell::new(0));
    let f = fired.clone();
    lp.add_signal_handler(Signal::SIGPIPE, move || *f.borrow_mut() += 1)
        .unwrap();
    let log: Log = Rc::default();
    let l = lp.clone();
    let rec = log.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        drop(r);
        l.connect_write_pipe(
            || WriteRecorder {
                log: rec.clone(),
                first: b"nobody reads this".to_vec(),
                close: false,
            },
            w,
        )
        .await
        .unwrap();
        until(&l, || lost(&rec)).await;
        support::turns(5).await;
    });
    assert_eq!(
        log.borrow().last(),
        Some(&Seen::Lost(Some(TransportError::BrokenPipe.to_string())))
    );
    assert_eq!(*fired.borrow(), 0, "the SIGPIPE watcher fired");
    assert!(lp.remove_signal_handler(Signal::SIGPIPE).unwrap());
    // A plain write pipe (no watcher) with SIGPIPE at its default: the loop
    // set it to ignored, so EPIPE, not death.
    // SAFETY: as above.
    unsafe { signal(NixSignal::SIGPIPE, SigHandler::SigDfl) }.unwrap();
    let log2: Log = Rc::default();
    let l = lp.clone();
    let rec = log2.clone();
    run_with_deadline(&lp, async move {
        let (r, w) = pipe();
        drop(r);
        l.connect_write_pipe(
            || WriteRecorder {
                log: rec.clone(),
                first: b"x".to_vec(),
                close: false,
            },
            w,
        )
        .await
        .unwrap();
        until(&l, || lost(&rec)).await;
    });
    assert!(matches!(log2.borrow().last(), Some(Seen::Lost(Some(_)))));
    lp.close().unwrap();
    println!("FAULT2-OK");
}
