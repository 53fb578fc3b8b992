//! What a supervisor knows about each child: how to start it again, when to,
//! and how long it may take to stop.

use std::time::Duration;

/// When a child that stopped is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Restart {
    /// Always (the default).
    #[default]
    Permanent,
    /// Only after an abnormal exit: not after `Normal` or `Shutdown`.
    Transient,
    /// Never: once it stops, its address refuses messages.
    Temporary,
}

/// Which children a supervisor restarts when one of them stops and is to be
/// restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Only that child (the default).
    #[default]
    OneForOne,
    /// Every child: the others are stopped in reverse start order, then all
    /// start again in start order.
    OneForAll,
    /// That child and every child started after it.
    RestForOne,
}

/// How a supervisor treats one child: its name, its [`Restart`] policy and
/// its shutdown deadline (how long it may take to stop when asked, after
/// which it is killed; 5 seconds by default). A `&str` converts into a spec
/// with the defaults.
///
/// ```
/// use std::time::Duration;
/// use switchboard::{ChildSpec, Restart};
///
/// let spec = ChildSpec::new("worker")
///     .restart(Restart::Transient)
///     .shutdown(Duration::from_millis(200));
/// assert_eq!(spec.name(), "worker");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSpec {
    pub(crate) name: String,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Duration,
    pub(crate) mailbox: Option<usize>,
}

/// The default shutdown deadline of a child.
pub const DEFAULT_CHILD_SHUTDOWN: Duration = Duration::from_secs(5);

impl ChildSpec {
    /// A permanent child with the default shutdown deadline.
    pub fn new(name: impl Into<String>) -> Self {
        ChildSpec {
            name: name.into(),
            restart: Restart::Permanent,
            shutdown: DEFAULT_CHILD_SHUTDOWN,
            mailbox: None,
        }
    }

    /// The restart policy.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How long the child may take to stop once asked before it is killed.
    pub fn shutdown(mut self, deadline: Duration) -> Self {
        self.shutdown = deadline;
        self
    }

    /// Gives an actor child a bounded mailbox of `bound` messages (see
    /// [`EventLoop::spawn_bounded`](crate::EventLoop::spawn_bounded)),
    /// shared by its incarnations.
    pub fn mailbox(mut self, bound: usize) -> Self {
        self.mailbox = Some(bound);
        self
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl From<&str> for ChildSpec {
    fn from(name: &str) -> Self {
        ChildSpec::new(name)
    }
}

impl From<String> for ChildSpec {
    fn from(name: String) -> Self {
        ChildSpec::new(name)
    }
}
