//! Scheduling callbacks: `Handle`/`TimerHandle`, the loop-owned table of their
//! states (thread-safe cancel), and the timer queue behind `call_later` and
//! `call_at`.

pub(crate) mod handle;
pub(crate) mod handle_table;
#[cfg(all(test, switchboard_loom))]
mod loom_models;
pub(crate) mod store;
pub(crate) mod timers;
