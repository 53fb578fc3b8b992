//! `switchboard-ctl top`: a live view, a fresh snapshot every `--interval`
//! (1 s), until `q` or Ctrl-C, or for `--iterations N` frames.
//!
//! ```text
//! switchboard-ctl top  /run/svc.sock  pid 4242  2 loops  q quits
//!
//! loop 0  iter/s 1200  lag p50 100µs p99 2.30ms max 5.00ms  tasks 3  timers 4  ready 0  actors 7
//!   MAILBOX                            DEPTH
//!   #4 worker-a  [##########----------]  50/100
//!   #5 collector [####################]      12
//!   CONNECTION         WRITE BUFFER                       IN/s       OUT/s
//!   #2 127.0.0.1:5556  [####################]  68.4 KiB  0 B/s  1.0 MiB/s  paused writing
//! ```
//!
//! Rates (iterations/s, bytes/s) are the difference between this snapshot
//! and the previous one over the loop's own clock (`LoopInfo::time`), so
//! they are exact whatever the tool's own delays; they read `-` on the
//! first frame, after the service restarted (a new pid) or for a row that
//! is new (matched by id and generation). Bars: a bounded mailbox against
//! its bound, an unbounded one against the deepest unbounded mailbox of its
//! loop, a write buffer against the larger of 64 KiB (asyncio's default
//! high-water mark) and the fullest buffer of its loop.

use switchboard::introspect::{ActorInfo, ControlReply, Snapshot};

use crate::args::Args;
use crate::ps::{mailbox, name};
use crate::table::{Align, Table};
use crate::terminal::{Terminal, Wait};
use crate::{query, summary, units, CtlError};

/// Cells in a bar.
const BAR: usize = 20;

/// A write buffer's bar is at least this long: asyncio's default
/// high-water mark.
const HIGH_WATER: f64 = 64.0 * 1024.0;

/// What a frame is drawn for.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// The socket, for the title line.
    pub path: &'a str,
    /// Columns: longer lines are cut.
    pub width: usize,
    /// Rows: the frame is cut to fit, its last line saying how much is left.
    pub height: usize,
    /// `q` is read (else only Ctrl-C stops the tool).
    pub keys: bool,
}

/// Queries and draws until the user quits or `--iterations` frames.
pub fn run(args: &Args) -> Result<(), CtlError> {
    let mut term = Terminal::open();
    let path = args.path.display().to_string();
    let mut prev: Option<ControlReply> = None;
    let mut frames = 0u64;
    loop {
        let cur = query::snapshot(&args.path, args.timeout)?;
        let (width, height) = term.size();
        let view = View {
            path: &path,
            width,
            height,
            keys: term.reads_keys(),
        };
        match term.draw(&render_top(&cur, prev.as_ref(), &view)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(CtlError::Stdout(e)),
        }
        frames += 1;
        if args.iterations.is_some_and(|n| frames >= n) || term.wait(args.interval) == Wait::Quit {
            return Ok(());
        }
        prev = Some(cur);
    }
}

/// One frame: `cur`, with rates against `prev` when it is the same process.
pub fn render_top(cur: &ControlReply, prev: Option<&ControlReply>, view: &View<'_>) -> String {
    let prev = prev.filter(|p| p.pid == cur.pid);
    let quit = if view.keys { "q quits" } else { "Ctrl-C quits" };
    let s = if cur.loops.len() == 1 { "" } else { "s" };
    let mut lines = vec![
        format!(
            "switchboard-ctl top  {}  pid {}  {} loop{s}  {quit}",
            view.path,
            cur.pid,
            cur.loops.len()
        ),
        String::new(),
    ];
    for (i, snap) in cur.loops.iter().enumerate() {
        let before = prev.and_then(|p| p.loops.get(i));
        render_loop(i, snap, before, &mut lines);
    }
    fit(lines, view.width, view.height)
}

/// Seconds of loop time between two snapshots of one loop, if it moved on.
fn elapsed<'a>(snap: &Snapshot, before: Option<&'a Snapshot>) -> Option<(f64, &'a Snapshot)> {
    let before = before?;
    let dt = snap.lp.time - before.lp.time;
    (dt > 0.0 && snap.lp.iterations >= before.lp.iterations).then_some((dt, before))
}

