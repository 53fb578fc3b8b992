//! A recording subprocess protocol and checks on what it saw, for
//! `tests/subprocess.rs` and `tests/subprocess_reaping.rs`.

use std::cell::RefCell;
use std::rc::Rc;

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use switchboard::prelude::*;
use switchboard::SubprocessHandle;

/// One event a recording protocol saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Made,
    Data(i32, Vec<u8>),
    PipeLost(i32, Option<String>),
    Exited(i32),
    Lost,
}

pub type Log = Rc<RefCell<Vec<Seen>>>;

/// Records every event; on `ConnectionMade` writes `feed` to stdin and
/// closes it if asked.
pub struct Recorder {
    pub log: Log,
    pub feed: Option<Vec<u8>>,
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

pub fn recorder(log: &Log) -> impl FnOnce() -> Recorder + 'static {
    let log = log.clone();
    move || Recorder { log, feed: None }
}

pub fn lost(log: &Log) -> bool {
    log.borrow().contains(&Seen::Lost)
}

pub fn output(log: &Log, fd: i32) -> Vec<u8> {
    log.borrow()
        .iter()
        .filter_map(|s| match s {
            Seen::Data(f, d) if *f == fd => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

pub fn position(log: &Log, pred: impl Fn(&Seen) -> bool) -> Option<usize> {
    log.borrow().iter().position(pred)
}

/// Checks the grammar of the subprocess protocol (Q1, Q2 per fd).
pub fn check_grammar(log: &Log) {
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
pub fn reaped(pid: u32) -> bool {
    let p = Pid::from_raw(pid as i32);
    let gone = matches!(
        waitpid(p, Some(WaitPidFlag::WNOHANG)),
        Err(nix::errno::Errno::ECHILD)
    );
    gone && nix::sys::signal::kill(p, None) == Err(nix::errno::Errno::ESRCH)
}

pub async fn spawn_shell(lp: &EventLoop, log: &Log, cmd: &str) -> SubprocessHandle {
    lp.subprocess_shell(recorder(log), cmd)
        .await
        .expect("spawn")
}

/// Our children, zombies included (from `/proc/*/stat`).
pub fn children() -> Vec<u32> {
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
