//! `switchboard-ctl`'s test kit (twisted-style fakes: the service is a
//! script, the tool is the real binary):
//!
//! * [`FakeControl`]: a control socket in a temp dir, answering each
//!   connection as a closure says (a hand-built `ControlReply`, an error,
//!   garbage, or silence), on its own thread.
//! * [`sample_reply`]: a group of two loops with a server and its
//!   connections, a supervisor with a running and a stopped child, bounded
//!   and unbounded mailboxes.
//! * [`ctl`]: runs the built `switchboard-ctl`, killed if it outlives
//!   [`DEADLINE`](super::DEADLINE).
//! * [`Tmux`]: a detached tmux session of its own (own server socket, no
//!   user config) to watch `top` draw in a real terminal.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard::introspect::{
    ActorInfo, ActorKind, ChildInfo, ControlReply, LagInfo, LoopInfo, MailboxInfo, ServerInfo,
    Snapshot, SupervisorInfo, TransportInfo,
};

use super::DEADLINE;

/// The built tool.
pub const CTL: &str = env!("CARGO_BIN_EXE_switchboard-ctl");

/// What the fake service does with one connection.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Writes this and closes.
    Text(String),
    /// Keeps the connection open and says nothing (a stuck service).
    Silent,
}

impl Answer {
    /// `reply` as JSON.
    pub fn reply(reply: &ControlReply) -> Answer {
        Answer::Text(serde_json::to_string(reply).expect("a reply serializes"))
    }
}

