//! A loop's one-line summary, shared by `ps`, `tree` and `top`.

use switchboard::introspect::Snapshot;

use crate::units;

/// The loop's number: its index in the group, else its place in the reply.
pub fn loop_number(position: usize, snap: &Snapshot) -> usize {
    snap.lp.group_index.unwrap_or(position)
}

/// `lag p50 100µs p99 2.30ms max 5.00ms`.
pub fn lag(snap: &Snapshot) -> String {
    let lag = &snap.lp.lag;
    format!(
        "lag p50 {} p99 {} max {}",
        units::seconds(lag.p50),
        units::seconds(lag.p99),
        units::seconds(lag.max)
    )
}

/// `loop 0  iterations 12345  lag p50 … p99 … max …  tasks 3  timers 4
/// ready 0  actors 5`.
pub fn line(position: usize, snap: &Snapshot) -> String {
    let lp = &snap.lp;
    format!(
        "loop {}  iterations {}  {}  tasks {}  timers {}  ready {}  actors {}",
        loop_number(position, snap),
        lp.iterations,
        lag(snap),
        lp.tasks,
        lp.timers,
        lp.ready,
        snap.actors.len()
    )
}

/// `pid 4242, 2 loops`.
pub fn header(pid: u32, loops: usize) -> String {
    let s = if loops == 1 { "" } else { "s" };
    format!("pid {pid}, {loops} loop{s}")
}
