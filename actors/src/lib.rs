//! # switchboard-actors
//!
//! The actors a switchboard loop owns: stream transports, servers, datagram and
//! pipe transports, subprocesses, signal and fd watchers. Every syscall lives in
//! `sys/`.
//!
//! ```text
//!   switchboard-protocols  <-  switchboard-actors  <-  switchboard
//!
//!   mio::Poll ─token─► loop ─Actor::ready─► TcpTransport ─StreamEvent─► protocol
//!                       ▲                       │
//!                       └──── LoopContext ──────┘ (register, timers, report)
//! ```
#![deny(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod context;
pub mod datagram;
pub mod diag;
mod flow;
pub mod inspect;
pub mod pipe;
pub mod server;
pub mod signal;
pub mod stream;
pub mod subprocess;

pub mod sys;

pub use context::{source_token, split_token, LoopActor, LoopContext, Readiness, Status};
pub use flow::{FlowControl, FlowSignal};
