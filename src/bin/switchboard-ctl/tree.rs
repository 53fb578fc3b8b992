//! `switchboard-ctl tree`: each loop's actors as a forest, like Erlang's
//! observer or `python -m asyncio pstree`.
//!
//! ```text
//! loop 0  iterations 12345  lag p50 100µs p99 2.30ms max 5.00ms  …
//! ├─ #0 server echo  serving  listening 127.0.0.1:8000  connections 2  accepted 10
//! │  ├─ #1 transport  open  peer 127.0.0.1:5555  in 1.5 KiB  out 4.0 KiB  wbuf 0 B  age 3m04s
//! │  └─ #2 transport  open  peer 127.0.0.1:5556  …  tls  paused writing
//! └─ #3 supervisor root  running  one_for_one  restarts 4 (1 in window, at most 3 in 5s)
//!    ├─ #4 application worker-a  running  restarts 1  mailbox 50/100
//!    └─ worker-b  not running  restarts 3
//! ```
//!
//! An actor hangs under its `parent` row; a supervisor's children come in
//! its start order (a child with no running incarnation gets a line of its
//! own), then any other rows that name it as parent, in row order. A row a
//! supervisor lists but whose `parent` is unset still goes under that
//! supervisor. Roots are rows with no parent or a parent missing from the
//! snapshot; rows only reachable through a cycle (bad data) are shown as
//! roots too, so every row is printed exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};

use switchboard::introspect::{ActorInfo, ActorKind, ChildInfo, ControlReply, Snapshot};

use crate::ps::mailbox;
use crate::{summary, units};

/// The whole `tree` output: a header, then one section per loop.
pub fn render_tree(reply: &ControlReply) -> String {
    let mut out = summary::header(reply.pid, reply.loops.len());
    out.push('\n');
    for (i, snap) in reply.loops.iter().enumerate() {
        out.push('\n');
        out.push_str(&summary::line(i, snap));
        out.push('\n');
        out.push_str(&render_loop(snap));
    }
    out
}

/// One entry under a node.
#[derive(Debug, Clone, Copy)]
enum Entry<'a> {
    /// A row, with its supervisor's spec entry when it is a supervised child.
    Actor(&'a ActorInfo, Option<&'a ChildInfo>),
    /// A supervised child with no incarnation under this supervisor.
    Stopped(&'a ChildInfo),
}

/// A loop's actors, indexed for the walk.
struct Forest<'a> {
    children: HashMap<usize, Vec<Entry<'a>>>,
    roots: Vec<&'a ActorInfo>,
    rows: Vec<&'a ActorInfo>,
}