/// A loop's summary and its mailbox and connection sections.
fn render_loop(i: usize, snap: &Snapshot, before: Option<&Snapshot>, lines: &mut Vec<String>) {
    let then = elapsed(snap, before);
    let lp = &snap.lp;
    let iter_rate = then.map_or("-".to_string(), |(dt, b)| {
        units::rate((lp.iterations - b.lp.iterations) as f64 / dt)
    });
    lines.push(format!(
        "loop {}  iter/s {iter_rate}  {}  tasks {}  timers {}  ready {}  actors {}",
        summary::loop_number(i, snap),
        summary::lag(snap),
        lp.tasks,
        lp.timers,
        lp.ready,
        snap.actors.len()
    ));
    mailboxes(snap, lines);
    connections(snap, then, lines);
    lines.push(String::new());
}

/// Actors with a bound or something waiting, deepest first.
fn mailboxes(snap: &Snapshot, lines: &mut Vec<String>) {
    let mut rows: Vec<&ActorInfo> = snap
        .actors
        .iter()
        .filter(|a| a.mailbox.depth > 0 || a.mailbox.bound.is_some())
        .collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by_key(|a| (std::cmp::Reverse(a.mailbox.depth), a.id));
    let deepest = rows
        .iter()
        .filter(|a| a.mailbox.bound.is_none())
        .map(|a| a.mailbox.depth)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut table = Table::new(&[
        ("MAILBOX", Align::Left),
        ("", Align::Left),
        ("DEPTH", Align::Right),
    ]);
    for a in rows {
        let full = a.mailbox.bound.unwrap_or(deepest);
        table.push(vec![
            format!("#{} {}", a.id, name(a)),
            units::bar(a.mailbox.depth as f64, full as f64, BAR),
            mailbox(&a.mailbox),
        ]);
    }
    indent(&table.render(), lines);
}

