//! Running subprocesses: `subprocess_exec`, `subprocess_shell`, the
//! subprocess transport and protocol: the order of events, return codes,
//! signals, close, stdio set-up and large I/O.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#running-subprocesses>
//! and <https://docs.python.org/3/library/asyncio-protocol.html#subprocess-transports>.
//!
//! Ids refer to docs/behavior.md (Q1–Q8, faults 10–12). Spawn failures,
//! reaping and descriptors are in `subprocess_reaping.rs`.

mod support;

use std::rc::Rc;
use std::time::{Duration, Instant};

use switchboard::prelude::*;
use switchboard::{ProcessError, SubprocessError};

use support::net::{is_alone_child, run_alone, until};
use support::subprocess::{
    check_grammar, lost, output, position, reaped, recorder, spawn_shell, Log, Recorder, Seen,
};
use support::{new_loop, run_with_deadline};

#[test]
fn q1_made_first_lost_last_once_after_exit_and_every_pipe() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        for _ in 0..20 {
            let log: Log = Rc::default();
            let child = spawn_shell(&l, &log, "echo out; echo err >&2").await;
            until(&l, || lost(&log)).await;
            check_grammar(&log);
            assert_eq!(output(&log, 1), b"out\n");
            assert_eq!(output(&log, 2), b"err\n");
            assert!(child.is_lost());
            assert!(reaped(child.get_pid()));
        }
    });
}

/// The documented order (alone: a child another test thread is starting
/// holds a copy of every pipe end until it execs, which may delay an EOF
/// past the exit; the data never).
#[test]
fn q2_what_the_child_wrote_comes_before_process_exited() {
    if !is_alone_child() {
        return run_alone(
            "q2_what_the_child_wrote_comes_before_process_exited",
            "Q2-OK",
        );
    }
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        for _ in 0..20 {
            let log: Log = Rc::default();
            spawn_shell(&l, &log, "printf abc; printf def >&2; exit 4").await;
            until(&l, || lost(&log)).await;
            check_grammar(&log);
            let exited = position(&log, |s| *s == Seen::Exited(4)).unwrap();
            // stdout and stderr: data and loss before ProcessExited (the
            // documented order); stdin's loss may come on either side.
            for fd in [1, 2] {
                let data = position(&log, |s| matches!(s, Seen::Data(f, _) if *f == fd));
                assert!(data.unwrap() < exited, "fd {fd}: {:?}", log.borrow());
                let lost = position(&log, |s| matches!(s, Seen::PipeLost(f, None) if *f == fd));
                assert!(lost.unwrap() < exited, "fd {fd}: {:?}", log.borrow());
            }
            assert_eq!(output(&log, 1), b"abc");
            assert_eq!(output(&log, 2), b"def");
        }
    });
    println!("Q2-OK");
}

#[test]
fn q3_return_codes_exit_status_and_minus_signal() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = spawn_shell(&l, &log, "exit 7").await;
        assert_eq!(c.wait().await.unwrap(), 7);

        let c = spawn_shell(&l, &log, "exec sleep 30").await;
        c.kill().unwrap();
        assert_eq!(c.wait().await.unwrap(), -9);

        let c = spawn_shell(&l, &log, "exec sleep 30").await;
        c.terminate().unwrap();
        assert_eq!(c.wait().await.unwrap(), -15);

        let c = spawn_shell(&l, &log, "exec sleep 30").await;
        c.send_signal(Signal::SIGHUP).unwrap();
        assert_eq!(c.wait().await.unwrap(), -1);

        let c = spawn_shell(&l, &log, "kill -SEGV $$").await;
        assert_eq!(c.wait().await.unwrap(), -11);
        assert_eq!(c.get_returncode(), Some(-11));
    });
}

#[test]
fn fault_12_data_written_before_death_by_signal_comes_first() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = spawn_shell(&l, &log, "printf 'last words'; kill -KILL $$").await;
        until(&l, || lost(&log)).await;
        check_grammar(&log);
        assert_eq!(output(&log, 1), b"last words");
        assert_eq!(c.get_returncode(), Some(-9));
        assert!(log.borrow().contains(&Seen::Exited(-9)));
    });
}

#[test]
fn q4_signals_after_the_reap_send_nothing_and_say_so() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = spawn_shell(&l, &log, "exit 3").await;
        assert_eq!(c.wait().await.unwrap(), 3);
        for r in [c.kill(), c.terminate(), c.send_signal(Signal::SIGHUP)] {
            let err = r.unwrap_err();
            assert!(
                matches!(err, ProcessError::Exited { returncode: 3, .. }),
                "{err:?}"
            );
            assert!(err.to_string().contains("already exited"), "{err}");
        }
        assert_eq!(c.get_returncode(), Some(3));
    });
}

#[test]
fn q5_close_kills_a_running_child_then_reaps_it() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = spawn_shell(&l, &log, "exec sleep 30").await;
        c.close();
        assert!(c.is_closing());
        assert_eq!(c.get_returncode(), None);
        until(&l, || lost(&log)).await;
        check_grammar(&log);
        assert_eq!(c.get_returncode(), Some(-9));
        assert!(reaped(c.get_pid()));
        for fd in 0..3 {
            assert!(log.borrow().contains(&Seen::PipeLost(fd, None)), "{fd}");
        }
    });
}

