//! Prometheus metrics from snapshots: [`encode_metrics`] turns what
//! [`EventLoop::introspect`](crate::EventLoop::introspect) sees into
//! OpenMetrics text, through prometheus-client's encoder.
//!
//! Each scrape builds a fresh `Registry` holding one collector over the
//! figures of that scrape: the snapshots already carry every count, so
//! nothing is kept between scrapes.

use std::collections::BTreeMap;
use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::{LagInfo, Snapshot, LAG_BUCKETS};

mod figures;
mod labels;

use figures::{count, LoopFigures, ServerRow};
use labels::Labels;

/// OpenMetrics text for the loops of `loops`: one scrape's answer, `# EOF`
/// included.
///
/// Every family is prefixed `switchboard_` and every sample has a `loop`
/// label: the loop's index in its `LoopGroup`, or, for a loop outside a
/// group, its position in `loops` (so a lone loop is `loop="0"`).
///
/// | family | type | labels | what |
/// | --- | --- | --- | --- |
/// | `switchboard_loop_iterations_total` | counter | | iterations run |
/// | `switchboard_loop_callbacks_run_total` | counter | | callbacks and timer callbacks run |
/// | `switchboard_loop_exceptions_total` | counter | | calls of the exception handler |
/// | `switchboard_loop_poll_seconds_total` | counter | | time blocked in (or calling) the poll |
/// | `switchboard_loop_handler_seconds_total` | counter | | time in the rest of the iterations |
/// | `switchboard_loop_ready` | gauge | | entries in the ready queue |
/// | `switchboard_loop_timers` | gauge | | timers pending |
/// | `switchboard_loop_tasks` | gauge | | tasks alive |
/// | `switchboard_loop_lag_seconds` | histogram | | how late timers ran (buckets: [`LAG_BUCKETS`]) |
/// | `switchboard_connections` | gauge | | stream transports alive |
/// | `switchboard_transport_received_bytes` | gauge | | bytes received by the transports alive |
/// | `switchboard_transport_sent_bytes` | gauge | | bytes sent by the transports alive |
/// | `switchboard_transports_paused` | gauge | `direction` | transports with reading (`reading`) or writing (`writing`) paused |
/// | `switchboard_server_connections` | gauge | `server` | a server's connections alive |
/// | `switchboard_server_accepted_total` | counter | `server` | connections a server accepted |
/// | `switchboard_server_received_bytes` | gauge | `server` | bytes received by a server's connections alive |
/// | `switchboard_server_sent_bytes` | gauge | `server` | bytes sent by a server's connections alive |
/// | `switchboard_mailbox_depth` | gauge | `actor` | messages waiting for an actor |
/// | `switchboard_mailbox_bound` | gauge | `actor` | a bounded mailbox's bound |
/// | `switchboard_supervisor_restarts_total` | counter | `supervisor` | restarts a supervisor made |
///
/// The byte figures are gauges, not counters: a snapshot holds only the
/// transports alive, so a connection's bytes leave the sum when it closes.
///
/// The `server`, `actor` and `supervisor` labels are the actor's name, or
/// `kind:id` (`server:4`) for one without a name. Rows sharing a label
/// value add up into one sample, so the number of series is bounded by the
/// number of names, not of actors. To keep it so, mailboxes are shown for
/// application actors and supervisors only (a connection's mailbox is not a
/// series of its own), and `switchboard_mailbox_bound` only for a name whose
/// actors are all bounded. Label values are escaped as OpenMetrics requires
/// (`\\`, `\"`, `\n`), so any name is safe.
///
/// # Examples
///
/// ```
/// use switchboard::introspect::{encode_metrics, Snapshot};
///
/// // A snapshot of an idle loop: every loop-wide family, all at zero.
/// let text = encode_metrics(&[Snapshot::default()]);
/// assert!(text.contains("switchboard_loop_iterations_total{loop=\"0\"} 0\n"));
/// // A complete exposition ends with the OpenMetrics end marker.
/// assert!(text.ends_with("# EOF\n"));
/// ```
pub fn encode_metrics(loops: &[Snapshot]) -> String {
    let figures = loops
        .iter()
        .enumerate()
        .map(|(at, snapshot)| LoopFigures::new(at, snapshot))
        .collect();
    let mut registry = Registry::with_prefix("switchboard");
    registry.register_collector(Box::new(Scrape(figures)));
    let mut text = String::new();
    // The text encoder fails only when its writer does, and a String
    // never does.
    encode(&mut text, &registry).expect("encoding into a String cannot fail");
    text
}