impl<'a> Forest<'a> {
    fn new(snap: &'a Snapshot) -> Forest<'a> {
        let by_id: BTreeMap<usize, &ActorInfo> = snap.actors.iter().map(|a| (a.id, a)).collect();
        // Which supervisor lists each row as a child (the first one wins).
        let mut listed: HashMap<usize, (usize, &ChildInfo)> = HashMap::new();
        for s in by_id.values() {
            for child in s.supervisor.iter().flat_map(|sup| &sup.children) {
                if let Some(row) = child.actor.filter(|r| by_id.contains_key(r)) {
                    listed.entry(row).or_insert((s.id, child));
                }
            }
        }
        let parent_of = |a: &ActorInfo| {
            a.parent
                .filter(|p| *p != a.id && by_id.contains_key(p))
                .or_else(|| listed.get(&a.id).map(|(s, _)| *s).filter(|s| *s != a.id))
        };
        let mut children: HashMap<usize, Vec<Entry<'a>>> = HashMap::new();
        let mut roots = Vec::new();
        // A supervisor's spec children first, in start order.
        for s in by_id.values() {
            for child in s.supervisor.iter().flat_map(|sup| &sup.children) {
                let row = child.actor.and_then(|r| by_id.get(&r).copied());
                let entry = match row {
                    Some(a) if parent_of(a) == Some(s.id) => Entry::Actor(a, Some(child)),
                    Some(_) => continue, // it hangs under its own parent
                    None => Entry::Stopped(child),
                };
                children.entry(s.id).or_default().push(entry);
            }
        }
        // Then every other row under its parent, in row order.
        for a in by_id.values() {
            match parent_of(a) {
                Some(p) => {
                    let spec = listed.get(&a.id).filter(|(s, _)| *s == p);
                    if spec.is_none() {
                        children.entry(p).or_default().push(Entry::Actor(a, None));
                    }
                }
                None => roots.push(*a),
            }
        }
        Forest {
            children,
            roots,
            rows: by_id.into_values().collect(),
        }
    }
}

/// The tree lines of one loop.
fn render_loop(snap: &Snapshot) -> String {
    let forest = Forest::new(snap);
    let mut seen = HashSet::new();
    let mut top: Vec<Entry<'_>> = forest.roots.iter().map(|a| Entry::Actor(a, None)).collect();
    // Rows a root does not reach (a parent cycle) become roots themselves.
    let mut reached = HashSet::new();
    for a in &forest.roots {
        mark(&forest, a.id, &mut reached);
    }
    for a in &forest.rows {
        if !reached.contains(&a.id) {
            top.push(Entry::Actor(a, None));
            mark(&forest, a.id, &mut reached);
        }
    }
    let mut out = String::new();
    walk(&forest, &top, "", &mut seen, &mut out);
    out
}

/// Adds `id` and everything below it to `reached`.
fn mark(forest: &Forest<'_>, id: usize, reached: &mut HashSet<usize>) {
    if !reached.insert(id) {
        return;
    }
    for entry in forest.children.get(&id).into_iter().flatten() {
        if let Entry::Actor(a, _) = entry {
            mark(forest, a.id, reached);
        }
    }
}

/// Prints `entries` at one level with `prefix`, then each one's children.
fn walk(
    forest: &Forest<'_>,
    entries: &[Entry<'_>],
    prefix: &str,
    seen: &mut HashSet<usize>,
    out: &mut String,
) {
    // In a parent cycle the way back to an ancestor is not drawn again.
    let entries: Vec<&Entry<'_>> = entries
        .iter()
        .filter(|e| !matches!(e, Entry::Actor(a, _) if seen.contains(&a.id)))
        .collect();
    for (n, entry) in entries.iter().enumerate() {
        let last = n + 1 == entries.len();
        out.push_str(prefix);
        out.push_str(if last { "└─ " } else { "├─ " });
        match entry {
            Entry::Stopped(child) => {
                out.push_str(&format!(
                    "{}  not running  restarts {}\n",
                    child.name, child.restarts
                ));
            }
            Entry::Actor(a, spec) => {
                out.push_str(&label(a, *spec));
                out.push('\n');
                seen.insert(a.id);
                let below = forest.children.get(&a.id).map_or(&[][..], Vec::as_slice);
                let deeper = format!("{prefix}{}", if last { "   " } else { "│  " });
                walk(forest, below, &deeper, seen, out);
            }
        }
    }
}

/// One node's line: `#id kind name  state  details`.
fn label(a: &ActorInfo, spec: Option<&ChildInfo>) -> String {
    let mut parts = vec![match &a.name {
        Some(name) => format!("#{} {} {name}", a.id, a.kind.as_str()),
        None => format!("#{} {}", a.id, a.kind.as_str()),
    }];
    parts.push(a.state.clone());
    if let Some(child) = spec {
        if a.name.as_deref() != Some(child.name.as_str()) {
            parts.push(format!("child {}", child.name));
        }
        parts.push(format!("restarts {}", child.restarts));
    }
    if let Some(s) = &a.server {
        if !s.sockets.is_empty() {
            parts.push(format!("listening {}", s.sockets.join(", ")));
        }
        parts.push(format!("connections {}", s.connections));
        parts.push(format!("accepted {}", s.accepted));
    }
    if let Some(t) = &a.transport {
        if let Some(peer) = t.peer.as_ref().or(t.sock.as_ref()) {
            parts.push(format!("peer {peer}"));
        }
        parts.push(format!("in {}", units::bytes(t.bytes_in as f64)));
        parts.push(format!("out {}", units::bytes(t.bytes_out as f64)));
        parts.push(format!("wbuf {}", units::bytes(t.write_buffer as f64)));
        if t.age_seconds > 0.0 {
            parts.push(format!("age {}", units::age(t.age_seconds)));
        }
        if t.tls {
            parts.push("tls".to_string());
        }
        let paused: Vec<&str> = [(t.reading_paused, "reading"), (t.writing_paused, "writing")]
            .into_iter()
            .filter_map(|(on, what)| on.then_some(what))
            .collect();
        if !paused.is_empty() {
            parts.push(format!("paused {}", paused.join(", ")));
        }
    }
    if let Some(s) = &a.supervisor {
        parts.push(s.strategy.clone());
        parts.push(format!(
            "restarts {} ({} in window, at most {} in {}s)",
            s.restarts_total, s.restarts_in_window, s.max_restarts, s.within_seconds
        ));
    }
    if let Some(p) = &a.process {
        match p.returncode {
            Some(code) => parts.push(format!("pid {} {} {code}", p.pid, p.state)),
            None => parts.push(format!("pid {} {}", p.pid, p.state)),
        }
    }
    if a.mailbox.depth > 0 || a.mailbox.bound.is_some() {
        parts.push(format!("mailbox {}", mailbox(&a.mailbox)));
    }
    if a.kind == ActorKind::Application && a.name.is_none() && !a.description.is_empty() {
        parts.push(a.description.clone());
    }
    parts.join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use switchboard::introspect::ActorKind;

    #[test]
    fn connections_hang_under_their_server_and_children_under_their_supervisor() {
        let out = render_tree(&fixture::reply());
        let expected = "\
pid 4242, 2 loops

loop 0  iterations 12345  lag p50 100µs p99 2.30ms max 5.00ms  tasks 3  timers 4  ready 0  actors 7
├─ #0 server echo  serving  listening 127.0.0.1:8000  connections 2  accepted 10
│  ├─ #1 transport  open  peer 127.0.0.1:5555  in 1.5 KiB  out 4.0 KiB  wbuf 0 B  age 3m04s
│  └─ #2 transport  open  peer 127.0.0.1:5556  in 10 B  out 2.0 MiB  wbuf 68.4 KiB  tls  paused writing
├─ #3 supervisor root  running  one_for_one  restarts 4 (1 in window, at most 3 in 5s)
│  ├─ #4 application worker-a  running  restarts 1  mailbox 50/100
│  └─ worker-b  not running  restarts 3
├─ #5 application collector  running  mailbox 12
└─ #6 subprocess  running  pid 1234 running

loop 1  iterations 999  lag p50 0µs p99 0µs max 0µs  tasks 0  timers 0  ready 0  actors 2
├─ #0 server echo  serving
└─ #1 signal  watching
";
        assert_eq!(out, expected, "\n{out}");
    }

    #[test]
    fn a_listed_child_without_parent_goes_under_its_supervisor() {
        let mut reply = fixture::reply();
        reply.loops[0].actors[4].parent = None;
        let out = render_tree(&reply);
        assert!(out.contains("│  ├─ #4 application worker-a"), "{out}");
    }

    #[test]
    fn a_parent_cycle_prints_every_row_once_and_ends() {
        let mut a = fixture::actor(0, ActorKind::Application, Some("a"), "running");
        let mut b = fixture::actor(1, ActorKind::Application, Some("b"), "running");
        a.parent = Some(1);
        b.parent = Some(0);
        let orphan = ActorInfo {
            parent: Some(99),
            ..fixture::actor(2, ActorKind::Application, Some("orphan"), "running")
        };
        let snap = Snapshot {
            actors: vec![a, b, orphan],
            ..Snapshot::default()
        };
        let out = render_loop(&snap);
        assert_eq!(
            out,
            "├─ #2 application orphan  running\n└─ #0 application a  running\n   └─ #1 application b  running\n",
            "\n{out}"
        );
    }
}
