//! Runs `examples/observed_service.rs` and checks what it shows against
//! what the clients did: `switchboard-ctl ps`, `tree` and `json` on its
//! control socket, and `/metrics` read with Prometheus' own parser —
//! connections, bytes both ways, accepted totals, and a supervisor restart
//! the test provokes (IN11).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::child::Child;
use support::ctl::ctl;
use support::examples;
use support::metrics::{have_prometheus_client, parse, value};
use switchboard::introspect::{ActorKind, ControlReply, COUNTING};

const STEP: Duration = Duration::from_secs(10);

/// A client connection with what it sent and received, in bytes.
struct Client {
    reader: BufReader<TcpStream>,
    sent: usize,
    received: usize,
}

impl Client {
    fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(STEP)).unwrap();
        Client {
            reader: BufReader::new(s),
            sent: 0,
            received: 0,
        }
    }

    /// Sends `line` and returns the answer line.
    fn ask(&mut self, line: &str) -> String {
        let out = format!("{line}\n");
        self.reader.get_mut().write_all(out.as_bytes()).unwrap();
        self.sent += out.len();
        let mut answer = String::new();
        self.reader.read_line(&mut answer).expect("an answer");
        self.received += answer.len();
        answer.trim_end().to_string()
    }

    fn local(&self) -> String {
        self.reader.get_ref().local_addr().unwrap().to_string()
    }
}

fn stdout_of(args: &[&str]) -> String {
    let out = ctl(args);
    assert!(out.status.success(), "switchboard-ctl {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn scrape(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

#[test]
fn in11_the_observed_service_shows_what_its_clients_did() {
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("kv.ctl");
    let control_arg = control.to_str().unwrap();
    let mut cmd = Command::new(examples::exe("observed_service"));
    cmd.args(["0", control_arg, "0"]);
    let mut service = Child::start(cmd);
    service.wait_for_output("observed_service on ");
    let banner = service.stdout();
    let port_after = |marker: &str| -> u16 {
        let at = banner.find(marker).unwrap() + marker.len();
        let rest = &banner[at..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().unwrap()
    };
    let port = port_after("on 127.0.0.1:");
    let mport = port_after("metrics on 127.0.0.1:");

    // Three clients, each its own amount of traffic.
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(port)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        for j in 0..(i + 1) * 5 {
            assert_eq!(c.ask(&format!("SET k{i}-{j} value-{j}")), "OK");
        }
        assert_eq!(c.ask(&format!("GET k{i}-0")), "value-0");
    }

    // `ps`: one line per actor, the named ones by name.
    let ps = stdout_of(&["ps", control_arg]);
    for (kind, name) in [
        ("server", "kv"),
        ("server", "control"),
        ("server", "metrics"),
        ("supervisor", "service"),
        ("application", "store"),
    ] {
        assert!(
            ps.lines().any(|l| l.contains(kind) && l.ends_with(name)),
            "no {kind} {name} in:\n{ps}"
        );
    }
    assert_eq!(
        ps.lines().filter(|l| l.contains(" transport ")).count(),
        4,
        "3 clients and this query:\n{ps}"
    );

    // `tree`: the clients under the kv server, the store under its supervisor.
    let tree = stdout_of(&["tree", control_arg]);
    let kv = tree
        .lines()
        .position(|l| l.contains("server kv"))
        .expect(&tree);
    let under: Vec<&str> = tree.lines().skip(kv + 1).take(3).collect();
    for c in &clients {
        assert!(
            under.iter().any(|l| l.contains(&c.local())),
            "{} not under kv:\n{tree}",
            c.local()
        );
    }
    let sup = tree
        .lines()
        .position(|l| l.contains("supervisor service"))
        .expect(&tree);
    assert!(
        tree.lines().nth(sup + 1).unwrap().contains("store"),
        "{tree}"
    );

    // `json`: exact figures.
    let reply: ControlReply = serde_json::from_str(&stdout_of(&["json", control_arg])).unwrap();
    let snap = &reply.loops[0];
    let kv = snap
        .actors
        .iter()
        .find(|a| a.kind == ActorKind::Server && a.name.as_deref() == Some("kv"))
        .unwrap();
    let info = kv.server.as_ref().unwrap();
    assert_eq!(info.connections, 3);
    for c in &clients {
        let t = snap
            .actors
            .iter()
            .filter(|a| a.parent == Some(kv.id))
            .filter_map(|a| a.transport.as_ref())
            .find(|t| t.peer.as_deref() == Some(c.local().as_str()))
            .expect("the client's connection");
        if COUNTING {
            assert_eq!(
                (t.bytes_in, t.bytes_out),
                (c.sent as u64, c.received as u64)
            );
        }
    }

    // A crash the supervisor restarts: the asker hears an error.
    let mut crasher = Client::connect(port);
    assert!(crasher.ask("CRASH").starts_with("ERR"));
    assert_eq!(
        crasher.ask("GET k0-0"),
        "NOT_FOUND",
        "the new store starts empty"
    );
    let reply: ControlReply = serde_json::from_str(&stdout_of(&["json", control_arg])).unwrap();
    let sup = reply.loops[0]
        .actors
        .iter()
        .find_map(|a| a.supervisor.clone())
        .unwrap();
    assert_eq!((sup.restarts_total, sup.restarts_in_window), (1, 1));

    // `/metrics`, through Prometheus' parser.
    let text = scrape(mport);
    if have_prometheus_client() {
        let families = parse(&text);
        let kv = [("loop", "0"), ("server", "kv")];
        assert_eq!(value(&families, "switchboard_server_connections", &kv), 4.0);
        if COUNTING {
            assert_eq!(
                value(&families, "switchboard_server_accepted_total", &kv),
                4.0
            );
            let sent: usize = clients.iter().map(|c| c.sent).sum::<usize>() + crasher.sent;
            let got: usize = clients.iter().map(|c| c.received).sum::<usize>() + crasher.received;
            assert_eq!(
                value(&families, "switchboard_server_received_bytes", &kv),
                sent as f64
            );
            assert_eq!(
                value(&families, "switchboard_server_sent_bytes", &kv),
                got as f64
            );
        }
        let restarts = [("loop", "0"), ("supervisor", "service")];
        assert_eq!(
            value(
                &families,
                "switchboard_supervisor_restarts_total",
                &restarts
            ),
            1.0
        );
        let store = [("loop", "0"), ("actor", "store")];
        assert_eq!(
            value(&families, "switchboard_mailbox_bound", &store),
            1024.0
        );
    }

    drop(clients);
    drop(crasher);
    service.signal(Signal::SIGTERM);
    let (out, reports) = service.success_reporting();
    assert!(out.contains("observed_service: stopped"), "{out}");
    assert!(!control.exists(), "the control socket's file is removed");
    // The one error the service reported: the crash we asked for.
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("Exception in actor"), "{reports:?}");
    assert!(service.stderr().contains("asked to crash"));
}
