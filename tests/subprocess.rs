//! Running subprocesses: `subprocess_exec`, `subprocess_shell`, the
//! subprocess transport and protocol.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#running-subprocesses>
//! and <https://docs.python.org/3/library/asyncio-protocol.html#subprocess-transports>.
//!
//! Ids refer to docs/behavior.md (Q1–Q9, faults 10–13 and 29).

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use switchboard::prelude::*;
use switchboard::{ProcessError, SubprocessError, SubprocessHandle};

use support::net::{is_alone_child, open_fds, run_alone, until, ALONE_CHILD};
use support::{new_loop, run_with_deadline};

/// One event a recording protocol saw.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Made,
    Data(i32, Vec<u8>),
    PipeLost(i32, Option<String>),
    Exited(i32),
    Lost,
}

type Log = Rc<RefCell<Vec<Seen>>>;

/// Records every event; on `ConnectionMade` writes `feed` to stdin and
/// closes it if asked.
struct Recorder {
    log: Log,
    feed: Option<Vec<u8>>,
}

impl SubprocessProtocol for Recorder {
    fn handle(
        &mut self,
        ev: SubprocessEvent,
        t: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError> {
        let seen = match ev {
            SubprocessEvent::ConnectionMade => {
                if let Some(feed) = self.feed.take() {
                    let stdin = t.get_pipe_transport(0).and_then(|p| p.writer()).unwrap();
                    stdin.write(&feed)?;
                    stdin.close();
                }
                Seen::Made
            }
            SubprocessEvent::PipeDataReceived { fd, data } => Seen::Data(fd, data.to_vec()),
            SubprocessEvent::PipeConnectionLost { fd, error } => {
                Seen::PipeLost(fd, error.map(|e| e.to_string()))
            }
            SubprocessEvent::ProcessExited { returncode } => {
                assert_eq!(t.get_returncode(), Some(returncode));
                Seen::Exited(returncode)
            }
            SubprocessEvent::ConnectionLost(None) => Seen::Lost,
            SubprocessEvent::PauseWriting | SubprocessEvent::ResumeWriting => return Ok(()),
            other => panic!("unexpected {other:?}"),
        };
        self.log.borrow_mut().push(seen);
        Ok(())
    }
}

fn recorder(log: &Log) -> impl FnOnce() -> Recorder + 'static {
    let log = log.clone();
    move || Recorder { log, feed: None }
}

fn lost(log: &Log) -> bool {
    log.borrow().contains(&Seen::Lost)
}

fn output(log: &Log, fd: i32) -> Vec<u8> {
    log.borrow()
        .iter()
        .filter_map(|s| match s {
            Seen::Data(f, d) if *f == fd => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn position(log: &Log, pred: impl Fn(&Seen) -> bool) -> Option<usize> {
    log.borrow().iter().position(pred)
}

/// Checks the grammar of the subprocess protocol (Q1, Q2 per fd).
fn check_grammar(log: &Log) {
    let log = log.borrow();
    assert_eq!(log.first(), Some(&Seen::Made), "{log:?}");
    assert_eq!(log.last(), Some(&Seen::Lost), "{log:?}");
    assert_eq!(log.iter().filter(|s| **s == Seen::Made).count(), 1);
    assert_eq!(log.iter().filter(|s| **s == Seen::Lost).count(), 1);
    assert_eq!(
        log.iter().filter(|s| matches!(s, Seen::Exited(_))).count(),
        1,
        "{log:?}"
    );
    for fd in 0..3 {
        let lost_at = log
            .iter()
            .position(|s| matches!(s, Seen::PipeLost(f, _) if *f == fd));
        let last_data = log
            .iter()
            .rposition(|s| matches!(s, Seen::Data(f, _) if *f == fd));
        if let (Some(d), Some(l)) = (last_data, lost_at) {
            assert!(d < l, "data after its pipe's loss on fd {fd}: {log:?}");
        }
        assert!(
            log.iter()
                .filter(|s| matches!(s, Seen::PipeLost(f, _) if *f == fd))
                .count()
                <= 1
        );
    }
}

/// True once `pid` is neither a zombie of ours nor a live process.
fn reaped(pid: u32) -> bool {
    let p = Pid::from_raw(pid as i32);
    let gone = matches!(
        waitpid(p, Some(WaitPidFlag::WNOHANG)),
        Err(nix::errno::Errno::ECHILD)
    );
    gone && nix::sys::signal::kill(p, None) == Err(nix::errno::Errno::ESRCH)
}

async fn spawn_shell(lp: &EventLoop, log: &Log, cmd: &str) -> SubprocessHandle {
    lp.subprocess_shell(recorder(log), cmd)
        .await
        .expect("spawn")
}

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
        let started = Instant::now();
        let c = spawn_shell(&l, &log, "(sleep 0.6; echo late) & exit 5").await;
        assert_eq!(c.wait().await.unwrap(), 5);
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(log.borrow().contains(&Seen::Exited(5)));
        // The pipe is still open: no ConnectionLost yet.
        assert!(!lost(&log));
        until(&l, || lost(&log)).await;
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
            stdin.write(vec![b'x'; n]);
            stdin.close();
            until(&l, || lost(&log)).await;
            let out = String::from_utf8(output(&log, 1)).unwrap();
            assert_eq!(out.trim(), n.to_string());
        }
    });
}

