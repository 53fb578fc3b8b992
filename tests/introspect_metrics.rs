//! Prometheus metrics from introspection snapshots (switchboard's own;
//! asyncio has none): `encode_metrics`' text, read back with a real
//! OpenMetrics parser (Python's `prometheus_client`), and the
//! `GET /metrics` endpoint over loopback. The format is
//! <https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md>.
#![cfg(feature = "metrics")]

mod support;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use switchboard::introspect::{
    encode_metrics, serve_metrics_from, ActorInfo, ActorKind, LagInfo, LoopInfo, MailboxInfo,
    ServerInfo, Snapshot, SupervisorInfo, TransportInfo,
};

use support::metrics::{family, have_prometheus_client, parse, value};
use support::net::until;
use support::{new_loop, run_with_deadline};

/// An actor of `kind` in row `id`, named `name`.
fn actor(id: usize, kind: ActorKind, name: Option<&str>) -> ActorInfo {
    ActorInfo {
        id,
        kind,
        name: name.map(Into::into),
        ..ActorInfo::default()
    }
}

/// Connection `id` of the server in row `parent` (if any), with its bytes.
fn connection(id: usize, parent: Option<usize>, bytes: (u64, u64)) -> ActorInfo {
    ActorInfo {
        parent,
        transport: Some(TransportInfo {
            bytes_in: bytes.0,
            bytes_out: bytes.1,
            ..TransportInfo::default()
        }),
        ..actor(id, ActorKind::Transport, None)
    }
}

/// A lone loop: a server "web" with 3 connections (one reading-paused, one
/// writing-paused) and a client connection, an application actor "cache"
/// with 5 of 100 messages waiting, an unnamed one, a supervisor "root"
/// that restarted twice, a signal watcher, and lag samples.
fn snapshot() -> Snapshot {
    let mut conns = [(2, (100, 10)), (3, (200, 20)), (4, (300, 30))]
        .map(|(id, bytes)| connection(id, Some(1), bytes));
    conns[0].transport.as_mut().unwrap().reading_paused = true;
    conns[1].transport.as_mut().unwrap().writing_paused = true;
    let mut actors = vec![ActorInfo {
        server: Some(Box::new(ServerInfo {
            sockets: vec!["127.0.0.1:8080".into()],
            connections: 3,
            accepted: 10,
            state: "serving".into(),
        })),
        ..actor(1, ActorKind::Server, Some("web"))
    }];
    actors.extend(conns);
    actors.push(connection(9, None, (7, 8)));
    actors.push(ActorInfo {
        mailbox: MailboxInfo {
            depth: 5,
            bound: Some(100),
        },
        ..actor(5, ActorKind::Application, Some("cache"))
    });
    actors.push(ActorInfo {
        mailbox: MailboxInfo {
            depth: 1,
            bound: None,
        },
        ..actor(7, ActorKind::Application, None)
    });
    actors.push(ActorInfo {
        supervisor: Some(Box::new(SupervisorInfo {
            restarts_total: 2,
            restarts_in_window: 1,
            ..SupervisorInfo::default()
        })),
        ..actor(6, ActorKind::Supervisor, Some("root"))
    });
    actors.push(ActorInfo {
        mailbox: MailboxInfo {
            depth: 3,
            bound: None,
        },
        ..actor(8, ActorKind::Signal, Some("signals"))
    });
    Snapshot {
        lp: LoopInfo {
            group_index: None,
            iterations: 1234,
            poll_seconds: 1.5,
            handler_seconds: 0.25,
            ready: 3,
            timers: 4,
            tasks: 5,
            callbacks_run: 678,
            exceptions: 2,
            lag: LagInfo {
                buckets: vec![1, 2, 3, 3, 3, 3, 3, 4, 4, 4, 5],
                sum: 0.75,
                ..LagInfo::default()
            },
            ..LoopInfo::default()
        },
        actors,
    }
}

