//! Subprocesses: spawning a child ([`spawn`]), its transport actor
//! ([`UnixSubprocessTransport`], asyncio's `_UnixSubprocessTransport`) with
//! the child's pipes, and the facts handles read ([`ProcessInfo`]).
//!
//! Every child is reaped exactly once, by pid (never `waitpid(-1)`, which
//! would take statuses that belong to other code): when its pidfd turns
//! readable on Linux, or, without pidfd, when SIGCHLD arrives (each loop
//! then tries `waitpid(pid, WNOHANG)` for each of its own children). A
//! transport dropped with its child still running (the loop closed) kills
//! and reaps it.

mod child;
mod core;
mod info;
mod spawn;
mod transport;

pub use child::send_signal;
pub use info::ProcessInfo;
pub use spawn::{spawn, SpawnSpec, Spawned, StdioSpec};
pub use transport::{SubprocessHooks, UnixSubprocessTransport};

/// A command to a subprocess transport from a handle held outside its
/// protocol. Pipe commands come as `pipe::ChildPipeCommand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubprocessCommand {
    /// `transport.close()`.
    Close,
}

/// Sent by the loop to start a subprocess transport (`ConnectionMade`).
#[derive(Debug)]
pub struct Start;

/// Sent when SIGCHLD came (no pidfd): see whether the child exited.
#[derive(Debug)]
pub struct CheckExit;