/// The collector one scrape registers: the figures of its loops.
#[derive(Debug)]
struct Scrape(Vec<LoopFigures>);

/// A sample's value.
#[derive(Debug, Clone, Copy)]
enum Value {
    Count(u64),
    Seconds(f64),
}

/// A family with one sample per loop: type, name (without prefix, unit
/// and `_total`), help, unit, and the sample.
type PerLoop = (
    MetricType,
    &'static str,
    &'static str,
    Option<Unit>,
    fn(&LoopFigures) -> Value,
);

static PER_LOOP: [PerLoop; 8] = [
    (
        MetricType::Counter,
        "loop_iterations",
        "Iterations the loop ran",
        None,
        |f| Value::Count(f.info.iterations),
    ),
    (
        MetricType::Counter,
        "loop_callbacks_run",
        "Callbacks and timer callbacks run",
        None,
        |f| Value::Count(f.info.callbacks_run),
    ),
    (
        MetricType::Counter,
        "loop_exceptions",
        "Calls of the loop's exception handler",
        None,
        |f| Value::Count(f.info.exceptions),
    ),
    (
        MetricType::Counter,
        "loop_poll",
        "Time spent blocked in or calling the poll",
        Some(Unit::Seconds),
        |f| Value::Seconds(f.info.poll_seconds),
    ),
    (
        MetricType::Counter,
        "loop_handler",
        "Time spent in callbacks, handlers, tasks and timers",
        Some(Unit::Seconds),
        |f| Value::Seconds(f.info.handler_seconds),
    ),
    (
        MetricType::Gauge,
        "loop_ready",
        "Entries in the ready queue",
        None,
        |f| Value::Count(count(f.info.ready)),
    ),
    (
        MetricType::Gauge,
        "loop_timers",
        "Timers scheduled and not yet run",
        None,
        |f| Value::Count(count(f.info.timers)),
    ),
    (MetricType::Gauge, "loop_tasks", "Tasks alive", None, |f| {
        Value::Count(count(f.info.tasks))
    }),
];

/// The per-loop sums over transports: type, name, help, unit, sample.
static TRANSPORTS: [PerLoop; 3] = [
    (
        MetricType::Gauge,
        "connections",
        "Stream transports (connections) alive",
        None,
        |f| Value::Count(f.connections),
    ),
    (
        MetricType::Gauge,
        "transport_received",
        "Bytes received by the transports alive",
        Some(Unit::Bytes),
        |f| Value::Count(f.bytes_in),
    ),
    (
        MetricType::Gauge,
        "transport_sent",
        "Bytes sent by the transports alive",
        Some(Unit::Bytes),
        |f| Value::Count(f.bytes_out),
    ),
];

/// A family with one sample per server: type, name, help, unit, sample.
type PerServer = (
    MetricType,
    &'static str,
    &'static str,
    Option<Unit>,
    fn(&ServerRow) -> u64,
);

static PER_SERVER: [PerServer; 4] = [
    (
        MetricType::Gauge,
        "server_connections",
        "A server's connections alive",
        None,
        |r| r.connections,
    ),
    (
        MetricType::Counter,
        "server_accepted",
        "Connections a server accepted",
        None,
        |r| r.accepted,
    ),
    (
        MetricType::Gauge,
        "server_received",
        "Bytes received by a server's connections alive",
        Some(Unit::Bytes),
        |r| r.bytes_in,
    ),
    (
        MetricType::Gauge,
        "server_sent",
        "Bytes sent by a server's connections alive",
        Some(Unit::Bytes),
        |r| r.bytes_out,
    ),
];

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        use MetricType::{Counter, Gauge};
        let loops = &self.0;
        let per_loop = |value: fn(&LoopFigures) -> Value| {
            loops.iter().map(move |f| (Labels::lp(f.lp), value(f)))
        };
        for (kind, name, help, unit, value) in &PER_LOOP {
            family(&mut e, *kind, name, help, unit.as_ref(), per_loop(*value))?;
        }
        lag(&mut e, loops)?;
        for (kind, name, help, unit, value) in &TRANSPORTS {
            family(&mut e, *kind, name, help, unit.as_ref(), per_loop(*value))?;
        }
        let paused = loops.iter().flat_map(|f| {
            [("reading", f.reading_paused), ("writing", f.writing_paused)]
                .map(|(d, n)| (Labels::with(f.lp, "direction", d), Value::Count(n)))
        });
        let help = "Transports with reading or writing paused";
        family(&mut e, Gauge, "transports_paused", help, None, paused)?;
        for (kind, name, help, unit, value) in &PER_SERVER {
            let rows = keyed(loops, "server", |f| &f.servers, |r| Some(value(r)));
            family(&mut e, *kind, name, help, unit.as_ref(), rows)?;
        }
        let depth = keyed(loops, "actor", |f| &f.mailboxes, |r| Some(r.depth));
        let help = "Messages waiting for an actor";
        family(&mut e, Gauge, "mailbox_depth", help, None, depth)?;
        let bound = keyed(loops, "actor", |f| &f.mailboxes, |r| r.bound);
        let help = "The bound of an actor's mailbox";
        family(&mut e, Gauge, "mailbox_bound", help, None, bound)?;
        let restarts = keyed(loops, "supervisor", |f| &f.restarts, |n| Some(*n));
        let help = "Restarts a supervisor made";
        family(&mut e, Counter, "supervisor_restarts", help, None, restarts)
    }
}

