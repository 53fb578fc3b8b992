//! Running and stopping the loop: the `EventLoop` and its iteration, the ready
//! queue, the actor table and routing, the part other threads touch, the
//! current loop and policies, `run`, loop-level shutdown, and error handling
//! (the exception handler, `Interrupt`, diagnostics).

pub(crate) mod current;
pub(crate) mod diag;
pub(crate) mod event_loop;
pub(crate) mod exception;
pub(crate) mod inbox;
pub(crate) mod interrupt;
pub(crate) mod policy;
pub(crate) mod ready;
pub(crate) mod routing;
pub(crate) mod run;
pub(crate) mod shared;
pub(crate) mod shutdown;
pub(crate) mod turn;
