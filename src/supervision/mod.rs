//! Supervision: exit reasons, monitors and links, and supervisors that
//! restart their children.

pub(crate) mod monitor;
pub(crate) mod system;
pub(crate) mod watchers;

pub use watchers::MonitorRef;
