//! The subprocess transport actor: the child's exit and its pipes turned
//! into [`SubprocessEvent`]s for one protocol, in the order documented on
//! the protocol's grammar (`switchboard_protocols::SubprocessEvent`).
//!
//! One actor owns the pidfd (source 0) and the three pipes (sources 1, 2,
//! 3 for the child's fds 0, 1, 2), so their events come out in one order.

use std::any::Any;
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use switchboard_protocols::{
    Exception, ExceptionContext, ReadPipeTransport, SubprocessEvent, SubprocessProtocol,
    SubprocessTransport, TransportError, WritePipeTransport,
};

use crate::context::{source_token, LoopActor, LoopContext, Readiness, Status};
use crate::flow::FlowSignal;
use crate::pipe::{ChildPipeCommand, PipeReader, PipeWriter, ReadStep};
use crate::subprocess::child::Child;
use crate::subprocess::core::ProcCore;
use crate::subprocess::info::ProcessInfo;
use crate::subprocess::{CheckExit, Start, SubprocessCommand};

/// Reads per readiness event of one pipe before yielding.
const READ_BUDGET: usize = 16;
/// Reads of one pipe when the child has exited: enough to empty the largest
/// pipe buffer (1 MiB) of what the child wrote, bounded so a grandchild
/// that writes without end cannot hold the loop.
const DRAIN_BUDGET: usize = 64;

/// Internal: deliver `ConnectionLost` on a later turn.
#[derive(Debug)]
struct Finish;

/// Internal: read the child's `fd` again.
#[derive(Debug)]
struct ReadMore(RawFd);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Pending,
    Open,
    Ending,
    Gone,
}

/// Hooks the owner of a subprocess transport sets.
#[allow(missing_debug_implementations)]
#[derive(Default)]
pub struct SubprocessHooks {
    /// Runs once `ConnectionMade` was delivered.
    pub on_made: Option<Box<dyn FnOnce()>>,
    /// Kept until the transport goes (a SIGCHLD subscription, without pidfd).
    pub guard: Option<Box<dyn Any>>,
}

/// A child, its pipes and the protocol that hears about them.
pub struct UnixSubprocessTransport {
    core: ProcCore,
    protocol: Box<dyn SubprocessProtocol>,
    phase: Phase,
    /// `ProcessExited` was delivered.
    exited: bool,
    hooks: SubprocessHooks,
}

impl std::fmt::Debug for UnixSubprocessTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl UnixSubprocessTransport {
    /// Takes a spawned child and this side's ends of its pipes and registers
    /// them under `token` (the actor's own token: the pidfd there, the pipes
    /// under sources 1–3). Tells whether the exit comes by pidfd (else the
    /// owner must send [`CheckExit`] on SIGCHLD).
    pub fn new(
        pid: u32,
        stdin: Option<std::os::fd::OwnedFd>,
        stdout: Option<std::os::fd::OwnedFd>,
        stderr: Option<std::os::fd::OwnedFd>,
        protocol: Box<dyn SubprocessProtocol>,
        registry: &mio::Registry,
        token: mio::Token,
    ) -> std::io::Result<(Self, Rc<ProcessInfo>, bool)> {
        use crate::pipe::PipeInfo;
        let stdin = stdin.map(|fd| PipeWriter::new(fd, false));
        let stdout = stdout.map(PipeReader::new);
        let stderr = stderr.map(PipeReader::new);
        let pipe_info = |fd: Option<RawFd>| fd.map(|fd| Rc::new(PipeInfo::new(fd)));
        let pipes = [
            pipe_info(stdin.as_ref().and_then(|p| p.fileno())),
            pipe_info(stdout.as_ref().and_then(|p| p.fileno())),
            pipe_info(stderr.as_ref().and_then(|p| p.fileno())),
        ];
        let info = Rc::new(ProcessInfo::new(pid, pipes));
        // From here on the child is reaped even if a registration fails
        // (dropping `child` kills and reaps it).
        let child = Child::new(info.clone());
        child.register(registry, token)?;
        if let Some(p) = &stdin {
            p.register(registry, source_token(token, 1))?;
        }
        if let Some(p) = &stdout {
            p.register(registry, source_token(token, 2))?;
        }
        if let Some(p) = &stderr {
            p.register(registry, source_token(token, 3))?;
        }
        let has_pidfd = child.has_pidfd();
        let actor = UnixSubprocessTransport {
            core: ProcCore {
                child,
                stdin,
                stdout,
                stderr,
                closing: false,
            },
            protocol,
            phase: Phase::Pending,
            exited: false,
            hooks: SubprocessHooks::default(),
        };
        Ok((actor, info, has_pidfd))
    }

