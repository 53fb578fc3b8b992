//! `create_subprocess_exec`/`create_subprocess_shell` and `Process`:
//! asyncio's high-level subprocesses, built on the protocol layer.

use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::future::{poll_fn, Future, IntoFuture};
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use switchboard_protocols::{
    ProcessError, ProtocolError, Signal, SubprocessEvent, SubprocessProtocol, SubprocessTransport,
    TransportError,
};

use crate::event_loop::EventLoop;
use crate::streams::state::{StreamState, DEFAULT_STREAM_LIMIT};
use crate::streams::{ReadControl, Sink, StreamError, StreamReader, StreamWriter};
use crate::subprocess::{SpawnSubprocess, Stdio, SubprocessError, SubprocessHandle};

/// How much of each stream [`Process::communicate`] keeps by default (64 MiB).
pub const DEFAULT_COMMUNICATE_LIMIT: usize = 64 << 20;

/// The streams of one child: stdin (0), stdout (1), stderr (2).
struct Pipes([Rc<StreamState>; 3]);

/// Asyncio's `SubprocessStreamProtocol`: what the child writes goes to the
/// stdout/stderr readers; stdin's flow control to its writer.
struct ProcFeeder {
    pipes: Rc<Pipes>,
}

impl SubprocessProtocol for ProcFeeder {
    fn handle(
        &mut self,
        event: SubprocessEvent,
        t: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError> {
        let [stdin, ..] = &self.pipes.0;
        match event {
            SubprocessEvent::PipeDataReceived { fd, data } => {
                if let Some(state) = self.pipes.0.get(fd as usize) {
                    if state.feed(&data) {
                        if let Some(r) = t.get_pipe_transport(fd).and_then(|p| p.reader()) {
                            r.pause_reading();
                        }
                    }
                }
            }
            SubprocessEvent::PipeConnectionLost { fd, error } => {
                if let Some(state) = self.pipes.0.get(fd as usize) {
                    state.lost(error);
                }
            }
            SubprocessEvent::PauseWriting => stdin.writing_paused.set(true),
            SubprocessEvent::ResumeWriting => {
                stdin.writing_paused.set(false);
                stdin.wake_others();
            }
            SubprocessEvent::ConnectionLost(_) => {
                for state in &self.pipes.0 {
                    if !state.is_lost() {
                        state.lost(None);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A child started by [`EventLoop::create_subprocess_exec`] or
/// [`create_subprocess_shell`](EventLoop::create_subprocess_shell)
/// (asyncio's `asyncio.subprocess.Process`): its pipes as streams, its
/// return code, its signals.
///
/// Each of `stdin`, `stdout` and `stderr` is `Some` when that stream was
/// made a [`Stdio::Pipe`]. Dropping the `Process` leaves the child running
/// (as asyncio does); [`kill`](Self::kill) and [`wait`](Self::wait) end it.
#[derive(Debug)]
pub struct Process {
    /// The child's stdin, if it is a pipe.
    pub stdin: Option<StreamWriter>,
    /// The child's stdout, if it is a pipe.
    pub stdout: Option<StreamReader>,
    /// The child's stderr, if it is a pipe.
    pub stderr: Option<StreamReader>,
    handle: SubprocessHandle,
    communicate_limit: usize,
}

impl Process {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.handle.get_pid()
    }

    /// `None` while the child runs; its exit status once reaped, `-N` when
    /// signal `N` ended it.
    pub fn returncode(&self) -> Option<i32> {
        self.handle.get_returncode()
    }

    /// Waits for the child to exit and gives its return code (negative for
    /// a signal). A pipe the child left to a grandchild does not delay it.
    /// With pipes nobody reads, a child that writes more than they hold
    /// waits for them forever: read them, or use
    /// [`communicate`](Self::communicate).
    pub async fn wait(&self) -> crate::Result<i32> {
        Ok(self.handle.wait().await?)
    }

    /// Sends `input` to stdin (then closes it), reads stdout and stderr to
    /// their end, all at once so a child that fills one pipe while we write
    /// another cannot deadlock, and waits for the child (asyncio's
    /// `communicate`). Gives `(stdout, stderr)`, each empty if it was not a
    /// pipe. A child that stops reading stdin early is not an error (its
    /// broken pipe is ignored, as asyncio does).
    ///
    /// Beyond asyncio: each stream keeps at most the builder's
    /// [`communicate_limit`](CreateSubprocess::communicate_limit) (64 MiB
    /// by default); a child that writes more is killed and this fails with
    /// [`StreamError::LimitOverrun`], so a runaway child cannot grow this
    /// process without end.
    pub async fn communicate(&mut self, input: Option<&[u8]>) -> crate::Result<(Bytes, Bytes)> {
        let limit = self.communicate_limit;
        let stdin = self.stdin.take();
        let input = input.map(Bytes::copy_from_slice);
        let feed = async move {
            let Some(mut w) = stdin else { return Ok(()) };
            if let Some(data) = input {
                w.write_bytes(data);
            }
            let drained = w.drain().await;
            w.close();
            match drained {
                Err(StreamError::ConnectionLost(
                    TransportError::BrokenPipe | TransportError::ConnectionReset,
                ))
                | Err(StreamError::Closed) => Ok(()),
                other => other,
            }
        };
        let out = read_all(self.stdout.take(), limit);
        let err = read_all(self.stderr.take(), limit);
        let (fed, out, err) = join3(feed, out, err).await;
        if out.is_err() || err.is_err() {
            let _ = self.handle.kill();
        }
        let (out, err) = (out?, err?);
        fed?;
        self.wait().await?;
        Ok((out, err))
    }

    /// Sends `sig` to the child; [`ProcessError::Exited`] once it was
    /// reaped (a recycled pid is never signalled).
    pub fn send_signal(&self, sig: Signal) -> Result<(), ProcessError> {
        self.handle.send_signal(sig)
    }

    /// SIGTERM.
    pub fn terminate(&self) -> Result<(), ProcessError> {
        self.handle.terminate()
    }

    /// SIGKILL.
    pub fn kill(&self) -> Result<(), ProcessError> {
        self.handle.kill()
    }

    /// The protocol-level handle on the child (asyncio's `_transport`).
    pub fn handle(&self) -> &SubprocessHandle {
        &self.handle
    }
}

/// Reads `reader` to its end, keeping at most `limit` bytes.
async fn read_all(reader: Option<StreamReader>, limit: usize) -> crate::Result<Bytes> {
    let Some(mut r) = reader else {
        return Ok(Bytes::new());
    };
    let mut all = BytesMut::new();
    loop {
        let chunk = r.read(DEFAULT_STREAM_LIMIT).await?;
        if chunk.is_empty() {
            return Ok(all.freeze());
        }
        if all.len() + chunk.len() > limit {
            return Err(StreamError::LimitOverrun {
                consumed: all.len() + chunk.len(),
                limit,
            }
            .into());
        }
        all.extend_from_slice(&chunk);
    }
}

/// Drives three futures at once to their outputs.
async fn join3<A: Future, B: Future, C: Future>(
    a: A,
    b: B,
    c: C,
) -> (A::Output, B::Output, C::Output) {
    let (mut a, mut b, mut c) = (Box::pin(a), Box::pin(b), Box::pin(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(out) = a.as_mut().poll(cx) {
                ra = Some(out);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(out) = b.as_mut().poll(cx) {
                rb = Some(out);
            }
        }
        if rc.is_none() {
            if let Poll::Ready(out) = c.as_mut().poll(cx) {
                rc = Some(out);
            }
        }
        match (ra.take(), rb.take(), rc.take()) {
            (Some(x), Some(y), Some(z)) => Poll::Ready((x, y, z)),
            (x, y, z) => {
                (ra, rb, rc) = (x, y, z);
                Poll::Pending
            }
        }
    })
    .await
}

/// The builder [`EventLoop::create_subprocess_exec`] and
/// [`create_subprocess_shell`](EventLoop::create_subprocess_shell) return:
/// the methods of [`SpawnSubprocess`] plus [`limit`](Self::limit) and
/// [`communicate_limit`](Self::communicate_limit). Unlike the protocol
/// layer's, every stream is inherited unless made a [`Stdio::Pipe`], as in
/// asyncio. Awaiting it starts the child and gives its [`Process`].
#[must_use = "a CreateSubprocess does nothing until awaited"]
#[derive(Debug)]
pub struct CreateSubprocess {
    inner: SpawnSubprocess,
    limit: Rc<Cell<usize>>,
    communicate_limit: usize,
    pipes: Rc<RefCell<Option<Rc<Pipes>>>>,
}

impl std::fmt::Debug for Pipes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pipes")
    }
}

impl EventLoop {
    /// Starts `program` with `args` (asyncio's `create_subprocess_exec`).
    ///
    /// ```
    /// use switchboard::Stdio;
    /// switchboard::run(|lp| async move {
    ///     let mut p = lp
    ///         .create_subprocess_exec("sort", [""; 0])
    ///         .stdin(Stdio::Pipe)
    ///         .stdout(Stdio::Pipe)
    ///         .await?;
    ///     let (out, _) = p.communicate(Some(b"b\na\n")).await?;
    ///     assert_eq!(&out[..], b"a\nb\n");
    ///     assert_eq!(p.returncode(), Some(0));
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn create_subprocess_exec<I, S>(
        &self,
        program: impl AsRef<OsStr>,
        args: I,
    ) -> CreateSubprocess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (limit, pipes, factory) = feeder();
        let inner = self.subprocess_exec(factory, program, args);
        CreateSubprocess::new(inner, limit, pipes)
    }

    /// Runs `cmd` with `/bin/sh -c` (asyncio's `create_subprocess_shell`).
    ///
    /// ```
    /// use switchboard::Stdio;
    /// switchboard::run(|lp| async move {
    ///     let mut p = lp
    ///         .create_subprocess_shell("echo out; echo err >&2; exit 3")
    ///         .stdout(Stdio::Pipe)
    ///         .stderr(Stdio::Pipe)
    ///         .await?;
    ///     let (out, err) = p.communicate(None).await?;
    ///     assert_eq!((&out[..], &err[..]), (&b"out\n"[..], &b"err\n"[..]));
    ///     assert_eq!(p.wait().await?, 3);
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn create_subprocess_shell(&self, cmd: impl AsRef<OsStr>) -> CreateSubprocess {
        let (limit, pipes, factory) = feeder();
        let inner = self.subprocess_shell(factory, cmd);
        CreateSubprocess::new(inner, limit, pipes)
    }
}

type PipesSlot = Rc<RefCell<Option<Rc<Pipes>>>>;

fn feeder() -> (
    Rc<Cell<usize>>,
    PipesSlot,
    impl FnOnce() -> ProcFeeder + 'static,
) {
    let limit = Rc::new(Cell::new(DEFAULT_STREAM_LIMIT));
    let slot = PipesSlot::default();
    let (l, s) = (limit.clone(), slot.clone());
    let factory = move || {
        let n = l.get();
        let pipes = Rc::new(Pipes(std::array::from_fn(|_| Rc::new(StreamState::new(n)))));
        *s.borrow_mut() = Some(pipes.clone());
        ProcFeeder { pipes }
    };
    (limit, slot, factory)
}

impl CreateSubprocess {
    fn new(inner: SpawnSubprocess, limit: Rc<Cell<usize>>, pipes: PipesSlot) -> Self {
        CreateSubprocess {
            inner: inner
                .stdin(Stdio::Inherit)
                .stdout(Stdio::Inherit)
                .stderr(Stdio::Inherit),
            limit,
            communicate_limit: DEFAULT_COMMUNICATE_LIMIT,
            pipes,
        }
    }

    /// The limit of the stdout and stderr readers (64 KiB by default), as
    /// [`OpenConnection::limit`](crate::OpenConnection::limit).
    pub fn limit(self, limit: usize) -> Self {
        self.limit.set(limit.max(1));
        self
    }

    /// The most [`Process::communicate`] keeps of stdout, and of stderr
    /// (64 MiB by default).
    pub fn communicate_limit(mut self, limit: usize) -> Self {
        self.communicate_limit = limit;
        self
    }

    /// The child's stdin: [`Stdio::Pipe`] makes [`Process::stdin`].
    pub fn stdin(mut self, stdio: impl Into<Stdio>) -> Self {
        self.inner = self.inner.stdin(stdio);
        self
    }
    /// The child's stdout: [`Stdio::Pipe`] makes [`Process::stdout`].
    pub fn stdout(mut self, stdio: impl Into<Stdio>) -> Self {
        self.inner = self.inner.stdout(stdio);
        self
    }
    /// The child's stderr: [`Stdio::Pipe`] makes [`Process::stderr`],
    /// [`Stdio::Stdout`] merges it into stdout.
    pub fn stderr(mut self, stdio: impl Into<Stdio>) -> Self {
        self.inner = self.inner.stderr(stdio);
        self
    }
    /// As [`SpawnSubprocess::arg`].
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.inner = self.inner.arg(arg);
        self
    }
    /// As [`SpawnSubprocess::args`].
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.inner = self.inner.args(args);
        self
    }
    /// As [`SpawnSubprocess::env`].
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.inner = self.inner.env(key, value);
        self
    }
    /// As [`SpawnSubprocess::envs`].
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner = self.inner.envs(vars);
        self
    }
    /// As [`SpawnSubprocess::arg0`].
    pub fn arg0(mut self, arg0: impl Into<std::ffi::OsString>) -> Self {
        self.inner = self.inner.arg0(arg0);
        self
    }
    /// As [`SpawnSubprocess::uid`].
    pub fn uid(mut self, uid: u32) -> Self {
        self.inner = self.inner.uid(uid);
        self
    }
    /// As [`SpawnSubprocess::gid`].
    pub fn gid(mut self, gid: u32) -> Self {
        self.inner = self.inner.gid(gid);
        self
    }
    /// As [`SpawnSubprocess::env_remove`].
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.inner = self.inner.env_remove(key);
        self
    }
    /// As [`SpawnSubprocess::env_clear`].
    pub fn env_clear(mut self) -> Self {
        self.inner = self.inner.env_clear();
        self
    }
    /// As [`SpawnSubprocess::cwd`].
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.inner = self.inner.cwd(dir);
        self
    }
    /// As [`SpawnSubprocess::process_group`].
    pub fn process_group(mut self, pgid: i32) -> Self {
        self.inner = self.inner.process_group(pgid);
        self
    }

    async fn run(self) -> Result<Process, SubprocessError> {
        let handle = self.inner.await?;
        let pipes = self.pipes.borrow_mut().take();
        let Some(pipes) = pipes else {
            return Err(SubprocessError::Loop(crate::LoopError::Closed));
        };
        let [i, o, e] = &pipes.0;
        let stdin = handle
            .get_pipe_transport(0)
            .map(|p| StreamWriter::new(i.clone(), Sink::Pipe(p)));
        let reader = |fd, state: &Rc<StreamState>| {
            handle
                .get_pipe_transport(fd)
                .map(|p| StreamReader::new(state.clone(), ReadControl::Pipe(p)))
        };
        let (stdout, stderr) = (reader(1, o), reader(2, e));
        Ok(Process {
            stdin,
            stdout,
            stderr,
            handle,
            communicate_limit: self.communicate_limit,
        })
    }
}

impl IntoFuture for CreateSubprocess {
    type Output = Result<Process, SubprocessError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