/// Every transport, fullest write buffer first, then busiest.
fn connections(snap: &Snapshot, then: Option<(f64, &Snapshot)>, lines: &mut Vec<String>) {
    struct Row<'a> {
        a: &'a ActorInfo,
        wbuf: usize,
        rates: Option<(f64, f64)>,
    }
    let mut rows: Vec<Row<'_>> = snap
        .actors
        .iter()
        .filter_map(|a| {
            let t = a.transport.as_ref()?;
            let rates = then.and_then(|(dt, before)| {
                let b = before
                    .actors
                    .iter()
                    .find(|b| b.id == a.id && b.generation == a.generation)?
                    .transport
                    .as_ref()?;
                let din = t.bytes_in.checked_sub(b.bytes_in)?;
                let dout = t.bytes_out.checked_sub(b.bytes_out)?;
                Some((din as f64 / dt, dout as f64 / dt))
            });
            Some(Row {
                a,
                wbuf: t.write_buffer,
                rates,
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let busy = |r: &Row<'_>| r.rates.map_or(0.0, |(i, o)| i + o);
    rows.sort_by(|x, y| {
        y.wbuf
            .cmp(&x.wbuf)
            .then(busy(y).total_cmp(&busy(x)))
            .then(x.a.id.cmp(&y.a.id))
    });
    let full = rows
        .iter()
        .map(|r| r.wbuf as f64)
        .fold(HIGH_WATER, f64::max);
    let mut table = Table::new(&[
        ("CONNECTION", Align::Left),
        ("WRITE BUFFER", Align::Left),
        ("", Align::Right),
        ("IN/s", Align::Right),
        ("OUT/s", Align::Right),
        ("", Align::Left),
    ]);
    for r in rows {
        let t = r.a.transport.as_ref().expect("filtered on transport");
        let who = t
            .peer
            .as_ref()
            .or(t.sock.as_ref())
            .cloned()
            .unwrap_or_else(|| name(r.a));
        let (rin, rout) = r
            .rates
            .map_or(("-".to_string(), "-".to_string()), |(i, o)| {
                (units::byte_rate(i), units::byte_rate(o))
            });
        let paused: Vec<&str> = [(t.reading_paused, "reading"), (t.writing_paused, "writing")]
            .into_iter()
            .filter_map(|(on, what)| on.then_some(what))
            .collect();
        let flags = if paused.is_empty() {
            String::new()
        } else {
            format!("paused {}", paused.join(", "))
        };
        table.push(vec![
            format!("#{} {who}", r.a.id),
            units::bar(r.wbuf as f64, full, BAR),
            units::bytes(r.wbuf as f64),
            rin,
            rout,
            flags,
        ]);
    }
    indent(&table.render(), lines);
}

/// Adds `text`'s lines, two spaces in.
fn indent(text: &str, lines: &mut Vec<String>) {
    lines.extend(text.lines().map(|l| format!("  {l}")));
}

/// Cuts lines to `width` characters and the frame to `height` lines, the
/// last one then saying how many were left out.
fn fit(mut lines: Vec<String>, width: usize, height: usize) -> String {
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    if lines.len() > height {
        let hidden = lines.len() - (height - 1);
        lines.truncate(height - 1);
        lines.push(format!(
            "… {hidden} more lines (a taller window shows them)"
        ));
    }
    let mut out = String::new();
    for line in lines {
        out.extend(line.chars().take(width));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn view() -> View<'static> {
        View {
            path: "/run/svc.sock",
            width: 200,
            height: 100,
            keys: true,
        }
    }

    /// The fixture one second (of loop time) later: 1200 iterations, 1 MiB
    /// out on connection #2, 1.5 KiB in on #1.
    fn later() -> ControlReply {
        let mut r = fixture::reply();
        let lp = &mut r.loops[0];
        lp.lp.time += 1.0;
        lp.lp.iterations += 1200;
        lp.actors[1].transport.as_mut().unwrap().bytes_in += 1536;
        lp.actors[2].transport.as_mut().unwrap().bytes_out += 1024 * 1024;
        r
    }

    #[test]
    fn the_first_frame_has_bars_and_no_rates() {
        let out = render_top(&fixture::reply(), None, &view());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "switchboard-ctl top  /run/svc.sock  pid 4242  2 loops  q quits"
        );
        assert!(
            lines[2].starts_with("loop 0  iter/s -  lag p50 100µs"),
            "{out}"
        );
        assert_eq!(lines[3], "  MAILBOX                                DEPTH");
        assert_eq!(lines[4], "  #4 worker-a   [##########----------]  50/100");
        assert_eq!(lines[5], "  #5 collector  [####################]      12");
        assert_eq!(
            lines[6],
            "  CONNECTION         WRITE BUFFER                      IN/s  OUT/s"
        );
        assert_eq!(
            lines[7],
            "  #2 127.0.0.1:5556  [####################]  68.4 KiB     -      -  paused writing"
        );
        assert_eq!(
            lines[8],
            "  #1 127.0.0.1:5555  [--------------------]       0 B     -      -"
        );
        assert_eq!(
            lines[10],
            "loop 1  iter/s -  lag p50 0µs p99 0µs max 0µs  tasks 0  timers 0  ready 0  actors 2"
        );
        assert_eq!(lines.len(), 11, "{out}");
    }

    #[test]
    fn rates_are_the_difference_over_the_loops_clock() {
        let before = fixture::reply();
        let out = render_top(&later(), Some(&before), &view());
        assert!(out.contains("loop 0  iter/s 1200  "), "{out}");
        assert!(out.contains("#2 127.0.0.1:5556  [####################]  68.4 KiB      0 B/s  1.0 MiB/s  paused writing"), "{out}");
        assert!(
            out.contains(
                "#1 127.0.0.1:5555  [--------------------]       0 B  1.5 KiB/s      0 B/s"
            ),
            "{out}"
        );
        // Loop 1's clock did not move: no rate rather than a division by zero.
        assert!(out.contains("loop 1  iter/s -  "), "{out}");
    }

    #[test]
    fn no_rates_against_another_process_or_a_new_row() {
        let before = fixture::reply();
        let mut restarted = later();
        restarted.pid = 1;
        assert!(render_top(&restarted, Some(&before), &view()).contains("loop 0  iter/s -  "));
        let mut reused = later();
        reused.loops[0].actors[2].generation = 2;
        let out = render_top(&reused, Some(&before), &view());
        assert!(
            out.contains("68.4 KiB          -      -  paused writing"),
            "{out}"
        );
    }

    #[test]
    fn the_frame_fits_the_window() {
        let small = View {
            width: 30,
            height: 6,
            keys: false,
            ..view()
        };
        let out = render_top(&fixture::reply(), None, &small);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 6, "{out}");
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{out}");
        assert!(lines[5].starts_with("… 6 more lines"), "{out}");
        assert_eq!(lines[0], "switchboard-ctl top  /run/svc.");
    }
}