/// The samples of a family keyed by label value: for each loop, each row
/// of `rows` with a value, labelled `key`.
fn keyed<'a, R: 'a>(
    loops: &'a [LoopFigures],
    key: &'static str,
    rows: fn(&LoopFigures) -> &BTreeMap<String, R>,
    value: impl Fn(&R) -> Option<u64> + Copy + 'a,
) -> impl Iterator<Item = (Labels<'a>, Value)> + 'a {
    loops.iter().flat_map(move |f| {
        rows(f).iter().filter_map(move |(name, row)| {
            Some((Labels::with(f.lp, key, name), Value::Count(value(row)?)))
        })
    })
}

/// Encodes one family: its descriptor, then one sample per label set.
fn family<'a>(
    e: &mut DescriptorEncoder<'_>,
    kind: MetricType,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: impl IntoIterator<Item = (Labels<'a>, Value)>,
) -> fmt::Result {
    let mut metric = e.encode_descriptor(name, help, unit, kind)?;
    for (labels, value) in samples {
        let mut sample = metric.encode_family(&labels)?;
        match (kind, value) {
            (MetricType::Counter, Value::Count(n)) => {
                sample.encode_counter::<NoLabelSet, _, u64>(&n, None)?
            }
            (MetricType::Counter, Value::Seconds(x)) => {
                sample.encode_counter::<NoLabelSet, _, f64>(&x, None)?
            }
            (_, Value::Count(n)) => sample.encode_gauge(&i64::try_from(n).unwrap_or(i64::MAX))?,
            (_, Value::Seconds(x)) => sample.encode_gauge(&x)?,
        }
    }
    Ok(())
}

/// `switchboard_loop_lag_seconds`: each loop's lag histogram.
fn lag(e: &mut DescriptorEncoder<'_>, loops: &[LoopFigures]) -> fmt::Result {
    let help = "How late the loop ran timers after they were due";
    let mut metric = e.encode_descriptor(
        "loop_lag",
        help,
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    for f in loops {
        let (buckets, count) = lag_buckets(&f.info.lag);
        let labels = Labels::lp(f.lp);
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(f.info.lag.sum, count, &buckets, None)?;
    }
    Ok(())
}

/// The lag histogram as prometheus-client takes it, with the count of all
/// samples: each bound ([`LAG_BUCKETS`], then `f64::MAX` for `+Inf`) with
/// the samples in its bucket alone, where [`LagInfo::buckets`] counts
/// cumulatively. A missing count (a default snapshot has none) repeats the
/// one before it, so the histogram stays well formed.
fn lag_buckets(lag: &LagInfo) -> (Vec<(f64, u64)>, u64) {
    let cumulative = LAG_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, &bound)| (bound, lag.buckets.get(i).copied()))
        .chain([(f64::MAX, lag.buckets.last().copied())]);
    let mut below = 0;
    let buckets = cumulative
        .map(|(bound, upto)| {
            let upto = upto.unwrap_or(below).max(below);
            let inside = upto - below;
            below = upto;
            (bound, inside)
        })
        .collect();
    (buckets, below)
}

#[cfg(test)]
mod tests;
