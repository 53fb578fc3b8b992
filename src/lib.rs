//! # switchboard
//!
//! Python asyncio's low-level API for Rust, built as actors: an event loop with
//! callbacks and timers, futures and tasks, an executor, and transports and
//! protocols whose callbacks are typed messages.
//!
//! This crate is the top of the workspace and the one users depend on:
//!
//! ```text
//!   switchboard-protocols  <-  switchboard-actors  <-  switchboard (this crate)
//!
//!   other threads ──LoopHandle──► inbox ─┐
//!   mio::Poll ──readiness──► actors ─────┼─► ready queue ─► callbacks, tasks,
//!   timer heap ──due──────────────────────┘                 actor messages
//! ```
//!
//! ```
//! let lp = switchboard::new_event_loop()?;
//! lp.call_soon(|| println!("Hello World"))?;
//! let out = lp.run_until_complete(async { 1 + 1 })?;
//! assert_eq!(out, 2);
//! lp.close()?;
//! # Ok::<(), switchboard::LoopError>(())
//! ```
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod actor;
mod current;
mod error;
mod event_loop;
mod exception;
mod executor;
mod future;
mod handle;
mod handle_table;
mod interrupt;
mod net;
mod policy;
mod ready;
mod routing;
mod run_in_executor;
mod shared;
mod signals;
mod sleep;
mod spawn;
mod task;
mod timers;
mod turn;

pub use actor::{Actor, ActorContext};
pub use current::{get_event_loop, get_running_loop, new_event_loop, set_event_loop};
pub use error::{FutureError, InvalidStateError, LoopError, TaskError};
pub use event_loop::{Delay, EventLoop, TaskFactory};
pub use exception::{default_exception_handler, ExceptionHandler};
pub use executor::{ExecutorError, ExecutorFuture, ThreadPool};
pub use future::LoopFuture;
pub use handle::{Handle, TimerHandle};
pub use interrupt::Interrupt;
pub use net::{
    Connection, CreateConnection, CreateServer, Family, NetError, ServeForever, Server,
    TransportHandle, WaitClosed,
};
pub use policy::{
    get_event_loop_policy, set_event_loop_policy, DefaultEventLoopPolicy, EventLoopPolicy,
};
pub use shared::LoopHandle;
pub use signals::SignalError;
pub use sleep::{sleep, Sleep};
pub use task::{LocalBoxFuture, Task, TaskSpec};

pub use switchboard_actors as actors;
pub use switchboard_protocols as protocols;
pub use switchboard_protocols::{
    ActorId, Addr, Address, AnyStreamProtocol, BufferedEvent, BufferedProtocol, Exception,
    ExceptionContext, NoMessage, ProtocolError, SendError, StreamEvent, StreamProtocol,
    StreamTransport, TransportError, WriteError,
};
