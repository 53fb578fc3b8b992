//! The bench's printed figures and verdicts: each figure as
//! `median (min–max)` over the rounds or the takes, each target judged on
//! the median, met or missed as measured.

use switchboard::introspect::ActorInfo;

use crate::rr::RrRuns;
use crate::snapshot::Take;
use crate::stats::{loadavg, median, ratio, si, spread};
use crate::Plan;

/// `in/out` per server CPU-second must reach this (a cost of at most 2%).
const RR_TARGET: f64 = 0.98;
/// A snapshot's wall time, in seconds.
const SNAP_TIME_TARGET: f64 = 0.050;
/// A snapshot's size, in bytes (5 MB, 10^6 bytes each).
const SNAP_SIZE_TARGET: f64 = 5e6;

/// `judged`: a real measurement (not a smoke pass, not an A/A run).
fn verdict(judged: bool, met: bool) -> &'static str {
    if !judged {
        "not judged"
    } else if met {
        "met"
    } else {
        "MISSED"
    }
}

pub(crate) fn header(p: &Plan) {
    println!(
        "introspect bench ({}): {} round(s) of rr, each with a fresh server of each build: a \
         {} s burst (after {:.2} s warm-up), then {} alternating slices per side of {} s \
         (after {:.2} s warm-up), summed; {}; load average at start {}",
        if p.smoke {
            "smoke pass under cargo test --benches, both sides this binary: not a measurement"
        } else if p.same {
            "SWITCHBOARD_BENCH_SAME=1: both sides the `in` build, an A/A run"
        } else {
            "cargo bench --bench introspect"
        },
        p.rounds,
        p.burst.measure.as_secs_f64(),
        p.burst.warmup.as_secs_f64(),
        p.slices,
        p.slice.measure.as_secs_f64(),
        p.slice.warmup.as_secs_f64(),
        if p.pin {
            "servers pinned to core 0 (taskset -c 0), load generator to core 1"
        } else {
            "NOT pinned (fewer than 2 cores)"
        },
        loadavg(),
    );
}

pub(crate) fn rr(p: &Plan, runs: &RrRuns) {
    let per_cpu = |v: &[crate::stats::Sample]| v.iter().map(|s| s.per_cpu()).collect::<Vec<_>>();
    let raw = |v: &[crate::stats::Sample]| v.iter().map(|s| s.raw()).collect::<Vec<_>>();
    let busy = |v: &[crate::stats::Sample]| v.iter().map(|s| s.busy()).collect::<Vec<_>>();
    let (a, b) = (per_cpu(&runs.inside), per_cpu(&runs.outside));
    let ratios: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x / y).collect();
    let raw_ratios: Vec<f64> = raw(&runs.inside)
        .iter()
        .zip(&raw(&runs.outside))
        .map(|(x, y)| x / y)
        .collect();
    let r = median(&ratios);
    let pct = |v: f64| format!("{:.0}%", v * 100.0);
    println!(
        "rr 1 KiB x {} conns, requests: per server CPU-s in {}, out {}; in/out per CPU-s {} \
         (rounds: {}); raw per s in {}, out {}; raw in/out {}; server CPU busy in {}, out {}",
        p.rr_conns,
        spread(&a, si),
        spread(&b, si),
        spread(&ratios, ratio),
        ratios
            .iter()
            .map(|&x| ratio(x))
            .collect::<Vec<_>>()
            .join(" "),
        spread(&raw(&runs.inside), si),
        spread(&raw(&runs.outside), si),
        spread(&raw_ratios, ratio),
        pct(median(&busy(&runs.inside))),
        pct(median(&busy(&runs.outside))),
    );
    println!(
        "rr target in/out >= {RR_TARGET:.3} (cost <= 2%): median {} (cost {:.1}%): {}",
        ratio(r),
        (1.0 - r) * 100.0,
        verdict(!p.smoke && !p.same, r >= RR_TARGET)
    );
}

pub(crate) fn snapshot(p: &Plan, takes: &[Take]) {
    let pick = |f: fn(&Take) -> f64| takes.iter().map(f).collect::<Vec<_>>();
    let ms = |v: f64| format!("{:.2} ms", v * 1e3);
    let mb = |v: f64| format!("{:.3} MB", v / 1e6);
    let (wall, held, json, table) = (
        median(&pick(|t| t.wall)),
        median(&pick(|t| t.held)),
        median(&pick(|t| t.json)),
        median(&pick(|t| t.table)),
    );
    println!(
        "snapshot of {} connections ({} actors), {} takes after 3 untimed (counters {}): \
         wall {}, thread CPU {}; heap held by the Snapshot {}, peak during the call {}; \
         JSON {} in {}",
        p.snap_conns,
        takes.first().map_or(0, |t| t.actors),
        takes.len(),
        if switchboard::introspect::COUNTING {
            "built in"
        } else {
            "compiled out"
        },
        spread(&pick(|t| t.wall), ms),
        spread(&pick(|t| t.cpu), ms),
        spread(&pick(|t| t.held), mb),
        spread(&pick(|t| t.peak), mb),
        spread(&pick(|t| t.json), mb),
        spread(&pick(|t| t.json_wall), ms),
    );
    let per_conn = |v: f64| format!("{:.0} B", v / p.snap_conns.max(1) as f64);
    println!(
        "snapshot per connection: heap held {}, JSON {}; of the heap, the actor vector \
         {} ({} B per ActorInfo, capacity {}), the rest {}",
        per_conn(held),
        per_conn(json),
        mb(table),
        size_of::<ActorInfo>(),
        table as usize / size_of::<ActorInfo>(),
        mb(held - table),
    );
    println!(
        "snapshot targets: time <= 50 ms: median {}: {}; size <= 5 MB: heap held {}: {}, \
         JSON {}: {}",
        ms(wall),
        verdict(!p.smoke, wall <= SNAP_TIME_TARGET),
        mb(held),
        verdict(!p.smoke, held <= SNAP_SIZE_TARGET),
        mb(json),
        verdict(!p.smoke, json <= SNAP_SIZE_TARGET),
    );
}
