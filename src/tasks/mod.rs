//! Futures and tasks: `LoopFuture`, `Task` and `create_task`, `sleep`, and
//! composition (`wait_for`, `gather`).

pub(crate) mod compose;
pub(crate) mod future;
pub(crate) mod sleep;
pub(crate) mod spawn;
pub(crate) mod task;