#[test]
fn mt1_encoded_metrics_parse_with_prometheus_client() {
    let text = encode_metrics(&[snapshot()]);
    if !have_prometheus_client() {
        return;
    }
    let families = parse(&text);
    let shape: BTreeSet<(&str, &str, &str)> = families
        .iter()
        .map(|f| (f.name.as_str(), f.kind.as_str(), f.unit.as_str()))
        .collect();
    let expected = BTreeSet::from([
        ("switchboard_loop_iterations", "counter", ""),
        ("switchboard_loop_callbacks_run", "counter", ""),
        ("switchboard_loop_exceptions", "counter", ""),
        ("switchboard_loop_poll_seconds", "counter", "seconds"),
        ("switchboard_loop_handler_seconds", "counter", "seconds"),
        ("switchboard_loop_ready", "gauge", ""),
        ("switchboard_loop_timers", "gauge", ""),
        ("switchboard_loop_tasks", "gauge", ""),
        ("switchboard_loop_lag_seconds", "histogram", "seconds"),
        ("switchboard_connections", "gauge", ""),
        ("switchboard_transport_received_bytes", "gauge", "bytes"),
        ("switchboard_transport_sent_bytes", "gauge", "bytes"),
        ("switchboard_transports_paused", "gauge", ""),
        ("switchboard_server_connections", "gauge", ""),
        ("switchboard_server_accepted", "counter", ""),
        ("switchboard_server_received_bytes", "gauge", "bytes"),
        ("switchboard_server_sent_bytes", "gauge", "bytes"),
        ("switchboard_mailbox_depth", "gauge", ""),
        ("switchboard_mailbox_bound", "gauge", ""),
        ("switchboard_supervisor_restarts", "counter", ""),
    ]);
    assert_eq!(shape, expected);

    let lp = [("loop", "0")];
    let at = |name: &str| value(&families, name, &lp);
    assert_eq!(at("switchboard_loop_iterations_total"), 1234.0);
    assert_eq!(at("switchboard_loop_callbacks_run_total"), 678.0);
    assert_eq!(at("switchboard_loop_exceptions_total"), 2.0);
    assert_eq!(at("switchboard_loop_poll_seconds_total"), 1.5);
    assert_eq!(at("switchboard_loop_handler_seconds_total"), 0.25);
    assert_eq!(at("switchboard_loop_ready"), 3.0);
    assert_eq!(at("switchboard_loop_timers"), 4.0);
    assert_eq!(at("switchboard_loop_tasks"), 5.0);
    assert_eq!(
        at("switchboard_connections"),
        4.0,
        "the 4 stream transports"
    );
    assert_eq!(at("switchboard_transport_received_bytes"), 607.0);
    assert_eq!(at("switchboard_transport_sent_bytes"), 68.0);
    for direction in ["reading", "writing"] {
        let labels = [("loop", "0"), ("direction", direction)];
        assert_eq!(
            value(&families, "switchboard_transports_paused", &labels),
            1.0
        );
    }

    let web = [("loop", "0"), ("server", "web")];
    let server = |name: &str| value(&families, name, &web);
    assert_eq!(server("switchboard_server_connections"), 3.0);
    assert_eq!(server("switchboard_server_accepted_total"), 10.0);
    assert_eq!(
        server("switchboard_server_received_bytes"),
        600.0,
        "not the client's 7"
    );
    assert_eq!(server("switchboard_server_sent_bytes"), 60.0);

    let depth = |actor: &str| {
        let labels = [("loop", "0"), ("actor", actor)];
        value(&families, "switchboard_mailbox_depth", &labels)
    };
    assert_eq!(depth("cache"), 5.0);
    assert_eq!(depth("application:7"), 1.0, "an unnamed actor is kind:id");
    assert_eq!(depth("root"), 0.0);
    let shown: BTreeSet<&str> = family(&families, "switchboard_mailbox_depth")
        .samples
        .iter()
        .map(|s| s.labels["actor"].as_str())
        .collect();
    assert_eq!(
        shown,
        BTreeSet::from(["cache", "application:7", "root"]),
        "application actors and supervisors only"
    );
    let bound = family(&families, "switchboard_mailbox_bound");
    assert_eq!(bound.samples.len(), 1, "only bounded mailboxes: {bound:?}");
    let cache = [("loop", "0"), ("actor", "cache")];
    assert_eq!(value(&families, "switchboard_mailbox_bound", &cache), 100.0);
    let root = [("loop", "0"), ("supervisor", "root")];
    assert_eq!(
        value(&families, "switchboard_supervisor_restarts_total", &root),
        2.0
    );
}

