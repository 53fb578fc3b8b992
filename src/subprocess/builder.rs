//! `subprocess_exec` and `subprocess_shell`: the builder and its future.

use std::ffi::{OsStr, OsString};
use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;

use switchboard_actors::pipe;
use switchboard_actors::signal::{ListenGuard, SignalListener};
use switchboard_actors::subprocess::{
    spawn, CheckExit, SpawnSpec, Start, SubprocessCommand, SubprocessHooks, UnixSubprocessTransport,
};
use switchboard_actors::LoopContext;
use switchboard_protocols::{ActorId, Signal, SubprocessProtocol};

use crate::event_loop::{EventLoop, FIRST_ACTOR_TOKEN};
use crate::routing;
use crate::subprocess::error::SubprocessError;
use crate::subprocess::handle::SubprocessHandle;
use crate::subprocess::stdio::Stdio;

type ProtocolMaker = Box<dyn FnOnce() -> Box<dyn SubprocessProtocol>>;

/// The builder [`EventLoop::subprocess_exec`] and
/// [`EventLoop::subprocess_shell`] return: each `subprocess.Popen` keyword
/// argument that makes sense here is a method. Await it (it implements
/// `IntoFuture`); it resolves once the child runs and its protocol got
/// `ConnectionMade`.
#[must_use = "a SpawnSubprocess does nothing until awaited"]
pub struct SpawnSubprocess {
    lp: EventLoop,
    factory: ProtocolMaker,
    spec: SpawnSpec,
    invalid: Option<&'static str>,
}

impl std::fmt::Debug for SpawnSubprocess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnSubprocess")
            .field("program", &self.spec.program)
            .field("args", &self.spec.args)
            .finish()
    }
}

impl EventLoop {
    /// Runs `program` with `args` (no shell), its events going to the
    /// protocol `factory` makes (asyncio's `loop.subprocess_exec`). stdin,
    /// stdout and stderr are pipes unless set otherwise.
    ///
    /// ```no_run
    /// use switchboard::prelude::*;
    ///
    /// /// Prints what the child prints.
    /// struct Show;
    /// impl SubprocessProtocol for Show {
    ///     fn handle(&mut self, ev: SubprocessEvent, _t: &mut dyn SubprocessTransport) -> Result<(), ProtocolError> {
    ///         if let SubprocessEvent::PipeDataReceived { fd: 1, data } = ev {
    ///             print!("{}", String::from_utf8_lossy(&data));
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// switchboard::run(|lp| async move {
    ///     let child = lp.subprocess_exec(|| Show, "echo", ["hello"]).await?;
    ///     assert_eq!(child.wait().await?, 0);
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn subprocess_exec<P, I, S>(
        &self,
        factory: impl FnOnce() -> P + 'static,
        program: impl AsRef<OsStr>,
        args: I,
    ) -> SpawnSubprocess
    where
        P: SubprocessProtocol,
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let program = program.as_ref().to_os_string();
        let invalid = program
            .is_empty()
            .then_some("subprocess_exec needs a program");
        let mut spec = SpawnSpec::new(program);
        spec.args = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        SpawnSubprocess {
            lp: self.clone(),
            factory: Box::new(move || Box::new(factory())),
            spec,
            invalid,
        }
    }

    /// Runs `cmd` with the shell (`/bin/sh -c cmd`), its events going to the
    /// protocol `factory` makes (asyncio's `loop.subprocess_shell`). Quoting
    /// what goes into `cmd` is the caller's job.
    pub fn subprocess_shell<P: SubprocessProtocol>(
        &self,
        factory: impl FnOnce() -> P + 'static,
        cmd: impl AsRef<OsStr>,
    ) -> SpawnSubprocess {
        let mut builder =
            self.subprocess_exec(factory, "/bin/sh", [OsStr::new("-c"), cmd.as_ref()]);
        builder.spec.arg0 = Some("sh".into());
        builder
    }
}

