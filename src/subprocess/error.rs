//! Errors of starting a subprocess.

use std::io;

use crate::error::LoopError;

/// Why `subprocess_exec` or `subprocess_shell` failed. Whatever failed,
/// every descriptor made for the child is closed and no zombie is left
/// (Q9, fault 29).
///
/// [`Spawn`](Self::Spawn) and [`Register`](Self::Register) print the OS
/// reason after a colon (`cannot spawn no-such-program: No such file or
/// directory (os error 2)`) and return it from `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubprocessError {
    /// The loop refused (closed).
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// The arguments do not fit together (asyncio's `ValueError`).
    #[error("invalid arguments: {0}")]
    InvalidArgs(&'static str),
    /// The child could not be started: the program is missing
    /// (`ErrorKind::NotFound`, asyncio's `FileNotFoundError`), not
    /// executable, the working directory is missing, …
    #[error("cannot spawn {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The child started but its pipes or exit could not be registered with
    /// the loop; it was killed and reaped.
    #[error("cannot register process {pid} with the loop: {source}")]
    Register {
        /// The child's pid.
        pid: u32,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

impl SubprocessError {
    /// The OS error kind, if there is one (`NotFound` for a missing program).
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            SubprocessError::Spawn { source, .. } | SubprocessError::Register { source, .. } => {
                Some(source.kind())
            }
            _ => None,
        }
    }
}