#[test]
fn q9_missing_program_is_not_found() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let err = l
            .subprocess_exec(recorder(&log), "/nonexistent/program", ["x"])
            .await
            .unwrap_err();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/program"), "{err}");
        assert!(log.borrow().is_empty());
        let err = l
            .subprocess_exec(recorder(&log), "", [""; 0])
            .await
            .unwrap_err();
        assert!(matches!(err, SubprocessError::InvalidArgs(_)), "{err:?}");
    });
}

/// Fault 29 / Q9 (alone, so no other test opens descriptors meanwhile): ten
/// failed spawns and ten good ones leave the descriptor count as it was.
#[test]
fn q9_fault_29_spawns_leak_no_descriptor() {
    if !is_alone_child() {
        return run_alone("q9_fault_29_spawns_leak_no_descriptor", "Q9-FDS-OK");
    }
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // Warm up: the loop's own descriptors (the read buffer, the self-pipe
        // is not made) exist before counting.
        let log: Log = Rc::default();
        spawn_shell(&l, &log, "true").await.wait().await.unwrap();
        until(&l, || lost(&log)).await;
        let before = open_fds();
        for _ in 0..10 {
            let err = l
                .subprocess_exec(recorder(&log), "/nonexistent/program", [""; 0])
                .await
                .unwrap_err();
            assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound));
        }
        for _ in 0..10 {
            let log: Log = Rc::default();
            let c = spawn_shell(&l, &log, "echo hi").await;
            until(&l, || lost(&log)).await;
            assert!(reaped(c.get_pid()));
        }
        assert_eq!(open_fds(), before);
    });
    println!("Q9-FDS-OK");
}

/// Fault 13 (alone): 100 children exit at once; each is reaped exactly
/// once, no zombie is left, and the descriptor count is as before.
#[test]
fn fault_13_a_hundred_children_at_once_leave_no_zombie() {
    if !is_alone_child() {
        return run_alone(
            "fault_13_a_hundred_children_at_once_leave_no_zombie",
            "FAULT13-OK",
        );
    }
    hundred_children();
    println!("FAULT13-OK");
}

fn hundred_children() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let _ = std::fs::remove_file(go_file());
    run_with_deadline(&lp, async move {
        // Warm up: what the loop keeps (a SIGCHLD self-pipe without pidfd)
        // exists before counting.
        let log: Log = Rc::default();
        spawn_shell(&l, &log, "true").await.wait().await.unwrap();
        until(&l, || lost(&log)).await;
        let before = open_fds();
        let mut children = Vec::new();
        let mut logs = Vec::new();
        for _ in 0..100 {
            let log: Log = Rc::default();
            // All wait on one barrier: the file appears, they all exit.
            let c = l
                .subprocess_shell(
                    recorder(&log),
                    "while [ ! -e \"$GO\" ]; do sleep 0.01; done; exit 9",
                )
                .env("GO", go_file())
                .await
                .unwrap();
            children.push(c);
            logs.push(log);
        }
        std::fs::write(go_file(), b"").unwrap();
        for c in &children {
            assert_eq!(c.wait().await.unwrap(), 9);
        }
        for log in &logs {
            until(&l, || lost(log)).await;
            check_grammar(log);
        }
        for c in &children {
            assert!(reaped(c.get_pid()), "pid {} not reaped", c.get_pid());
        }
        drop(children);
        assert_eq!(open_fds(), before);
    });
    let _ = std::fs::remove_file(go_file());
}

fn go_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("switchboard-go-{}", std::process::id()))
}

#[test]
fn fault_13_closing_the_loop_kills_and_reaps_a_running_child() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let log: Log = Rc::default();
    let rec = log.clone();
    let pid = run_with_deadline(&lp, async move {
        let c = spawn_shell(&l, &rec, "exec sleep 30").await;
        c.get_pid()
    });
    assert!(!reaped(pid));
    lp.close().unwrap();
    assert!(reaped(pid), "the loop left pid {pid} behind");
}