impl SpawnSubprocess {
    /// The child's stdin (default [`Stdio::Pipe`]).
    pub fn stdin(mut self, stdio: impl Into<Stdio>) -> Self {
        let stdio = stdio.into();
        if matches!(stdio, Stdio::Stdout) {
            self.invalid = Some("stdin cannot be Stdio::Stdout");
        }
        self.spec.stdio[0] = stdio.into_spec();
        self
    }
    /// The child's stdout (default [`Stdio::Pipe`]).
    pub fn stdout(mut self, stdio: impl Into<Stdio>) -> Self {
        let stdio = stdio.into();
        if matches!(stdio, Stdio::Stdout) {
            self.invalid = Some("stdout cannot be Stdio::Stdout");
        }
        self.spec.stdio[1] = stdio.into_spec();
        self
    }
    /// The child's stderr (default [`Stdio::Pipe`]; [`Stdio::Stdout`] merges
    /// it into stdout).
    pub fn stderr(mut self, stdio: impl Into<Stdio>) -> Self {
        self.spec.stdio[2] = stdio.into().into_spec();
        self
    }
    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.spec.args.push(arg.as_ref().to_os_string());
        self
    }
    /// More arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.spec
            .args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    /// Sets an environment variable for the child (`env=`).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.spec.env.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }
    /// Sets several environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }
    /// Removes an environment variable for the child.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.spec.env.push((key.as_ref().to_os_string(), None));
        self
    }
    /// Starts the child with an empty environment (then add with
    /// [`env`](Self::env)).
    pub fn env_clear(mut self) -> Self {
        self.spec.env_clear = true;
        self.spec.env.clear();
        self
    }
    /// The child's working directory (`cwd=`).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spec.cwd = Some(dir.into());
        self
    }
    /// The child's `argv[0]`, when it should not be the program (Python's
    /// `executable=` the other way round).
    pub fn arg0(mut self, arg0: impl Into<OsString>) -> Self {
        self.spec.arg0 = Some(arg0.into());
        self
    }
    /// Puts the child in process group `pgid`, or in a new group of its own
    /// with 0 (`process_group=`), so signals to the group reach it and its
    /// children.
    pub fn process_group(mut self, pgid: i32) -> Self {
        self.spec.process_group = Some(pgid);
        self
    }
    /// Runs the child as user `uid` (`user=`).
    pub fn uid(mut self, uid: u32) -> Self {
        self.spec.uid = Some(uid);
        self
    }
    /// Runs the child as group `gid` (`group=`).
    pub fn gid(mut self, gid: u32) -> Self {
        self.spec.gid = Some(gid);
        self
    }

    async fn run(self) -> Result<SubprocessHandle, SubprocessError> {
        if let Some(why) = self.invalid {
            return Err(SubprocessError::InvalidArgs(why));
        }
        let lp = self.lp;
        let core = &lp.core;
        core.check_open()?;
        pipe::guard_sigpipe();
        let program = self.spec.program.to_string_lossy().into_owned();
        let spawned = spawn(self.spec).map_err(|source| {
            if source.kind() == std::io::ErrorKind::InvalidInput && source.get_ref().is_some() {
                SubprocessError::InvalidArgs("only stderr can go to stdout")
            } else {
                SubprocessError::Spawn { program, source }
            }
        })?;
        let pid = spawned.pid;
        let (id, gen) = routing::reserve_gen(core);
        let token = mio::Token(id.index() + FIRST_ACTOR_TOKEN);
        let protocol = (self.factory)();
        let made = UnixSubprocessTransport::new(
            pid,
            spawned.stdin,
            spawned.stdout,
            spawned.stderr,
            protocol,
            &core.registry,
            token,
        );
        let (mut actor, info, has_pidfd) = match made {
            Ok(made) => made,
            Err(source) => {
                // The pieces were dropped: the child killed and reaped.
                routing::release(core, id);
                return Err(SubprocessError::Register { pid, source });
            }
        };
        let started = lp.create_future::<()>();
        let resolve = started.clone();
        let mut hooks = SubprocessHooks {
            on_made: Some(Box::new(move || {
                let _ = resolve.set_result(());
            })),
            guard: None,
        };
        if !has_pidfd {
            // No pidfd: SIGCHLD tells each loop to look at its own children.
            let listener: SignalListener = Rc::new(move |_sig, cx: &mut dyn LoopContext| {
                cx.send(id, Box::new(CheckExit));
                true
            });
            let guard = crate::signals::table_or_create(core, Signal::SIGCHLD)
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|table| ListenGuard::listen(&table, Signal::SIGCHLD.number(), listener));
            match guard {
                Ok(g) => hooks.guard = Some(Box::new(g)),
                Err(source) => {
                    routing::release(core, id);
                    drop(actor);
                    return Err(SubprocessError::Register { pid, source });
                }
            }
        }
        actor.set_hooks(hooks);
        routing::insert(core, id, Box::new(actor));
        routing::deliver(core, id, gen, Box::new(Start));
        let mut guard = CloseUnlessHanded {
            lp: &lp,
            id,
            gen,
            armed: true,
        };
        let started = started.await;
        guard.armed = false;
        started.map_err(|_| SubprocessError::Loop(crate::LoopError::Closed))?;
        {
            // Known to the loop's `shutdown`, which waits for its children.
            let mut children = core.subprocesses.borrow_mut();
            children.retain(|w| w.upgrade().is_some_and(|i| i.returncode().is_none()));
            children.push(Rc::downgrade(&info));
        }
        Ok(SubprocessHandle {
            lp: lp.clone(),
            id,
            gen,
            info,
        })
    }
}

/// Closes (kills and reaps) a started child if the future that started it
/// is dropped before it handed the handle over (Q9: a cancelled spawn never
/// leaves a child behind).
struct CloseUnlessHanded<'a> {
    lp: &'a EventLoop,
    id: ActorId,
    gen: u64,
    armed: bool,
}

impl Drop for CloseUnlessHanded<'_> {
    fn drop(&mut self) {
        if self.armed && !self.lp.is_closed() {
            let close = Box::new(SubprocessCommand::Close);
            routing::deliver(&self.lp.core, self.id, self.gen, close);
        }
    }
}

impl IntoFuture for SpawnSubprocess {
    type Output = Result<SubprocessHandle, SubprocessError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
