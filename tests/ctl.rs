//! `switchboard-ctl`, the command-line reader of a service's control socket
//! (CT ids). The service is a fake ([`support::ctl::FakeControl`]) that
//! speaks the protocol: the tool connects, writes `snapshot\n` and reads
//! one JSON `ControlReply` until EOF; an unknown command gets
//! `{"error": "..."}`. The live `top` view is watched in tmux.
//!
//! Python's counterpart is `python -m asyncio ps PID` / `pstree PID`:
//! <https://docs.python.org/3.14/library/asyncio-graph.html>

mod support;

use std::time::{Duration, Instant};

use switchboard::introspect::{ControlReply, TransportInfo};

use support::ctl::{ctl, quote, sample_reply, Answer, FakeControl, Tmux, CTL};
use support::tools::have;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8 stderr")
}

/// The lines of `out` from `loop N ` up to the next loop's section.
fn section(out: &str, n: usize) -> Vec<&str> {
    let head = format!("loop {n} ");
    out.lines()
        .skip_while(|l| !l.starts_with(&head))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || !l.starts_with("loop "))
        .map(|(_, l)| l)
        .collect()
}

/// Where a tree line's label starts (after its `├─ ` or `└─ `), in chars.
fn depth(line: &str) -> usize {
    line.chars()
        .take_while(|c| matches!(c, ' ' | '│' | '├' | '└' | '─'))
        .count()
}

/// True when the line starting with `child` sits directly under the line
/// starting with `parent` (labels compared after the tree drawing).
fn directly_under(lines: &[&str], parent: &str, child: &str) -> bool {
    let find = |label: &str| {
        lines
            .iter()
            .position(|l| {
                l[l.len() - l.trim_start_matches(|c| " │├└─".contains(c)).len()..]
                    .starts_with(label)
            })
            .unwrap_or_else(|| panic!("no line `{label}` in:\n{}", lines.join("\n")))
    };
    let (p, c) = (find(parent), find(child));
    let inside = lines[p + 1..=c.max(p)]
        .iter()
        .all(|l| depth(l) > depth(lines[p]));
    c > p && inside && depth(lines[c]) == depth(lines[p]) + 3
}

