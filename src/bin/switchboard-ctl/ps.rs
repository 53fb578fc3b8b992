//! `switchboard-ctl ps`: one line per actor, after a summary line per loop.
//!
//! ```text
//! pid 4242, 2 loops
//! loop 0  iterations 12345  lag p50 100µs p99 2.30ms max 5.00ms  tasks 3  timers 4  ready 0  actors 7
//! loop 1  iterations 999  lag p50 0µs p99 0µs max 0µs  tasks 0  timers 0  ready 0  actors 2
//!
//! LOOP  ID  KIND         STATE    MAILBOX  MSGS  NAME
//!    0   0  server       serving        0    12  echo
//!    0   4  application  running   50/100     7  worker-a
//! ```
//!
//! NAME comes last, as ps's COMMAND does: it is the one column whose
//! width varies a lot (an actor without a name shows its description).

use switchboard::introspect::{ActorInfo, ControlReply, MailboxInfo};

use crate::summary;
use crate::table::{Align, Table};

/// The whole `ps` output.
pub fn render_ps(reply: &ControlReply) -> String {
    let mut out = summary::header(reply.pid, reply.loops.len());
    out.push('\n');
    for (i, snap) in reply.loops.iter().enumerate() {
        out.push_str(&summary::line(i, snap));
        out.push('\n');
    }
    let mut table = Table::new(&[
        ("LOOP", Align::Right),
        ("ID", Align::Right),
        ("KIND", Align::Left),
        ("STATE", Align::Left),
        ("MAILBOX", Align::Right),
        ("MSGS", Align::Right),
        ("NAME", Align::Left),
    ]);
    for (i, snap) in reply.loops.iter().enumerate() {
        let number = summary::loop_number(i, snap).to_string();
        for a in &snap.actors {
            table.push(vec![
                number.clone(),
                a.id.to_string(),
                a.kind.as_str().to_string(),
                a.state.clone(),
                mailbox(&a.mailbox),
                a.messages.to_string(),
                name(a),
            ]);
        }
    }
    out.push('\n');
    out.push_str(&table.render());
    out
}

/// `depth/bound` for a bounded mailbox, `depth` otherwise.
pub fn mailbox(m: &MailboxInfo) -> String {
    match m.bound {
        Some(bound) => format!("{}/{bound}", m.depth),
        None => m.depth.to_string(),
    }
}

/// The actor's name, else its description, else `-`.
pub fn name(a: &ActorInfo) -> String {
    match (&a.name, a.description.is_empty()) {
        (Some(n), _) => n.clone(),
        (None, false) => a.description.clone(),
        (None, true) => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn every_actor_has_a_line_with_kind_state_and_mailbox() {
        let out = render_ps(&fixture::reply());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "pid 4242, 2 loops");
        assert!(
            lines[1].starts_with(
                "loop 0  iterations 12345  lag p50 100µs p99 2.30ms max 5.00ms  tasks 3  timers 4"
            ),
            "{out}"
        );
        assert!(lines[2].starts_with("loop 1  iterations 999"), "{out}");
        assert_eq!(lines[3], "");
        assert_eq!(
            lines[4],
            "LOOP  ID  KIND         STATE     MAILBOX  MSGS  NAME"
        );
        assert_eq!(
            lines[5],
            "   0   0  server       serving         0    12  echo"
        );
        assert_eq!(
            lines[9],
            "   0   4  application  running    50/100     7  worker-a"
        );
        assert_eq!(
            lines[10],
            "   0   5  application  running        12     0  collector"
        );
        assert_eq!(
            lines[11],
            "   0   6  subprocess   running         0     0  subprocess #6"
        );
        assert_eq!(
            lines[13],
            "   1   1  signal       watching        0     0  signal #1"
        );
        assert_eq!(lines.len(), 14, "{out}");
    }

    #[test]
    fn an_empty_reply_still_has_its_header() {
        let out = render_ps(&ControlReply::default());
        assert_eq!(
            out,
            "pid 0, 0 loops\n\nLOOP  ID  KIND  STATE  MAILBOX  MSGS  NAME\n"
        );
    }
}
