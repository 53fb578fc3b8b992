//! Running subprocesses: `subprocess_exec` and `subprocess_shell` (asyncio's
//! "Running Subprocesses"), the handle on a running child, and what its
//! standard streams are; and on top, asyncio's high-level
//! `create_subprocess_exec`/`_shell` with a [`Process`] whose pipes are
//! streams.

mod builder;
mod error;
mod handle;
mod process;
mod stdio;

pub use builder::SpawnSubprocess;
pub use error::SubprocessError;
pub use handle::SubprocessHandle;
pub use process::{CreateSubprocess, Process, DEFAULT_COMMUNICATE_LIMIT};
pub use stdio::Stdio;