#[test]
fn spawn_works_from_a_loop_on_any_thread() {
    let out = std::thread::spawn(|| {
        let (lp, _h) = new_loop();
        let l = lp.clone();
        let log: Log = Rc::default();
        let rec = log.clone();
        run_with_deadline(&lp, async move {
            let c = spawn_shell(&l, &rec, "echo from a thread").await;
            assert_eq!(c.wait().await.unwrap(), 0);
            until(&l, || lost(&rec)).await;
        });
        lp.close().unwrap();
        output(&log, 1)
    })
    .join()
    .unwrap();
    assert_eq!(out, b"from a thread\n");
}

/// Without pidfd (old kernels): SIGCHLD and a `waitpid` per child. Runs in
/// a child process with `SWITCHBOARD_NO_PIDFD=1`.
#[test]
fn q1_fault_13_without_pidfd_sigchld_reaps_each_child() {
    if !is_alone_child() {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "q1_fault_13_without_pidfd_sigchld_reaps_each_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ALONE_CHILD, "1")
            .env("SWITCHBOARD_NO_PIDFD", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("NOPIDFD-OK"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log: Log = Rc::default();
        let c = spawn_shell(&l, &log, "echo x; exit 6").await;
        assert_eq!(c.wait().await.unwrap(), 6);
        until(&l, || lost(&log)).await;
        check_grammar(&log);
    });
    hundred_children();
    println!("NOPIDFD-OK");
}

/// Our children, zombies included (from `/proc/*/stat`).
fn children() -> Vec<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = stat.rsplit_once(')')?.1;
            (rest.split_whitespace().nth(1)? == me).then_some(pid)
        })
        .collect()
}

/// Q9 (alone, so every child is this test's): a spawn cancelled after the
/// child started and before the handle was handed over kills and reaps it.
#[test]
fn q9_a_spawn_cancelled_before_it_resolved_kills_and_reaps_the_child() {
    if !is_alone_child() {
        return run_alone(
            "q9_a_spawn_cancelled_before_it_resolved_kills_and_reaps_the_child",
            "Q9-CANCEL-OK",
        );
    }
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        assert!(children().is_empty());
        let log: Log = Rc::default();
        let spawn = l.subprocess_shell(recorder(&log), "exec sleep 30");
        // The task takes its first step (the child starts) and is cancelled
        // in the same batch, before the child's handle could be handed over.
        let task = Rc::new(l.create_task(spawn).unwrap());
        let t = task.clone();
        l.call_soon(move || {
            t.cancel();
        })
        .unwrap();
        until(&l, || task.done()).await;
        assert!(task.cancelled(), "the spawn was not cancelled");
        // Its protocol still saw a whole grammar, and the child was killed.
        until(&l, || lost(&log)).await;
        check_grammar(&log);
        assert!(
            log.borrow().contains(&Seen::Exited(-9)),
            "{:?}",
            log.borrow()
        );
        assert!(children().is_empty(), "left behind: {:?}", children());
    });
    println!("Q9-CANCEL-OK");
}

/// CLOEXEC everywhere: a child holds none of the loop's descriptors (its
/// poller, waker, pidfds) nor another child's pipes, only its own 0, 1, 2
/// (and whatever the test harness itself left inheritable).
#[test]
fn q7_a_child_inherits_no_descriptor_of_the_loop() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log_a: Log = Rc::default();
        let a = spawn_shell(&l, &log_a, "exec sleep 5").await;
        let a_out = a.get_pipe_transport(1).unwrap().fileno().unwrap();
        let a_pipe = std::fs::read_link(format!("/proc/self/fd/{a_out}")).unwrap();
        let log: Log = Rc::default();
        let b = spawn_shell(
            &l,
            &log,
            "for f in /proc/$$/fd/*; do echo \"${f##*/} $(readlink $f)\"; done",
        )
        .await;
        assert_eq!(b.wait().await.unwrap(), 0);
        until(&l, || lost(&log)).await;
        let out = String::from_utf8(output(&log, 1)).unwrap();
        for line in out.lines() {
            let (fd, target) = line.split_once(' ').unwrap();
            if ["0", "1", "2"].contains(&fd) {
                continue;
            }
            for loop_kind in ["eventpoll", "eventfd", "pidfd"] {
                assert!(!target.contains(loop_kind), "leaked {line}:\n{out}");
            }
            assert_ne!(target, a_pipe.to_str().unwrap(), "A's pipe leaked:\n{out}");
        }
        a.close();
        until(&l, || lost(&log_a)).await;
    });
}