    /// Sets the owner's hooks (before the transport starts).
    pub fn set_hooks(&mut self, hooks: SubprocessHooks) {
        self.hooks = hooks;
    }

    fn info(&self) -> &ProcessInfo {
        &self.core.child.info
    }

    /// Calls the protocol once. A failure is reported and the child left
    /// alone.
    fn call(&mut self, ev: SubprocessEvent, cx: &mut dyn LoopContext) {
        if self.phase == Phase::Gone {
            return;
        }
        let callback = match &ev {
            SubprocessEvent::ConnectionMade => "connection_made",
            SubprocessEvent::PipeDataReceived { .. } => "pipe_data_received",
            SubprocessEvent::PipeConnectionLost { .. } => "pipe_connection_lost",
            SubprocessEvent::PauseWriting => "pause_writing",
            SubprocessEvent::ResumeWriting => "resume_writing",
            SubprocessEvent::ProcessExited { .. } => "process_exited",
            _ => "connection_lost",
        };
        let (core, protocol) = (&mut self.core, &mut self.protocol);
        let exception = match catch_unwind(AssertUnwindSafe(|| protocol.handle(ev, core))) {
            Ok(Ok(())) => return,
            Ok(Err(e)) => Exception::Error(e.to_string()),
            Err(p) if p.is::<switchboard_protocols::Interrupt>() => {
                cx.interrupt();
                return;
            }
            Err(p) => Exception::from_panic(&*p),
        };
        cx.report(
            ExceptionContext::new(format!("Exception in protocol.{callback}()"))
                .with_exception(exception)
                .with_transport(self.describe())
                .with_protocol(callback),
        );
    }

    /// Delivers `ev`, then what the handler raised: stdin's watermark events
    /// and the loss of any pipe it closed, in order.
    fn deliver(&mut self, ev: SubprocessEvent, cx: &mut dyn LoopContext) {
        self.call(ev, cx);
        self.deliver_raised(cx);
    }

    fn deliver_raised(&mut self, cx: &mut dyn LoopContext) {
        loop {
            if let Some(sig) = self.core.stdin.as_mut().and_then(|p| p.take_raised()) {
                let ev = match sig {
                    FlowSignal::Pause => SubprocessEvent::PauseWriting,
                    FlowSignal::Resume => SubprocessEvent::ResumeWriting,
                };
                self.call(ev, cx);
                continue;
            }
            if let Some((fd, error)) = self.take_lost_pipe(cx) {
                self.call(SubprocessEvent::PipeConnectionLost { fd, error }, cx);
                continue;
            }
            break;
        }
    }

    /// The first pipe that closed and was not reported yet: deregistered,
    /// closed, and returned with its reason.
    fn take_lost_pipe(
        &mut self,
        cx: &mut dyn LoopContext,
    ) -> Option<(RawFd, Option<TransportError>)> {
        let registry = cx.registry();
        let core = &mut self.core;
        let info = &core.child.info;
        let lost = if let Some(r) = core.stdin.as_mut().and_then(|p| p.take_lost(registry)) {
            (0, r)
        } else if let Some(r) = core.stdout.as_mut().and_then(|p| p.take_lost(registry)) {
            (1, r)
        } else if let Some(r) = core.stderr.as_mut().and_then(|p| p.take_lost(registry)) {
            (2, r)
        } else {
            return None;
        };
        if let Some(p) = &info.pipes[lost.0 as usize] {
            p.set_lost();
        }
        Some(lost)
    }