/// A fake control socket: `answer(n, command)` decides what the `n`-th
/// connection (from 0) gets; `command` is its first line, without `\n`.
#[derive(Debug)]
pub struct FakeControl {
    dir: tempfile::TempDir,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    commands: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeControl {
    /// Serves `answer` on a fresh socket.
    pub fn new(mut answer: impl FnMut(usize, &str) -> Answer + Send + 'static) -> FakeControl {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("control.sock");
        let listener = UnixListener::bind(&path).expect("bind the control socket");
        let stop = Arc::new(AtomicBool::new(false));
        let commands = Arc::new(Mutex::new(Vec::new()));
        let (stopping, log) = (stop.clone(), commands.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for (n, conn) in listener.incoming().enumerate() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(DEADLINE));
                let mut line = String::new();
                let _ = BufReader::new(&conn).read_line(&mut line);
                let command = line.trim_end_matches('\n').to_string();
                log.lock().unwrap().push(command.clone());
                match answer(n, &command) {
                    Answer::Text(text) => {
                        let _ = conn.write_all(text.as_bytes());
                    }
                    Answer::Silent => held.push(conn),
                }
            }
        });
        FakeControl {
            dir,
            path,
            stop,
            commands,
            thread: Some(thread),
        }
    }

    /// The protocol with a fixed reply: `snapshot` gets `reply`, anything
    /// else `{"error": "unknown command `...`"}`.
    pub fn replying(reply: &ControlReply) -> FakeControl {
        let reply = reply.clone();
        FakeControl::new(move |_, command| match command {
            "snapshot" => Answer::reply(&reply),
            other => Answer::Text(
                serde_json::json!({ "error": format!("unknown command `{other}`") }).to_string(),
            ),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The socket's path as a string, for command lines.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("a utf-8 temp path")
    }

    /// The temp dir the socket is in (for other files of the test).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The commands received so far, in order.
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
}

impl Drop for FakeControl {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept so the thread sees `stop`.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `switchboard-ctl ARGS` with stdin closed; kills it and fails the
/// test if it has not exited within [`DEADLINE`].
pub fn ctl(args: &[&str]) -> Output {
    let mut child = Command::new(CTL)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run switchboard-ctl");
    let deadline = Instant::now() + DEADLINE;
    while child
        .try_wait()
        .expect("wait for switchboard-ctl")
        .is_none()
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap switchboard-ctl");
            panic!("switchboard-ctl {args:?} still running after {DEADLINE:?}: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child
        .wait_with_output()
        .expect("collect switchboard-ctl's output")
}

/// An actor row with the fields every row has.
pub fn actor(id: usize, kind: ActorKind, name: Option<&str>, state: &str) -> ActorInfo {
    ActorInfo {
        id,
        generation: 1,
        kind,
        name: name.map(String::from),
        description: format!("{} #{id}", kind.as_str()),
        state: state.to_string(),
        ..ActorInfo::default()
    }
}

/// A connection of server row `parent` from `peer`.
pub fn connection(id: usize, parent: usize, peer: &str, t: TransportInfo) -> ActorInfo {
    ActorInfo {
        parent: Some(parent),
        transport: Some(TransportInfo {
            peer: Some(peer.to_string()),
            ..t
        }),
        ..actor(id, ActorKind::Transport, None, "open")
    }
}

/// Loop 0: server `echo` (#0) with connections #1 (quiet) and #2 (a
/// paused writer with 70 000 bytes buffered); supervisor `root` (#3) with
/// child `worker-a` (#4, mailbox 50/100) and `worker-b` not running;
/// `collector` (#5, unbounded mailbox of 12). Loop 1: server `echo` (#0)
/// with connection #1, and `shard` (#2). Its fractions are short decimals,
/// which serde_json reads back to the same `f64`.
pub fn sample_reply() -> ControlReply {
    let server = |connections| ActorInfo {
        server: Some(Box::new(ServerInfo {
            sockets: vec!["127.0.0.1:8000".to_string()],
            connections,
            accepted: 10,
            state: "serving".to_string(),
        })),
        messages: 12,
        ..actor(0, ActorKind::Server, Some("echo"), "serving")
    };
    let quiet = connection(
        1,
        0,
        "127.0.0.1:5555",
        TransportInfo {
            bytes_in: 1536,
            bytes_out: 4096,
            age_seconds: 2.5,
            ..TransportInfo::default()
        },
    );
    let busy = connection(
        2,
        0,
        "127.0.0.1:5556",
        TransportInfo {
            bytes_out: 1 << 20,
            write_buffer: 70_000,
            writing_paused: true,
            ..TransportInfo::default()
        },
    );
    let supervisor = ActorInfo {
        supervisor: Some(Box::new(SupervisorInfo {
            strategy: "one_for_one".to_string(),
            max_restarts: 3,
            within_seconds: 5.0,
            restarts_in_window: 1,
            restarts_total: 4,
            children: vec![
                ChildInfo {
                    name: "worker-a".to_string(),
                    actor: Some(4),
                    restarts: 1,
                },
                ChildInfo {
                    name: "worker-b".to_string(),
                    actor: None,
                    restarts: 3,
                },
            ],
        })),
        ..actor(3, ActorKind::Supervisor, Some("root"), "running")
    };
    let worker = ActorInfo {
        parent: Some(3),
        mailbox: MailboxInfo {
            depth: 50,
            bound: Some(100),
        },
        messages: 7,
        ..actor(4, ActorKind::Application, Some("worker-a"), "running")
    };
    let collector = ActorInfo {
        mailbox: MailboxInfo {
            depth: 12,
            bound: None,
        },
        ..actor(5, ActorKind::Application, Some("collector"), "running")
    };
    let first = Snapshot {
        lp: LoopInfo {
            group_index: Some(0),
            time: 10.0,
            iterations: 12345,
            tasks: 3,
            timers: 4,
            lag: LagInfo {
                p50: 0.000_125,
                p99: 0.0025,
                max: 0.005,
                window: 1024,
                buckets: vec![1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3],
                sum: 0.0078125,
            },
            ..LoopInfo::default()
        },
        actors: vec![server(2), quiet, busy, supervisor, worker, collector],
    };
    let second = Snapshot {
        lp: LoopInfo {
            group_index: Some(1),
            time: 10.0,
            iterations: 999,
            ..LoopInfo::default()
        },
        actors: vec![
            server(1),
            connection(1, 0, "127.0.0.1:6000", TransportInfo::default()),
            actor(2, ActorKind::Application, Some("shard"), "running"),
        ],
    };
    ControlReply {
        pid: 4242,
        loops: vec![first, second],
    }
}

/// A tmux server and session of the test's own.
#[derive(Debug)]
pub struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Starts the shell command `line` detached in a `width` × `height`
    /// window; the pane stays after the command exits, so its last screen
    /// can be read.
    pub fn start(dir: &Path, width: u16, height: u16, line: &str) -> Tmux {
        let tmux = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let (w, h) = (width.to_string(), height.to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "ctl",
            "-x",
            &w,
            "-y",
            &h,
            line,
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
        ]);
        tmux
    }

    /// Runs `tmux -S SOCKET ARGS` and returns its stdout; fails the test
    /// if tmux fails.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self
            .try_run(args)
            .unwrap_or_else(|e| panic!("tmux {args:?}: {e}"));
        out
    }

    fn try_run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tmux")
            .arg("-f")
            .arg("/dev/null")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// What the pane shows now.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "ctl"])
    }

    /// Polls the pane until `ready(screen)` holds and returns that screen;
    /// fails the test with the last screen after [`DEADLINE`].
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the pane never showed {what} within {DEADLINE:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pane's processes (its session) with their state and wait
    /// channel, for a failure message.
    pub fn processes(&self) -> String {
        let pid = self.run(&["display-message", "-p", "-t", "ctl", "#{pane_pid}"]);
        Command::new("ps")
            .args(["-o", "pid,ppid,stat,wchan:24,args", "-s", pid.trim()])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| format!("ps: {e}"))
    }

    /// Types `keys` (tmux key names, e.g. `q` or `C-c`).
    pub fn send_keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "ctl", keys]);
    }

    /// The contents of `path` once the pane's command has written it,
    /// polled until [`DEADLINE`]. The pane's shell line writes a file when
    /// the command under test has exited, rather than the test asking
    /// tmux whether the pane died: tmux built with libutempter can miss the
    /// SIGCHLD and leave the pane's shell a zombie it never reaps
    /// (tmux/tmux#311), which made `#{pane_dead}` never turn 1 here about
    /// once in 20 runs.
    pub fn wait_file(&self, path: &Path) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match std::fs::read_to_string(path) {
                Ok(text) if text.ends_with('\n') => return text,
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "{} was not written within {DEADLINE:?}; the pane's processes:\n{}\nthe pane shows:\n{}",
                path.display(),
                self.processes(),
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.try_run(&["kill-server"]);
    }
}

/// `arg` quoted for `sh`.
pub fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}
