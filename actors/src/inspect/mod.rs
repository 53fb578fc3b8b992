//! What a loop shows of itself: the typed snapshot that
//! `EventLoop::introspect` returns, and the counters the actors keep for it.
//!
//! Every type here is plain data (serde `Serialize` and `Deserialize`), so a
//! snapshot taken on the loop thread can leave it, go out of a control
//! socket as JSON, and be read back by `switchboard-ctl`.

mod counter;

pub use counter::{bump, Born, Counter, COUNTING};

use serde::{Deserialize, Serialize};

/// One loop at one moment: the loop itself and everything it owns.
///
/// `switchboard`'s `EventLoop::introspect` takes one; this prints a line
/// per connection of a server, the way `switchboard-ctl tree` does:
///
/// ```
/// use switchboard_actors::inspect::{ActorKind, Snapshot};
///
/// fn connections(snap: &Snapshot) {
///     for server in snap.actors.iter().filter(|a| a.kind == ActorKind::Server) {
///         println!("{}", server.name.as_deref().unwrap_or("server"));
///         for conn in snap.actors.iter().filter(|a| a.parent == Some(server.id)) {
///             if let Some(t) = &conn.transport {
///                 println!("  {:?} in {} out {}", t.peer, t.bytes_in, t.bytes_out);
///             }
///         }
///     }
/// }
/// connections(&Snapshot::default());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The loop's own figures.
    #[serde(rename = "loop")]
    pub lp: LoopInfo,
    /// Every actor in the loop's table, in row order: transports, servers,
    /// application actors, supervisors, subprocesses, pipes, watchers.
    pub actors: Vec<ActorInfo>,
}

/// The loop's own figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopInfo {
    /// Its index in a `LoopGroup`, if it belongs to one.
    pub group_index: Option<usize>,
    /// The loop's clock (`EventLoop::time`) when the snapshot was taken.
    pub time: f64,
    /// Iterations run so far.
    pub iterations: u64,
    /// Seconds spent blocked in (or calling) the poll.
    pub poll_seconds: f64,
    /// Seconds spent in the rest of the iterations: callbacks, handlers,
    /// tasks, timers.
    pub handler_seconds: f64,
    /// Entries in the ready queue (callbacks, messages, readiness events).
    pub ready: usize,
    /// Timers scheduled and not yet run (cancelled ones not yet purged count).
    pub timers: usize,
    /// Tasks alive (created and not finished).
    pub tasks: usize,
    /// Callbacks and timer callbacks run so far.
    pub callbacks_run: u64,
    /// Calls of the exception handler so far.
    pub exceptions: u64,
    /// How late timers ran after they were due.
    pub lag: LagInfo,
}

/// How late the loop ran its timers after they were due (loop lag).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LagInfo {
    /// The median of the last `window` samples, in seconds.
    pub p50: f64,
    /// The 99th percentile of the last `window` samples, in seconds.
    pub p99: f64,
    /// The largest of the last `window` samples, in seconds.
    pub max: f64,
    /// Samples the percentiles are over (at most [`LAG_WINDOW`]).
    pub window: usize,
    /// Every sample since the loop began: the cumulative histogram with
    /// the bounds [`LAG_BUCKETS`] (the last count is all of them).
    pub buckets: Vec<u64>,
    /// The sum of every sample, in seconds.
    pub sum: f64,
}

/// How many of the latest lag samples the percentiles are over.
pub const LAG_WINDOW: usize = 1024;

/// The upper bounds, in seconds, of the lag histogram's buckets; a last
/// bucket (`+Inf`) follows them.
pub const LAG_BUCKETS: [f64; 10] = [
    0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0,
];

/// What kind of thing an actor is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A stream transport (TCP, Unix, TLS) with its protocol.
    Transport,
    /// A listening server.
    Server,
    /// An application actor (`spawn`).
    Application,
    /// A child process's transport.
    Subprocess,
    /// A read or write pipe transport.
    Pipe,
    /// A datagram endpoint.
    Datagram,
    /// The loop's signal watcher.
    Signal,
    /// A supervisor.
    Supervisor,
    /// A descriptor watched with `add_reader`/`add_writer`.
    Watcher,
    /// Anything else the loop runs.
    #[default]
    Other,
}