#[test]
fn mt2_the_lag_histogram_has_the_snapshots_buckets_count_and_sum() {
    let text = encode_metrics(&[snapshot()]);
    if !have_prometheus_client() {
        return;
    }
    let families = parse(&text);
    let lag = family(&families, "switchboard_loop_lag_seconds");
    let buckets: Vec<(&str, f64)> = lag
        .samples
        .iter()
        .filter(|s| s.name == "switchboard_loop_lag_seconds_bucket")
        .map(|s| (s.labels["le"].as_str(), s.value))
        .collect();
    let expected = [
        ("0.0001", 1.0),
        ("0.0005", 2.0),
        ("0.001", 3.0),
        ("0.0025", 3.0),
        ("0.005", 3.0),
        ("0.01", 3.0),
        ("0.025", 3.0),
        ("0.1", 4.0),
        ("0.5", 4.0),
        ("1.0", 4.0),
        ("+Inf", 5.0),
    ];
    assert_eq!(buckets, expected, "cumulative, as the snapshot counts them");
    let lp = [("loop", "0")];
    assert_eq!(
        value(&families, "switchboard_loop_lag_seconds_count", &lp),
        5.0
    );
    assert_eq!(
        value(&families, "switchboard_loop_lag_seconds_sum", &lp),
        0.75
    );
}

#[test]
fn mt3_label_values_round_trip_and_same_named_rows_add_up() {
    let weird = "we\"ird\\name\nline";
    let mailbox = |depth, bound| MailboxInfo { depth, bound };
    let snapshot = Snapshot {
        actors: vec![
            ActorInfo {
                mailbox: mailbox(4, Some(8)),
                ..actor(1, ActorKind::Application, Some(weird))
            },
            ActorInfo {
                mailbox: mailbox(2, Some(10)),
                ..actor(2, ActorKind::Application, Some("worker"))
            },
            ActorInfo {
                mailbox: mailbox(3, Some(10)),
                ..actor(3, ActorKind::Application, Some("worker"))
            },
            ActorInfo {
                mailbox: mailbox(1, Some(10)),
                ..actor(4, ActorKind::Application, Some("mixed"))
            },
            ActorInfo {
                mailbox: mailbox(1, None),
                ..actor(5, ActorKind::Application, Some("mixed"))
            },
        ],
        ..Snapshot::default()
    };
    let text = encode_metrics(&[snapshot]);
    if !have_prometheus_client() {
        return;
    }
    let families = parse(&text);
    let labels = |actor| [("loop", "0"), ("actor", actor)];
    let depth = |actor| value(&families, "switchboard_mailbox_depth", &labels(actor));
    let bound = |actor| value(&families, "switchboard_mailbox_bound", &labels(actor));
    assert_eq!(depth(weird), 4.0, "the name comes back unescaped");
    assert_eq!(bound(weird), 8.0);
    assert_eq!(depth("worker"), 5.0, "one series per name");
    assert_eq!(bound("worker"), 20.0);
    assert_eq!(depth("mixed"), 2.0);
    let bounds = &family(&families, "switchboard_mailbox_bound").samples;
    assert!(
        bounds.iter().all(|s| s.labels["actor"] != "mixed"),
        "an unbounded member leaves its name without a bound: {bounds:?}"
    );
}

#[test]
fn mt4_several_loops_share_each_family_labelled_by_loop() {
    let in_group = |index| Snapshot {
        lp: LoopInfo {
            group_index: Some(index),
            iterations: 10 * index as u64,
            ..LoopInfo::default()
        },
        actors: vec![ActorInfo {
            server: Some(Box::new(ServerInfo {
                accepted: index as u64,
                ..ServerInfo::default()
            })),
            ..actor(1, ActorKind::Server, Some("web"))
        }],
    };
    let group = encode_metrics(&[in_group(0), in_group(1), in_group(2)]);
    let lone = encode_metrics(&[Snapshot::default(), Snapshot::default()]);
    if !have_prometheus_client() {
        return;
    }
    // The parser refuses a family that appears twice ("Clashing name").
    let families = parse(&group);
    for index in ["0", "1", "2"] {
        let lp = [("loop", index)];
        let n: f64 = index.parse().unwrap();
        let iterations = value(&families, "switchboard_loop_iterations_total", &lp);
        assert_eq!(iterations, 10.0 * n);
        let web = [("loop", index), ("server", "web")];
        assert_eq!(
            value(&families, "switchboard_server_accepted_total", &web),
            n
        );
    }
    // Loops outside a group are told apart by their position.
    let families = parse(&lone);
    let loops: Vec<&str> = family(&families, "switchboard_loop_iterations")
        .samples
        .iter()
        .map(|s| s.labels["loop"].as_str())
        .collect();
    assert_eq!(loops, ["0", "1"]);
}