#[test]
fn q5_close_after_exit_before_reap_kills_nothing() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = l
            // Long enough to be running when the handle comes back.
            .subprocess_exec(recorder(&log), "sleep", ["0.1"])
            .stdin(Stdio::Null)
            .await
            .unwrap();
        // Without yielding to the loop: wait until the child is a zombie,
        // then close before the loop has seen its exit.
        let stat = format!("/proc/{}/stat", c.get_pid());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(&stat)
            .map(|s| s.contains(") Z "))
            .unwrap_or(false)
        {
            assert!(Instant::now() < deadline, "child did not exit");
            std::thread::sleep(Duration::from_millis(1));
        }
        c.close();
        assert_eq!(c.wait().await.unwrap(), 0, "the exited child was killed");
        until(&l, || lost(&log)).await;
        check_grammar(&log);
    });
}

#[test]
fn q6_fault_10_closed_stdout_is_lost_at_once_exit_comes_later() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = spawn_shell(&l, &log, "exec 1>&-; sleep 0.3; exit 3").await;
        until(&l, || log.borrow().contains(&Seen::PipeLost(1, None))).await;
        // The child still runs: nothing blocked on the closed pipe.
        assert_eq!(c.get_returncode(), None);
        assert!(!log.borrow().iter().any(|s| matches!(s, Seen::Exited(_))));
        assert_eq!(c.wait().await.unwrap(), 3);
        until(&l, || lost(&log)).await;
        check_grammar(&log);
    });
}

#[test]
fn q6_fault_11_grandchild_holding_stdout_does_not_delay_exit_or_wait() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        // The grandchild holds stdout and waits on a FIFO until we let it go,
        // so wait() must return while it still runs, however slow the machine.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("release");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let cmd = format!("(read _ < '{}'; echo late) & exit 5", fifo.display());
        let c = spawn_shell(&l, &log, &cmd).await;
        assert_eq!(c.wait().await.unwrap(), 5);
        assert!(log.borrow().contains(&Seen::Exited(5)));
        // The pipe is still open: no ConnectionLost yet.
        assert!(!lost(&log));
        let release = std::thread::spawn(move || {
            use std::io::Write as _;
            let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            w.write_all(b"go\n").unwrap();
        });
        until(&l, || lost(&log)).await;
        release.join().unwrap();
        check_grammar(&log);
        assert_eq!(output(&log, 1), b"late\n");
        // The grandchild's data and stdout's loss came after ProcessExited.
        let exited = position(&log, |s| *s == Seen::Exited(5)).unwrap();
        let lost1 = position(&log, |s| *s == Seen::PipeLost(1, None)).unwrap();
        assert!(exited < lost1);
    });
}

#[test]
fn q7_stderr_into_stdout_and_no_pipe_for_other_streams() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = l
            .subprocess_shell(recorder(&log), "echo out; echo err >&2")
            .stdin(Stdio::Null)
            .stderr(Stdio::Stdout)
            .await
            .unwrap();
        assert!(c.get_pipe_transport(0).is_none());
        assert!(c.get_pipe_transport(1).is_some());
        assert!(c.get_pipe_transport(2).is_none());
        until(&l, || lost(&log)).await;
        check_grammar(&log);
        assert_eq!(output(&log, 1), b"out\nerr\n");
        assert!(output(&log, 2).is_empty());

        let log: Log = Rc::default();
        let c = l
            .subprocess_shell(recorder(&log), "echo hidden")
            .stdout(Stdio::Null)
            .stderr(Stdio::Null)
            .await
            .unwrap();
        assert_eq!(c.wait().await.unwrap(), 0);
        until(&l, || lost(&log)).await;
        assert!(output(&log, 1).is_empty());

        let err = l
            .subprocess_shell(recorder(&log), "true")
            .stdout(Stdio::Stdout)
            .await
            .unwrap_err();
        assert!(matches!(err, SubprocessError::InvalidArgs(_)), "{err:?}");
    });
}

#[test]
fn q7_closing_the_stdout_pipe_early_still_reports_its_loss() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = spawn_shell(&l, &log, "sleep 0.1; echo a; echo b; exit 0").await;
        c.get_pipe_transport(1).unwrap().close();
        until(&l, || lost(&log)).await;
        check_grammar(&log);
        assert!(log.borrow().contains(&Seen::PipeLost(1, None)));
        assert!(output(&log, 1).is_empty());
    });
}

#[test]
fn q8_a_megabyte_round_trips_through_cat() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 249) as u8).collect();
        let log: Log = Rc::default();
        let rec = log.clone();
        let feed = payload.clone();
        let c = l
            .subprocess_exec(
                move || Recorder {
                    log: rec,
                    feed: Some(feed),
                },
                "cat",
                [""; 0],
            )
            .await
            .unwrap();
        until(&l, || lost(&log)).await;
        check_grammar(&log);
        assert_eq!(output(&log, 1), payload);
        assert_eq!(c.get_returncode(), Some(0));
    });
}

#[test]
fn q8_stdin_writes_at_pipe_size_boundaries_complete() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        for n in [8192usize, 8193, 219_263, 219_264] {
            let log: Log = Rc::default();
            let c = l
                .subprocess_exec(recorder(&log), "wc", ["-c"])
                .await
                .unwrap();
            let stdin = c.get_pipe_transport(0).unwrap();
            stdin.write(&vec![b'x'; n]).unwrap();
            stdin.close();
            until(&l, || lost(&log)).await;
            let out = String::from_utf8(output(&log, 1)).unwrap();
            assert_eq!(out.trim(), n.to_string());
        }
    });
}
