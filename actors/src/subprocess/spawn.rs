//! Starting a child: its program, arguments, environment and working
//! directory, and what its stdin, stdout and stderr are.
//!
//! `std::process::Command` does the fork and exec (it reports an exec
//! failure, such as a missing program, as an error and reaps that child
//! itself). Every descriptor this side makes is close-on-exec, so the child
//! gets only its three standard streams; the parent's copies of the child's
//! ends are closed before `spawn` returns, so EOF and broken pipes are seen.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::sys::unix::pipe as sys;

/// What one of the child's standard streams is.
#[derive(Debug)]
pub enum StdioSpec {
    /// A new pipe to the loop (the default).
    Pipe,
    /// `/dev/null`.
    Null,
    /// This process's own stream.
    Inherit,
    /// A descriptor the caller gives (a pipe, a file, a socket).
    Fd(OwnedFd),
    /// stderr only: the same as stdout.
    Stdout,
}

/// Everything `spawn` needs.
#[derive(Debug)]
pub struct SpawnSpec {
    /// The program (searched in `PATH` if it has no slash).
    pub program: OsString,
    /// The arguments after the program.
    pub args: Vec<OsString>,
    /// `argv[0]`, if not the program.
    pub arg0: Option<OsString>,
    /// Start from an empty environment.
    pub env_clear: bool,
    /// Variables to set (`Some`) or remove (`None`), in order.
    pub env: Vec<(OsString, Option<OsString>)>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// stdin, stdout, stderr.
    pub stdio: [StdioSpec; 3],
    /// `setpgid(0, pgid)` in the child (0: a new group led by the child).
    pub process_group: Option<i32>,
    /// `setuid` in the child.
    pub uid: Option<u32>,
    /// `setgid` in the child.
    pub gid: Option<u32>,
}

impl SpawnSpec {
    /// A spec for `program` with no arguments and every stream a pipe.
    pub fn new(program: impl Into<OsString>) -> Self {
        SpawnSpec {
            program: program.into(),
            args: Vec::new(),
            arg0: None,
            env_clear: false,
            env: Vec::new(),
            cwd: None,
            stdio: [StdioSpec::Pipe, StdioSpec::Pipe, StdioSpec::Pipe],
            process_group: None,
            uid: None,
            gid: None,
        }
    }
}

/// A started child: its pid and this side's ends of its pipes
/// (non-blocking, close-on-exec), `None` where a stream is not a pipe.
#[derive(Debug)]
pub struct Spawned {
    /// The child's pid.
    pub pid: u32,
    /// The write end of the child's stdin.
    pub stdin: Option<OwnedFd>,
    /// The read end of the child's stdout.
    pub stdout: Option<OwnedFd>,
    /// The read end of the child's stderr (`None` with `StdioSpec::Stdout`).
    pub stderr: Option<OwnedFd>,
}

/// Our end and the child's end of one stream.
struct Stream {
    ours: Option<OwnedFd>,
    child: Stdio,
    /// A copy of the child's end, for a stderr that goes to stdout.
    child_copy: Option<OwnedFd>,
    /// The child's end is `/dev/null`.
    null: bool,
}

fn stream(spec: StdioSpec, fd: usize, stdout: Option<&Stream>) -> io::Result<Stream> {
    let plain = |child, null| Stream {
        ours: None,
        child,
        child_copy: None,
        null,
    };
    Ok(match spec {
        StdioSpec::Pipe => {
            let (r, w) = sys::pipe()?;
            let (ours, theirs) = if fd == 0 { (w, r) } else { (r, w) };
            sys::set_nonblocking(ours.as_fd())?;
            let copy = theirs.try_clone()?;
            Stream {
                ours: Some(ours),
                child: Stdio::from(theirs),
                child_copy: Some(copy),
                null: false,
            }
        }
        StdioSpec::Null => plain(Stdio::null(), true),
        StdioSpec::Inherit => plain(Stdio::inherit(), false),
        StdioSpec::Fd(f) => {
            let copy = f.try_clone()?;
            Stream {
                ours: None,
                child: Stdio::from(f),
                child_copy: Some(copy),
                null: false,
            }
        }
        StdioSpec::Stdout => match stdout {
            Some(Stream {
                child_copy: Some(out),
                ..
            }) => plain(Stdio::from(out.try_clone()?), false),
            // stdout is /dev/null or this process's own: so is stderr.
            Some(Stream { null: true, .. }) => plain(Stdio::null(), true),
            _ => plain(
                Stdio::from(io::stdout().as_fd().try_clone_to_owned()?),
                false,
            ),
        },
    })
}

/// Starts the child described by `spec`.
pub fn spawn(spec: SpawnSpec) -> io::Result<Spawned> {
    let [stdin, stdout, stderr] = spec.stdio;
    if matches!(stdin, StdioSpec::Stdout) || matches!(stdout, StdioSpec::Stdout) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "only stderr can go to stdout",
        ));
    }
    let stdin = stream(stdin, 0, None)?;
    let stdout = stream(stdout, 1, None)?;
    let stderr = stream(stderr, 2, Some(&stdout))?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args);
    if let Some(arg0) = &spec.arg0 {
        cmd.arg0(arg0);
    }
    if spec.env_clear {
        cmd.env_clear();
    }
    for (k, v) in &spec.env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    if let Some(pgid) = spec.process_group {
        cmd.process_group(pgid);
    }
    if let Some(uid) = spec.uid {
        cmd.uid(uid);
    }
    if let Some(gid) = spec.gid {
        cmd.gid(gid);
    }
    cmd.stdin(stdin.child)
        .stdout(stdout.child)
        .stderr(stderr.child);
    let child = cmd.spawn();
    // The child's ends (held by `cmd` and the copies) close here, whether
    // the spawn worked or not: no descriptor leaks (Q9).
    drop(cmd);
    drop((stdin.child_copy, stdout.child_copy, stderr.child_copy));
    let child = child?;
    Ok(Spawned {
        pid: child.id(),
        stdin: stdin.ours,
        stdout: stdout.ours,
        stderr: stderr.ours,
    })
}
