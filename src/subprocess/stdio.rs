//! What a child's stdin, stdout or stderr is.

use std::os::fd::OwnedFd;

use switchboard_actors::subprocess::StdioSpec;

/// What one of a child's standard streams is (asyncio's `stdin=`, `stdout=`
/// and `stderr=` arguments).
///
/// ```no_run
/// use switchboard::Stdio;
/// # struct P;
/// # impl switchboard::SubprocessProtocol for P {
/// #     fn handle(&mut self, _: switchboard::SubprocessEvent, _: &mut dyn switchboard::SubprocessTransport) -> Result<(), switchboard::ProtocolError> { Ok(()) }
/// # }
/// switchboard::run(|lp| async move {
///     let child = lp
///         .subprocess_exec(|| P, "ls", ["/nonexistent"])
///         .stdin(Stdio::Null)
///         .stderr(Stdio::Stdout) // errors come through stdout's pipe
///         .await?;
///     child.wait().await?;
///     Ok::<(), switchboard::Error>(())
/// })?;
/// # Ok::<(), switchboard::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Stdio {
    /// A new pipe to the loop (`subprocess.PIPE`, the default): its data and
    /// loss come to the protocol, and `get_pipe_transport` reaches it.
    Pipe,
    /// `/dev/null` (`subprocess.DEVNULL`).
    Null,
    /// This process's own stream (`None` in asyncio).
    Inherit,
    /// A descriptor of yours: a file, a pipe's end, a socket. The child gets
    /// a copy; this one is closed once the child started.
    Fd(OwnedFd),
    /// stderr only: into stdout, whatever stdout is (`subprocess.STDOUT`).
    /// There is no pipe for fd 2 then (Q7).
    Stdout,
}

impl Stdio {
    pub(crate) fn into_spec(self) -> StdioSpec {
        match self {
            Stdio::Pipe => StdioSpec::Pipe,
            Stdio::Null => StdioSpec::Null,
            Stdio::Inherit => StdioSpec::Inherit,
            Stdio::Fd(fd) => StdioSpec::Fd(fd),
            Stdio::Stdout => StdioSpec::Stdout,
        }
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Self {
        Stdio::Fd(fd)
    }
}

impl From<std::fs::File> for Stdio {
    fn from(f: std::fs::File) -> Self {
        Stdio::Fd(f.into())
    }
}
