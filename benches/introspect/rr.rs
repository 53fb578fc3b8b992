//! The `rr` comparison: per round, one fresh server process of each build,
//! both alive at once on core 0; each loaded once as a burst, then both
//! loaded in short alternating slices, so whatever else the machine does
//! during the round falls on both sides alike.
//!
//! A slice is echo's `rr` load (`load::bench_rr`: 100 new connections, a
//! short warm-up, then the measured window); the side that goes first
//! alternates from slice to slice and from round to round (in, out; out,
//! in; …). A side's figure for the round is the sum of its slices: the
//! requests over the server's CPU time (`/proc/PID/stat`) in their windows.
//! While one server is loaded the other sits idle in `epoll_wait`.
//!
//! Why slices: in trial runs on this 2-core machine, shared with other
//! builds, one server after the other (a process per side per round, a
//! 5 s pass each, as echo runs its peers) spread `in/out` over 0.797–1.174
//! across 20 rounds, and an A/A run (one binary on both sides) gave a
//! median of 1.021 (1.003–1.068) over 6 rounds: noise the size of the
//! target. Sliced, an A/A run gives 0.997 (0.985–1.006).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::builds::Side;
use crate::load::{self, ServerProc};
use crate::stats::{si, Sample};
use crate::Plan;

/// Each side's figure per round.
#[derive(Debug, Default)]
pub(crate) struct RrRuns {
    /// With the counters built in.
    pub(crate) inside: Vec<Sample>,
    /// With them compiled out.
    pub(crate) outside: Vec<Sample>,
}

/// `exe` serving echo, under `taskset -c 0` when `pin`.
fn spawn(exe: &Path, pin: bool) -> ServerProc {
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(["--serve", "switchboard", "echo"]);
    ServerProc::spawn(cmd, "switchboard echo")
}

/// `a` plus `b`: counts, wall times and CPU times summed.
fn add(a: Sample, b: Sample) -> Sample {
    Sample {
        count: a.count + b.count,
        wall: a.wall + b.wall,
        cpu: a.cpu + b.cpu,
    }
}

pub(crate) fn run(p: &Plan, exes: &[(Side, PathBuf); 2]) -> RrRuns {
    let zero = Sample {
        count: 0.0,
        wall: Duration::ZERO,
        cpu: 0.0,
    };
    let mut runs = RrRuns::default();
    for round in 0..p.rounds {
        let servers = [spawn(&exes[0].1, p.pin), spawn(&exes[1].1, p.pin)];
        let load = |i: usize, t| load::bench_rr(&servers[i], p.rr_conns, 1024, t);
        let mut burst = [zero; 2];
        for k in 0..2 {
            let i = (k + round) % 2;
            burst[i] = load(i, &p.burst);
        }
        let mut sum = [zero; 2];
        for slice in 0..p.slices {
            for k in 0..2 {
                let i = (k + round + slice) % 2;
                sum[i] = add(sum[i], load(i, &p.slice));
            }
        }
        for (i, (side, _)) in exes.iter().enumerate() {
            eprintln!(
                "  round {} rr {}: per server CPU-s {} (burst {}), raw {}/s, server busy {:.0}%",
                round + 1,
                side.name(),
                si(sum[i].per_cpu()),
                si(burst[i].per_cpu()),
                si(sum[i].raw()),
                sum[i].busy() * 100.0
            );
        }
        eprintln!(
            "  round {} rr in/out per CPU-s {:.3}",
            round + 1,
            sum[0].per_cpu() / sum[1].per_cpu()
        );
        runs.inside.push(sum[0]);
        runs.outside.push(sum[1]);
    }
    runs
}
