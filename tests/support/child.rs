//! A running example (or CPython script) whose output is collected in the
//! background, killed and reaped on drop unless it exited; every wait is
//! bounded. (The same shape as the `Child` of `tests/examples_net.rs`, here
//! for the test files that came later.)
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long one step (start, run, exit) may take once built.
pub const STEP: Duration = Duration::from_secs(30);

/// A running child process.
pub struct Child {
    inner: std::process::Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Child {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Starts `cmd` with its output collected.
    pub fn start(mut cmd: Command) -> Child {
        let mut inner = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?} starts: {e}"));
        let (out, err): (Arc<Mutex<String>>, Arc<Mutex<String>>) = Default::default();
        let pipes: [(Box<dyn Read + Send>, _); 2] = [
            (
                Box::new(inner.stdout.take().expect("stdout")),
                Arc::clone(&out),
            ),
            (
                Box::new(inner.stderr.take().expect("stderr")),
                Arc::clone(&err),
            ),
        ];
        let readers = pipes
            .into_iter()
            .map(|(mut pipe, sink)| {
                thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = pipe.read(&mut buf) {
                        let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                })
            })
            .collect();
        Child {
            inner,
            out,
            err,
            readers,
        }
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        self.err.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends `sig`.
    pub fn signal(&self, sig: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.inner.id()).expect("pid fits"));
        kill(pid, sig).expect("signal the child");
    }

    /// Waits until stdout contains `text`; panics after `STEP` or if the
    /// child exits without printing it.
    pub fn wait_for_output(&mut self, text: &str) {
        let deadline = Instant::now() + STEP;
        while !self.stdout().contains(text) {
            if let Some(status) = self.inner.try_wait().expect("try_wait") {
                for r in self.readers.drain(..) {
                    r.join().ok();
                }
                assert!(
                    self.stdout().contains(text),
                    "exited ({status}) without {text:?}; stdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} within {STEP:?}; stdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the child to exit and its output to be read.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(status) = self.inner.try_wait().expect("try_wait") {
                for r in self.readers.drain(..) {
                    r.join().ok();
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not exit within {STEP:?}; stdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for a successful exit and returns stdout; fails if the child
    /// reported an error through switchboard's default exception handler
    /// (Z4 for examples; see [`success_reporting`](Self::success_reporting)).
    pub fn success(&mut self) -> String {
        let (stdout, reports) = self.success_reporting();
        assert!(
            reports.is_empty(),
            "errors reported that no one expected:\n{}",
            reports.join("\n")
        );
        stdout
    }

    /// Waits for a successful exit; returns stdout and the errors the child
    /// reported, for the test to check exactly.
    pub fn success_reporting(&mut self) -> (String, Vec<String>) {
        let status = self.wait();
        assert!(
            status.success(),
            "status {status}; stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        (self.stdout(), super::examples::reports(&self.stderr()))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.inner.try_wait() {
            self.inner.kill().ok();
            self.inner.wait().ok();
        }
    }
}

/// Process `pid`'s resident memory: (current, peak) in KiB, from
/// `/proc/PID/status` (`VmRSS`, `VmHWM`).
pub fn rss_kib(pid: u32) -> (usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Process `pid`'s peak resident memory (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> usize {
    rss_kib(pid).1
}

/// Waits for `child` to exit, polling its status (the kernel's, so there is
/// no message to wait on) every 20 ms; fails if it has not exited within
/// `timeout`.
pub fn exit_within(child: &mut std::process::Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not exit within {timeout:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}