    /// Reads the child's `fd` (1 or 2) until it is empty, at EOF, paused,
    /// or `budget` reads were made; each read is delivered at once.
    fn read_pipe(
        &mut self,
        fd: RawFd,
        cx: &mut dyn LoopContext,
        budget: usize,
        short_drains: bool,
    ) {
        for _ in 0..budget {
            let step = {
                let Some(reader) = self.core.reader(fd) else {
                    return;
                };
                let buf = cx.read_buffer();
                buf.clear();
                reader.read_step(buf)
            };
            match step {
                ReadStep::Data(data, short) => {
                    self.deliver(SubprocessEvent::PipeDataReceived { fd, data }, cx);
                    if short && short_drains {
                        return;
                    }
                }
                ReadStep::Eof => {
                    if let Some(r) = self.core.reader(fd) {
                        r.die(None);
                    }
                    self.deliver_raised(cx);
                    return;
                }
                ReadStep::Failed(e) => {
                    if let Some(r) = self.core.reader(fd) {
                        r.die(Some(e));
                    }
                    self.deliver_raised(cx);
                    return;
                }
                ReadStep::Idle => return,
            }
        }
        let me = cx.id();
        cx.send(me, Box::new(ReadMore(fd)));
    }

    /// If the child has exited: reaps it, settles its waiters, reads what
    /// it left in stdout and stderr, then delivers `ProcessExited` (the
    /// order the protocol's grammar promises).
    fn check_exit(&mut self, cx: &mut dyn LoopContext) {
        if self.exited || self.phase != Phase::Open {
            return;
        }
        let Some(returncode) = self.core.child.try_reap(Some(cx.registry())) else {
            return;
        };
        self.info().fire_waiters();
        for fd in [1, 2] {
            if self.core.reader(fd).is_some_and(|r| r.is_reading()) {
                self.read_pipe(fd, cx, DRAIN_BUDGET, false);
            }
        }
        self.exited = true;
        self.deliver(SubprocessEvent::ProcessExited { returncode }, cx);
    }

    /// After any step: report pipes that closed, read again where asked,
    /// notice an exit reaped by `close()`, and schedule `ConnectionLost`
    /// once the child exited and every pipe is gone.
    fn settle(&mut self, cx: &mut dyn LoopContext) -> Status {
        self.deliver_raised(cx);
        for fd in [1, 2] {
            if let Some(r) = self.core.reader(fd) {
                // What a handle's `is_reading()` reads: the protocol may
                // have paused or resumed this pipe during the step.
                let reading = r.is_reading();
                if std::mem::take(&mut r.read_again) {
                    let me = cx.id();
                    cx.send(me, Box::new(ReadMore(fd)));
                }
                if let Some(p) = &self.core.child.info.pipes[fd as usize] {
                    p.mark_reading(reading);
                }
            }
        }
        if self.core.child.info.returncode().is_some() {
            self.check_exit(cx);
        }
        if let (Some(p), Some(w)) = (&self.info().pipes[0], &self.core.stdin) {
            p.set_buffered(w.get_write_buffer_size());
        }
        if self.phase == Phase::Open && self.exited && self.core.pipes_gone() {
            self.phase = Phase::Ending;
            let me = cx.id();
            cx.send(me, Box::new(Finish));
        }
        if self.phase == Phase::Gone {
            Status::Done
        } else {
            Status::Alive
        }
    }

