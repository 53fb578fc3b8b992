//! Seeing inside a running loop: [`EventLoop::introspect`](crate::EventLoop::introspect)'s
//! typed snapshot, the control socket `switchboard-ctl` reads, and
//! Prometheus metrics.

#[doc(inline)]
pub use switchboard_actors::inspect::{
    ActorInfo, ActorKind, ChildInfo, ControlReply, LagInfo, LoopInfo, MailboxInfo, ProcessInfo,
    ServerInfo, Snapshot, SupervisorInfo, TransportInfo, COUNTING, LAG_BUCKETS, LAG_WINDOW,
};
mod collect;
mod control;
pub(crate) use control::control_from_env;
pub use control::CONTROL_ENV;

pub(crate) mod names;
pub(crate) use names::named;
pub(crate) mod stats;

#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "metrics")]
mod metrics_http;

#[cfg(feature = "metrics")]
pub use metrics::encode_metrics;
#[cfg(feature = "metrics")]
#[doc(hidden)]
pub use metrics_http::serve_metrics_from;
#[cfg(feature = "tracing")]
pub(crate) mod spans;