#[test]
fn ct1_ps_lists_every_actor_with_kind_and_mailbox() {
    let reply = sample_reply();
    let service = FakeControl::replying(&reply);
    let out = ctl(&["ps", service.arg()]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert_eq!(
        service.commands(),
        ["snapshot"],
        "the tool asks with `snapshot\\n`"
    );
    assert!(text.starts_with("pid 4242, 2 loops\n"), "{text}");
    assert!(
        text.contains(
            "loop 0  iterations 12345  lag p50 125µs p99 2.50ms max 5.00ms  tasks 3  timers 4"
        ),
        "{text}"
    );
    assert!(text.contains("loop 1  iterations 999  "), "{text}");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let header = rows
        .iter()
        .position(|r| r.first() == Some(&"LOOP"))
        .expect("a header row");
    assert_eq!(
        rows[header],
        ["LOOP", "ID", "KIND", "STATE", "MAILBOX", "MSGS", "NAME"]
    );
    let mut lines = 0;
    for (i, snap) in reply.loops.iter().enumerate() {
        for a in &snap.actors {
            let row = rows[header + 1..]
                .iter()
                .find(|r| r[0] == i.to_string() && r[1] == a.id.to_string())
                .unwrap_or_else(|| panic!("no line for loop {i} actor {}:\n{text}", a.id));
            let mailbox = match a.mailbox.bound {
                Some(b) => format!("{}/{b}", a.mailbox.depth),
                None => a.mailbox.depth.to_string(),
            };
            let name = a.name.clone().unwrap_or_else(|| a.description.clone());
            assert_eq!(row[2], a.kind.as_str(), "{text}");
            assert_eq!(row[3], a.state, "{text}");
            assert_eq!(row[4], mailbox, "{text}");
            assert_eq!(row[5], a.messages.to_string(), "{text}");
            assert_eq!(row[6..].join(" "), name, "{text}");
            lines += 1;
        }
    }
    assert_eq!(
        rows.len() - header - 1,
        lines,
        "one line per actor:\n{text}"
    );
}

#[test]
fn ct2_tree_puts_connections_under_their_server_and_children_under_their_supervisor() {
    let service = FakeControl::replying(&sample_reply());
    let out = ctl(&["tree", service.arg()]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let first = section(&text, 0);
    assert!(
        directly_under(&first, "#0 server echo", "#1 transport"),
        "{text}"
    );
    assert!(
        directly_under(&first, "#0 server echo", "#2 transport"),
        "{text}"
    );
    assert!(
        directly_under(&first, "#3 supervisor root", "#4 application worker-a"),
        "{text}"
    );
    assert!(
        directly_under(&first, "#3 supervisor root", "worker-b  not running"),
        "{text}"
    );
    assert_eq!(
        depth(first[1]),
        3,
        "servers and supervisors are roots:\n{text}"
    );
    let find = |label: &str| {
        first
            .iter()
            .find(|l| l.contains(label))
            .copied()
            .unwrap_or_default()
    };
    assert!(
        find("#0 server").contains("listening 127.0.0.1:8000  connections 2  accepted 10"),
        "{text}"
    );
    assert!(
        find("#1 transport").contains("peer 127.0.0.1:5555  in 1.5 KiB  out 4.0 KiB  wbuf 0 B"),
        "{text}"
    );
    assert!(
        find("#2 transport").contains("wbuf 68.4 KiB")
            && find("#2 transport").ends_with("paused writing"),
        "{text}"
    );
    assert!(
        find("#3 supervisor").contains("one_for_one  restarts 4"),
        "{text}"
    );
    assert!(
        find("worker-a").contains("restarts 1  mailbox 50/100"),
        "{text}"
    );
    // One section per loop: loop 1's server has its own connection.
    let second = section(&text, 1);
    assert!(second[0].starts_with("loop 1  iterations 999"), "{text}");
    assert!(
        directly_under(&second, "#0 server echo", "#1 transport"),
        "{text}"
    );
    assert!(!second.iter().any(|l| l.contains("5555")), "{text}");
}

#[test]
fn ct3_json_prints_the_reply_as_sent() {
    let reply = sample_reply();
    let service = FakeControl::replying(&reply);
    let out = ctl(&["json", service.arg()]);
    assert!(out.status.success(), "{out:?}");
    let back: ControlReply = serde_json::from_slice(&out.stdout).expect("json prints JSON");
    assert_eq!(back, reply);
    assert!(
        stdout(&out).contains("\n  \"loops\": ["),
        "pretty-printed: {}",
        stdout(&out)
    );
    // Fields this tool does not know (a newer service) are kept.
    let mut raw = serde_json::to_value(&reply).unwrap();
    raw["version"] = serde_json::json!(2);
    let service = FakeControl::new(move |_, _| Answer::Text(raw.to_string()));
    let out = ctl(&["json", service.arg()]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["version"], 2, "{}", stdout(&out));
}

#[test]
fn ct4_bad_usage_prints_the_usage_and_exits_2() {
    for args in [
        &[][..],
        &["frob", "/tmp/x"],
        &["ps"],
        &["ps", "/tmp/x", "extra"],
        &["ps", "--iterations", "2", "/tmp/x"],
        &["top", "--interval", "soon", "/tmp/x"],
    ] {
        let out = ctl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = stderr(&out);
        assert!(err.starts_with("switchboard-ctl: "), "{args:?}: {err}");
        assert!(
            err.contains("usage: switchboard-ctl <ps|tree|top|json>"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    let out = ctl(&["--help"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with("usage: switchboard-ctl"),
        "{out:?}"
    );
}

#[test]
fn ct5_an_unreachable_socket_is_a_clear_error_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nobody.sock");
    let not_a_socket = dir.path().join("plain-file");
    std::fs::write(&not_a_socket, "x").unwrap();
    for path in [&missing, &not_a_socket] {
        let path = path.to_str().unwrap();
        for command in ["ps", "tree", "top", "json"] {
            let out = ctl(&[command, path]);
            assert_eq!(out.status.code(), Some(1), "{command} {path}: {out:?}");
            let err = stderr(&out);
            assert!(
                err.starts_with(&format!("switchboard-ctl: cannot connect to {path}: ")),
                "{command}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "one line, no panic: {err}");
            assert!(out.stdout.is_empty(), "{out:?}");
        }
    }
}

#[test]
fn ct6_a_refusal_garbage_or_silence_is_an_error_and_exit_1() {
    let refusing =
        FakeControl::new(|_, _| Answer::Text(r#"{"error": "unknown command"}"#.to_string()));
    let garbage = FakeControl::new(|_, _| Answer::Text("hello\n".to_string()));
    let wrong_shape = FakeControl::new(|_, _| Answer::Text(r#"{"pid": "x"}"#.to_string()));
    let silent = FakeControl::new(|_, _| Answer::Silent);
    let cases = [
        (&refusing, "refused the query: unknown command"),
        (&garbage, "did not answer with a snapshot reply"),
        (&wrong_shape, "did not answer with a snapshot reply"),
        (&silent, "did not answer within 0.2s"),
    ];
    for (service, why) in cases {
        let start = Instant::now();
        let out = ctl(&["ps", "--timeout", "0.2", service.arg()]);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{why}: took {:?}",
            start.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{why}: {out:?}");
        let err = stderr(&out);
        let expected = format!("switchboard-ctl: {} {why}", service.arg());
        assert!(
            err.starts_with(&expected),
            "expected `{expected}`, got: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// The sample reply at the `n`-th query: each query is half a second of
/// loop time later, with 600 more iterations and 512 more bytes out on
/// connection #1 (so 1200 iterations/s and 1.0 KiB/s).
fn moving(n: usize) -> ControlReply {
    let mut reply = sample_reply();
    let lp = &mut reply.loops[0];
    lp.lp.time += n as f64 * 0.5;
    lp.lp.iterations += n as u64 * 600;
    let t: &mut TransportInfo = lp.actors[1].transport.as_mut().unwrap();
    t.bytes_out += n as u64 * 512;
    reply
}

#[test]
fn ct7_top_rates_come_from_consecutive_snapshots_and_iterations_stop_it() {
    let service = FakeControl::new(|n, _| Answer::reply(&moving(n)));
    let out = ctl(&[
        "top",
        "--iterations",
        "3",
        "--interval",
        "0.05",
        service.arg(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        !text.contains('\x1b'),
        "no escapes when stdout is not a terminal:\n{text}"
    );
    let frames: Vec<&str> = text.split("switchboard-ctl top  ").skip(1).collect();
    assert_eq!(frames.len(), 3, "{text}");
    assert_eq!(service.commands().len(), 3);
    assert!(frames[0].contains("loop 0  iter/s -  "), "{}", frames[0]);
    for frame in &frames[1..] {
        assert!(frame.contains("loop 0  iter/s 1200  "), "{frame}");
        let conn = frame
            .lines()
            .find(|l| l.contains("#1 127.0.0.1:5555"))
            .expect("connection #1");
        assert!(conn.contains("0 B/s  1.0 KiB/s"), "{conn}");
        assert!(
            frame.contains("#4 worker-a   [##########----------]  50/100"),
            "{frame}"
        );
    }
    assert!(
        frames[2].contains("Ctrl-C quits"),
        "stdin is not a terminal: no key reading\n{text}"
    );
}

#[test]
fn ct8_top_in_a_terminal_draws_mailbox_bars_and_quits_on_q() {
    if !have("tmux", &["-V"]) {
        return;
    }
    let service = FakeControl::new(|n, _| Answer::reply(&moving(n)));
    // The shell records the terminal's settings around the tool's run,
    // then its exit status.
    let file = |name: &str| service.dir().join(name);
    let (before, after, status) = (file("stty-before"), file("stty-after"), file("status"));
    let arg = |p: &std::path::Path| quote(p.to_str().unwrap());
    let line = format!(
        "stty -g > {}; {} top --interval 0.1 {}; s=$?; stty -g > {}; echo $s > {}",
        arg(&before),
        quote(CTL),
        quote(service.arg()),
        arg(&after),
        arg(&status)
    );
    let tmux = Tmux::start(service.dir(), 120, 40, &line);
    let screen = tmux.wait_for("a half-full bar for worker-a and a rate", |s| {
        s.contains("#4 worker-a   [##########----------]  50/100")
            && s.contains("loop 0  iter/s 1200  ")
    });
    assert!(
        screen.contains("q quits"),
        "keys are read in a terminal:\n{screen}"
    );
    assert!(
        screen.contains("#5 collector  [####################]      12"),
        "{screen}"
    );
    assert!(screen.lines().all(|l| l.chars().count() <= 120), "{screen}");
    tmux.send_keys("q");
    assert_eq!(tmux.wait_file(&status), "0\n", "q ends top cleanly");
    tmux.wait_for("the normal screen again (the alternate one left)", |s| {
        !s.contains("MAILBOX")
    });
    let settings = |p: &std::path::Path| std::fs::read_to_string(p).expect("stty -g's output");
    assert_eq!(
        settings(&after),
        settings(&before),
        "the terminal's settings are restored"
    );
}