    fn pipe_command(&mut self, cmd: ChildPipeCommand, cx: &mut dyn LoopContext) {
        let ChildPipeCommand { fd, cmd } = cmd;
        match fd {
            0 => {
                if let Some(w) = self.core.stdin.as_mut() {
                    if let switchboard_protocols::PipeCommand::Write(b) = &cmd {
                        if let Some(p) = &self.core.child.info.pipes[0] {
                            p.take_pending(b.len());
                        }
                    }
                    if let Err(refused) = w.command(cmd) {
                        cx.report(ExceptionContext::new(format!(
                            "stdin command refused: {refused}"
                        )));
                    }
                }
            }
            1 | 2 => {
                if let Some(r) = self.core.reader(fd) {
                    r.command(cmd);
                }
            }
            _ => {}
        }
        // Watermark events a handle's write raised.
        self.deliver_raised(cx);
    }
}

impl LoopActor for UnixSubprocessTransport {
    fn ready(&mut self, readiness: Readiness, cx: &mut dyn LoopContext) -> Status {
        if self.phase == Phase::Open {
            match readiness.source {
                0 => self.check_exit(cx),
                1 => {
                    if let Some(w) = self.core.stdin.as_mut() {
                        w.on_ready(readiness.closed);
                    }
                }
                2 => self.read_pipe(1, cx, READ_BUDGET, !readiness.closed),
                3 => self.read_pipe(2, cx, READ_BUDGET, !readiness.closed),
                _ => {}
            }
        }
        self.settle(cx)
    }

    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        if msg.is::<Start>() {
            if self.phase == Phase::Pending {
                self.phase = Phase::Open;
                self.deliver(SubprocessEvent::ConnectionMade, cx);
                if let Some(hook) = self.hooks.on_made.take() {
                    hook();
                }
                // Output and an exit that came before we started.
                self.read_pipe(1, cx, READ_BUDGET, false);
                self.read_pipe(2, cx, READ_BUDGET, false);
                self.check_exit(cx);
            }
        } else if msg.is::<CheckExit>() {
            self.check_exit(cx);
        } else if let Some(ReadMore(fd)) = msg.downcast_ref::<ReadMore>() {
            if self.phase == Phase::Open {
                self.read_pipe(*fd, cx, READ_BUDGET, false);
            }
        } else if msg.is::<Finish>() {
            if self.phase == Phase::Ending {
                self.call(SubprocessEvent::ConnectionLost(None), cx);
                self.phase = Phase::Gone;
                self.info().set_lost();
            }
        } else if let Some(SubprocessCommand::Close) = msg.downcast_ref::<SubprocessCommand>() {
            self.core.close();
        } else if let Ok(cmd) = msg.downcast::<ChildPipeCommand>() {
            self.pipe_command(*cmd, cx);
        }
        self.settle(cx)
    }

    fn shutdown(&mut self, cx: &mut dyn LoopContext) {
        let registry = cx.registry();
        if let Some(p) = self.core.stdin.as_mut() {
            p.die(None);
            let _ = p.take_lost(registry);
        }
        for fd in [1, 2] {
            if let Some(r) = self.core.reader(fd) {
                r.die(None);
                let _ = r.take_lost(registry);
            }
        }
        self.phase = Phase::Gone;
        self.info().set_lost();
        // Dropping the actor kills and reaps a child that still runs.
    }

    fn inspect(&self, info: &mut crate::inspect::ActorInfo) {
        info.kind = crate::inspect::ActorKind::Subprocess;
        let returncode = self.info().returncode();
        let state = if returncode.is_some() {
            "exited"
        } else {
            "running"
        };
        info.state = state.into();
        info.process = Some(Box::new(crate::inspect::ProcessInfo {
            pid: self.info().pid,
            state: state.into(),
            returncode,
        }));
    }

    fn describe(&self) -> String {
        format!(
            "<UnixSubprocessTransport pid={} returncode={:?} {:?}>",
            self.info().pid,
            self.info().returncode(),
            self.phase
        )
    }
}
