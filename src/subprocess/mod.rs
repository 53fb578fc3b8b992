//! Running subprocesses: `subprocess_exec` and `subprocess_shell` (asyncio's
//! "Running Subprocesses"), the handle on a running child, and what its
//! standard streams are.

mod builder;
mod error;
mod handle;
mod stdio;

pub use builder::SpawnSubprocess;
pub use error::SubprocessError;
pub use handle::SubprocessHandle;
pub use stdio::Stdio;
