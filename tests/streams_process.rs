//! asyncio's high-level subprocesses: `create_subprocess_exec`/`_shell`,
//! `Process`, `communicate`.
//! <https://docs.python.org/3/library/asyncio-subprocess.html>
//!
//! Ids refer to docs/behavior.md (HP).

mod support;

use std::time::Duration;

use switchboard::{Error, Stdio, StreamError};

use support::{new_loop, run_with_deadline};

#[test]
fn hp1_communicate_pushes_and_pulls_megabytes_at_once_without_deadlock() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // `cat` fills its stdout pipe long before we finish writing stdin:
        // writing first and reading after would deadlock.
        let input: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        let mut p = l
            .create_subprocess_exec("cat", [""; 0])
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .await
            .unwrap();
        let (out, err) = p.communicate(Some(&input)).await.unwrap();
        assert_eq!(out.len(), input.len());
        assert!(out == input, "the bytes come back in order");
        assert!(err.is_empty());
        assert_eq!(p.returncode(), Some(0));
    });
}

#[test]
fn hp1_sort_of_a_mebibyte_and_a_shell_with_stdout_stderr_and_exit_code() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let mut lines = Vec::new();
        for i in (0..100_000u32).rev() {
            lines.extend_from_slice(format!("{i:09}\n").as_bytes());
        }
        let mut p = l
            .create_subprocess_exec("sort", [""; 0])
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .await
            .unwrap();
        let (out, _) = p.communicate(Some(&lines)).await.unwrap();
        assert_eq!(out.len(), lines.len());
        assert!(out.starts_with(b"000000000\n000000001\n"));
        assert!(out.ends_with(b"000099999\n"));

        let mut sh = l
            .create_subprocess_shell("echo out; echo err >&2; exit 3")
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Pipe)
            .await
            .unwrap();
        assert!(sh.stdin.is_none(), "stdin is inherited unless piped");
        let (out, err) = sh.communicate(None).await.unwrap();
        assert_eq!((&out[..], &err[..]), (&b"out\n"[..], &b"err\n"[..]));
        assert_eq!(sh.wait().await.unwrap(), 3);
    });
}

#[test]
fn hp2_stdout_streams_line_by_line_and_a_signal_gives_a_negative_code() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let mut p = l
            .create_subprocess_shell("echo first; exec sleep 30")
            .stdout(Stdio::Pipe)
            .await
            .unwrap();
        let stdout = p.stdout.as_mut().unwrap();
        assert_eq!(&stdout.readline().await.unwrap()[..], b"first\n");
        assert_eq!(p.returncode(), None);
        p.kill().unwrap();
        assert_eq!(p.wait().await.unwrap(), -9);
        assert_eq!(p.returncode(), Some(-9));
        assert!(p
            .stdout
            .as_mut()
            .unwrap()
            .readline()
            .await
            .unwrap()
            .is_empty());
        assert!(matches!(
            p.kill(),
            Err(switchboard::ProcessError::Exited { .. })
        ));
    });
}

#[test]
fn hp3_a_missing_program_fails_naming_it_with_the_os_reason() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let e = l
            .create_subprocess_exec("no-such-program-xyz", ["a"])
            .await
            .unwrap_err();
        assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
        let shown = Error::from(e).to_string();
        assert_eq!(
            shown,
            "cannot spawn no-such-program-xyz: No such file or directory (os error 2)"
        );
    });
}

#[test]
fn hp4_communicate_keeps_at_most_its_limit_and_kills_a_runaway_child() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let mut p = l
            .create_subprocess_exec("cat", ["/dev/zero"])
            .stdout(Stdio::Pipe)
            .communicate_limit(1 << 20)
            .await
            .unwrap();
        let got = p.communicate(None).await;
        assert!(
            matches!(got, Err(Error::Stream(StreamError::LimitOverrun { limit, .. })) if limit == 1 << 20),
            "{got:?}"
        );
        assert_eq!(p.wait().await.unwrap(), -9);
    });
}

#[test]
fn hp5_a_child_that_does_not_read_holds_drain_until_it_goes() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let mut p = l
            .create_subprocess_exec("sleep", ["30"])
            .stdin(Stdio::Pipe)
            .await
            .unwrap();
        let mut stdin = p.stdin.take().unwrap();
        stdin.write(&vec![b'x'; 4 << 20]);
        let waited = switchboard::wait_for(stdin.drain(), Duration::from_millis(200)).await;
        assert!(
            waited.is_err(),
            "drain returned with 4 MiB unread: {waited:?}"
        );
        p.kill().unwrap();
        let after = stdin.drain().await;
        assert!(
            matches!(
                after,
                Err(StreamError::ConnectionLost(_) | StreamError::Closed)
            ),
            "{after:?}"
        );
        assert_eq!(p.wait().await.unwrap(), -9);
    });
}

#[test]
fn q8_hp6_a_full_stdout_reader_pauses_the_pipe_and_reading_resumes_it() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        const TOTAL: usize = 4 << 20;
        let mut p = l
            .create_subprocess_exec("head", ["-c", &TOTAL.to_string(), "/dev/zero"])
            .stdout(Stdio::Pipe)
            .limit(64 * 1024)
            .await
            .unwrap();
        let pipe = p.handle().get_pipe_transport(1).expect("stdout is a pipe");
        // Nobody reads: past 2 x limit the pipe stops being read, and the
        // child blocks on a full pipe instead of filling our memory.
        support::net::until(&l, || !pipe.is_reading()).await;
        for _ in 0..50 {
            switchboard::sleep(Duration::from_millis(1)).await;
        }
        assert!(!pipe.is_reading());
        assert_eq!(p.returncode(), None, "the child waits on its full pipe");
        // Reading resumes the pipe and gets every byte.
        let stdout = p.stdout.as_mut().unwrap();
        let mut got = 0;
        loop {
            let chunk = stdout.read(1 << 20).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.iter().all(|&b| b == 0));
            got += chunk.len();
        }
        assert_eq!(got, TOTAL);
        assert_eq!(p.wait().await.unwrap(), 0);
    });
}

#[test]
fn hp1_the_builder_passes_environment_and_working_directory_through() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let dir = tempfile::tempdir().unwrap();
        let mut p = l
            .create_subprocess_shell("echo \"$A $B\"; pwd")
            .envs([("A", "one"), ("B", "two")])
            .cwd(dir.path())
            .stdout(Stdio::Pipe)
            .await
            .unwrap();
        let (out, _) = p.communicate(None).await.unwrap();
        let want = format!(
            "one two\n{}\n",
            dir.path().canonicalize().unwrap().display()
        );
        assert_eq!(String::from_utf8_lossy(&out), want);
    });
}
