//! Running subprocesses: spawn failures and cancelled spawns, reaping every
//! child exactly once (pidfd, or SIGCHLD without it), and descriptors that
//! neither leak nor reach children.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#running-subprocesses>
//!
//! Ids refer to docs/behavior.md (Q1, Q7, Q9, faults 13 and 29). Tests that
//! count descriptors or children run alone in a child process.

mod support;

use std::rc::Rc;

use switchboard::SubprocessError;

use support::net::{is_alone_child, open_fds, run_alone, until, ALONE_CHILD};
use support::subprocess::{
    check_grammar, children, lost, output, reaped, recorder, spawn_shell, Log, Seen,
};
use support::{new_loop, run_with_deadline};

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
