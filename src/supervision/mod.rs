//! Supervision: exit reasons, monitors and links, and supervisors that
//! restart their children.
//!
//! ```text
//!   Supervisor (root) ── ChildDown ◄── exit hooks ── children
//!     │ start / request stop / kill        (actors in rows kept across
//!     ▼                                      restarts, servers, timers,
//!   children, in start order                 nested supervisors)
//! ```

mod builder;
mod child;
mod error;
mod inspect;
pub(crate) mod intensity;
pub(crate) mod monitor;
pub(crate) mod rows;
mod spec;
mod supervisor;
pub(crate) mod system;
pub(crate) mod watchers;

pub use builder::{ServerChild, SubprocessChild, Supervisor, SupervisorBuilder, DEFAULT_INTENSITY};
pub use error::SupervisorError;
pub use spec::{ChildSpec, Restart, Strategy, DEFAULT_CHILD_SHUTDOWN};
pub use watchers::MonitorRef;