impl ActorKind {
    /// The lower-case word used in JSON and by `switchboard-ctl`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Transport => "transport",
            ActorKind::Server => "server",
            ActorKind::Application => "application",
            ActorKind::Subprocess => "subprocess",
            ActorKind::Pipe => "pipe",
            ActorKind::Datagram => "datagram",
            ActorKind::Signal => "signal",
            ActorKind::Supervisor => "supervisor",
            ActorKind::Watcher => "watcher",
            ActorKind::Other => "other",
        }
    }
}

/// One actor of the loop's table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActorInfo {
    /// Its row in the loop's table (the number in `ActorId`'s display).
    pub id: usize,
    /// Which incarnation of the row it is.
    pub generation: u64,
    /// What it is.
    pub kind: ActorKind,
    /// Its name: given with `spawn_named` or a builder's `.name(..)`; an
    /// application actor without one shows its type's name.
    pub name: Option<String>,
    /// A one-line description (the one exception contexts use).
    pub description: String,
    /// Its state, in a word or two: `open`, `closing`, `serving`, `running`, ….
    pub state: String,
    /// Messages and commands waiting for it.
    pub mailbox: MailboxInfo,
    /// Messages, commands, readiness events and timers it has handled.
    pub messages: u64,
    /// The row of the actor it belongs under in a tree: a connection's
    /// server, a supervised child's supervisor.
    pub parent: Option<usize>,
    /// Set for a transport, a pipe or a datagram endpoint (inline: most
    /// rows of a busy loop are connections).
    pub transport: Option<TransportInfo>,
    /// Set for a server (boxed, as the two below: rare rows, so a snapshot
    /// of 10,000 connections does not carry their room 10,000 times).
    pub server: Option<Box<ServerInfo>>,
    /// Set for a supervisor.
    pub supervisor: Option<Box<SupervisorInfo>>,
    /// Set for a subprocess.
    pub process: Option<Box<ProcessInfo>>,
}

/// The messages waiting for an actor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MailboxInfo {
    /// Messages sent to it and not yet handled (for a bounded mailbox, the
    /// count its bound is checked against).
    pub depth: usize,
    /// The bound, for a bounded mailbox.
    pub bound: Option<usize>,
}

/// A transport's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransportInfo {
    /// The peer's address, if it has one.
    pub peer: Option<String>,
    /// Its own address, if it has one.
    pub sock: Option<String>,
    /// Bytes received so far (after TLS: what the protocol saw).
    pub bytes_in: u64,
    /// Bytes sent so far (what left the write buffer for the socket).
    pub bytes_out: u64,
    /// Bytes waiting in the write buffer.
    pub write_buffer: usize,
    /// Its reading is paused.
    pub reading_paused: bool,
    /// Its protocol was told to pause writing (above the high-water mark).
    pub writing_paused: bool,
    /// TLS runs over it.
    pub tls: bool,
    /// Seconds since it was made.
    pub age_seconds: f64,
}

/// A server's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The addresses it listens on.
    pub sockets: Vec<String>,
    /// Connections alive now.
    pub connections: usize,
    /// Connections accepted since it was made.
    pub accepted: u64,
    /// `serving`, `not serving`, `draining` or `closed`.
    pub state: String,
}

/// A supervisor's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupervisorInfo {
    /// `one_for_one`, `one_for_all` or `rest_for_one`.
    pub strategy: String,
    /// At most this many restarts …
    pub max_restarts: u32,
    /// … within this many seconds.
    pub within_seconds: f64,
    /// Restarts inside the current intensity window.
    pub restarts_in_window: usize,
    /// Restarts since it began.
    pub restarts_total: u64,
    /// Its children, in start order.
    pub children: Vec<ChildInfo>,
}

/// One child of a supervisor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// The child's name in the supervisor's spec.
    pub name: String,
    /// The row of its current incarnation, while one runs.
    pub actor: Option<usize>,
    /// Times it was restarted.
    pub restarts: u64,
}

/// A child process's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Its process id.
    pub pid: u32,
    /// `running` or `exited`.
    pub state: String,
    /// Its return code once it exited (negative: the signal that ended it).
    pub returncode: Option<i32>,
}

/// What a control socket answers: one snapshot per loop (one for a lone
/// loop, one per loop of a `LoopGroup`, in loop order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlReply {
    /// The process the snapshots come from.
    pub pid: u32,
    /// The loops' snapshots.
    pub loops: Vec<Snapshot>,
}