/// Serves `snapshot()` on `127.0.0.1:0` with a head timeout of
/// `head_timeout`, runs `client` against its port on a thread while the
/// loop runs, and returns what `client` returned.
fn against_server<T: Send + 'static>(
    head_timeout: Duration,
    client: impl FnOnce(u16) -> T + Send + 'static,
) -> T {
    let (lp, _handler) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = serve_metrics_from(&l, addr, || vec![snapshot()], head_timeout)
            .await
            .expect("bind loopback");
        let port = server.sockets()[0].port();
        let thread = std::thread::spawn(move || client(port));
        until(&l, || thread.is_finished()).await;
        server.close();
        thread.join().expect("the client")
    })
}

/// Sends `request` to `127.0.0.1:port` and reads to EOF (or a reset, after
/// which what came before counts).
fn http(port: u16, request: &[u8]) -> Vec<u8> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.write_all(request).expect("send the request");
    read_to_close(&mut conn)
}

/// Everything `conn` receives until EOF or a reset.
fn read_to_close(conn: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 64 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return got,
        }
    }
}

/// An answer's status line, headers and body.
fn split(answer: &[u8]) -> (String, Vec<String>, String) {
    let text = String::from_utf8(answer.to_vec()).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
    let mut lines = head.split("\r\n").map(String::from);
    let status = lines.next().unwrap();
    (status, lines.collect(), body.to_string())
}

#[test]
fn mt5_get_metrics_over_tcp_answers_200_with_openmetrics_text() {
    let request =
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/openmetrics-text\r\n\r\n";
    let answer = against_server(Duration::from_secs(10), |port| http(port, request));
    let (status, headers, body) = split(&answer);
    assert_eq!(status, "HTTP/1.1 200 OK");
    let content_type = "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8";
    assert!(headers.iter().any(|h| h == content_type), "{headers:?}");
    assert!(
        headers.iter().any(|h| h == "Connection: close"),
        "{headers:?}"
    );
    let length = format!("Content-Length: {}", body.len());
    assert!(headers.contains(&length), "{headers:?}");
    assert_eq!(body, encode_metrics(&[snapshot()]), "the source's snapshot");
    if !have_prometheus_client() {
        return;
    }
    let families = parse(&body);
    let web = [("loop", "0"), ("server", "web")];
    assert_eq!(
        value(&families, "switchboard_server_connections", &web),
        3.0
    );
}

#[test]
fn mt6_other_paths_methods_and_garbage_get_404_405_and_400() {
    let requests: [(&[u8], &str); 4] = [
        (
            b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 404 Not Found",
        ),
        (
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (b"\x00\x01garbage\xff\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
    ];
    let answers = against_server(Duration::from_secs(10), move |port| {
        requests.map(|(request, _)| http(port, request))
    });
    for ((request, expected), answer) in requests.iter().zip(answers) {
        let (status, headers, _) = split(&answer);
        assert_eq!(&status, expected, "{:?}", String::from_utf8_lossy(request));
        assert!(
            headers.iter().any(|h| h == "Connection: close"),
            "{headers:?}"
        );
    }
}

#[test]
fn mt7_a_peer_trickling_its_head_is_closed_at_the_head_timeout() {
    let timeout = Duration::from_millis(300);
    let (answer, took) = against_server(timeout, |port| {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let start = Instant::now();
        conn.set_nodelay(true).unwrap();
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        // One byte every 20 ms: 200 of them would take 4 s, the head never
        // ends, and every byte is fresh data a renewing timer would reset on.
        conn.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut buf = [0; 1024];
        for _ in 0..200 {
            if conn.write_all(b"a").is_err() {
                break;
            }
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let mut got = buf[..n].to_vec();
                    conn.set_read_timeout(None).unwrap();
                    got.extend(read_to_close(&mut conn));
                    return (got, start.elapsed());
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        (Vec::new(), start.elapsed())
    });
    let (status, headers, _) = split(&answer);
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
    assert!(
        headers.iter().any(|h| h == "Connection: close"),
        "{headers:?}"
    );
    assert!(
        took >= timeout - Duration::from_millis(50),
        "not before the timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "at the timeout, not at the head's end: {took:?}"
    );
}

#[test]
fn mt8_a_head_over_8_kib_gets_431_and_a_close() {
    let answer = against_server(Duration::from_secs(10), |port| {
        let mut head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        head.resize(8 * 1024, b'a');
        http(port, &head)
    });
    let (status, headers, _) = split(&answer);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    assert!(
        headers.iter().any(|h| h == "Connection: close"),
        "{headers:?}"
    );
}
