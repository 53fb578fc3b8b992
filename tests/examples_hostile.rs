//! Every server example against three hostile clients (issue 17), its memory
//! bounded and another, well-behaved client answered meanwhile:
//!
//! * EX5: two clients that send requests as fast as they can for [`FLOOD`]
//!   and never read an answer;
//! * EX6: one request (a line, a head, a RESP frame, a handshake) that never
//!   ends, up to 64 MiB;
//! * EX7: 1,000 connections that say nothing.
//!
//! Ids refer to docs/behavior.md (EX5–EX7). Each case is one test per
//! example (`ex5_never_reading_client::kv_store`, ...), run from the table
//! `SPECS` in `support/hostile.rs`; the measured growth is printed
//! (`--nocapture` shows it). RSS is the server's, from `/proc/PID/status`: growth is its peak (`VmHWM`) after
//! the case minus its `VmRSS` before, so a passing spike counts too.

mod support;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::hostile::{spec, timed_out, At, Conn, Server, Spec, AT_ONCE};

/// How long the never-reading clients send (EX5).
const FLOOD: Duration = Duration::from_secs(2);
/// EX5 and EX6: the most a server's peak RSS may grow, in KiB. Far below
/// what the hostile clients offer (hundreds of MiB of answers in EX5, 64 MiB
/// in EX6), far above what a bounded server needs (its buffers, its
/// allocator's arenas, one loop thread's stack per core).
const GROWTH_KIB: usize = 64 << 10;
/// EX6: how long the line with no end is.
const NO_END: usize = 64 << 20;
/// EX7: how many idle connections, and what each may cost on average, in
/// KiB (a transport, its read buffer, its protocol and the fd's kernel-side
/// share of the process are a few KiB).
const IDLE: usize = 1000;
const KIB_PER_IDLE: usize = 20;
/// One never-reading client: sends `setup`, then `unit` over and over until
/// `until`; reconnects if the server cuts it. Counts what it sent in `sent`.
fn never_reads(at: At, spec: &Spec, until: Instant, sent: &AtomicUsize) -> usize {
    let chunk: Vec<u8> = spec.unit.repeat((64 << 10) / spec.unit.len() + 1);
    let mut reconnects = 0;
    'connect: while Instant::now() < until {
        let Ok(mut conn) = Conn::open(&at) else {
            break;
        };
        conn.timeouts(AT_ONCE, Duration::from_millis(50));
        let mut first = spec.setup.to_vec();
        while Instant::now() < until {
            let data = if first.is_empty() {
                &chunk[..]
            } else {
                &first[..]
            };
            match conn.write(data) {
                Ok(n) => {
                    sent.fetch_add(n, Ordering::Relaxed);
                    first.drain(..n.min(first.len()));
                }
                Err(e) if timed_out(&e) => {} // pushed back: the server is not reading
                Err(_) => {
                    reconnects += 1;
                    continue 'connect;
                }
            }
        }
    }
    reconnects
}

fn udp_flood(at: &At, until: Instant, sent: &AtomicUsize) {
    let At::Tcp(port) = at else { unreachable!() };
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let unit = spec("udp_echo_server").unit.repeat(30);
    while Instant::now() < until {
        if let Ok(n) = s.send_to(&unit, ("127.0.0.1", *port)) {
            sent.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// EX5: two clients send as fast as they can for [`FLOOD`] and never read;
/// the well-behaved client is answered while they do, and the server's peak
/// RSS grows by less than [`GROWTH_KIB`].
fn ex5(spec: &Spec) {
    let mut server = Server::start(spec);
    server.probe(spec); // warm: the first connection's allocations
    let before = server.rss();
    let until = Instant::now() + FLOOD;
    let sent = Arc::new(AtomicUsize::new(0));
    let flooders: Vec<_> = (0..2)
        .map(|_| {
            let (at, sent, name) = (server.at.clone(), sent.clone(), spec.name);
            thread::spawn(move || match name {
                "udp_echo_server" => {
                    udp_flood(&at, until, &sent);
                    0
                }
                _ => never_reads(at, self::spec(name), until, &sent),
            })
        })
        .collect();
    // Meanwhile: once the flood is under way (1 MiB sent, or over).
    while sent.load(Ordering::Relaxed) < 1 << 20 && Instant::now() < until {
        thread::yield_now();
    }
    server.probe(spec);
    let reconnects: usize = flooders
        .into_iter()
        .map(|f| f.join().expect("flooder"))
        .sum();
    let grown = server.grown(before);
    let mib = sent.load(Ordering::Relaxed) >> 20;
    eprintln!(
        "EX5 {}: peak RSS +{grown} KiB; {mib} MiB sent, {reconnects} reconnects",
        spec.name
    );
    assert!(
        grown < GROWTH_KIB,
        "{}: peak RSS grew by {grown} KiB while clients that never read sent {mib} MiB",
        spec.name
    );
    server.probe(spec);
}

/// EX6: a request that never ends, up to [`NO_END`] bytes: a server that
/// frames its input closes that connection at once; the plain echo servers
/// echo it through. Either way the peak RSS grows by less than
/// [`GROWTH_KIB`] and the well-behaved client is answered.
fn ex6(spec: &Spec) {
    let mut server = Server::start(spec);
    server.probe(spec);
    let before = server.rss();
    let started = Instant::now();
    let conn = Conn::open(&server.at).expect("connect");
    conn.timeouts(Duration::from_millis(100), Duration::from_millis(100));
    let (mut writer, done) = (conn.try_clone(), Arc::new(AtomicBool::new(false)));
    let stop = done.clone();
    let (prefix, unit) = (spec.no_end)();
    let flood = thread::spawn(move || {
        let (mut sent, mut part, mut at) = (0, &prefix, 0);
        while sent < NO_END && !stop.load(Ordering::Relaxed) && started.elapsed() < AT_ONCE {
            if at == part.len() {
                (part, at) = (&unit, 0);
            }
            let end = part.len().min(at + NO_END - sent);
            match writer.write(&part[at..end]) {
                Ok(n) => {
                    sent += n;
                    at += n;
                }
                Err(e) if timed_out(&e) => {}
                Err(_) => break, // cut
            }
        }
        sent
    });
    // Read what comes back: the echo, or an error and the end.
    let (mut reader, mut got, mut buf) = (conn, 0usize, vec![0u8; 64 << 10]);
    let ended = loop {
        if started.elapsed() > AT_ONCE || (!spec.refuses && got >= NO_END) {
            break false;
        }
        match reader.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got += n,
            Err(e) if timed_out(&e) => {}
            Err(_) => break true, // reset: cut too
        }
    };
    done.store(true, Ordering::Relaxed);
    let sent = flood.join().expect("the writer");
    let took = started.elapsed();
    let grown = server.grown(before);
    eprintln!(
        "EX6 {}: peak RSS +{grown} KiB; {} KiB sent, {} KiB back, {} after {took:?}",
        spec.name,
        sent >> 10,
        got >> 10,
        if ended { "cut" } else { "still open" },
    );
    if spec.refuses {
        assert!(
            ended,
            "{}: a request with no end still read after {took:?} ({} MiB)",
            spec.name,
            sent >> 20
        );
    } else {
        assert_eq!(
            got, NO_END,
            "{}: the 64 MiB are echoed through in {took:?}",
            spec.name
        );
    }
    assert!(
        grown < GROWTH_KIB,
        "{}: peak RSS grew by {grown} KiB for a request with no end",
        spec.name
    );
    server.probe(spec);
}

/// EX7: [`IDLE`] connections that say nothing: all accepted (the server
/// holds a descriptor for each), the RSS grows by less than
/// [`KIB_PER_IDLE`] per connection, and the well-behaved client is answered.
fn ex7(spec: &Spec) {
    let (soft, hard) = support::nofile_limit().expect("RLIMIT_NOFILE");
    let want = (IDLE as u64) * 2 + 200; // ours and the server's (it inherits it)
    if soft < want {
        assert!(hard >= want, "RLIMIT_NOFILE hard limit {hard} < {want}");
        support::set_nofile_soft(want).expect("raise RLIMIT_NOFILE");
    }
    let mut server = Server::start(spec);
    server.probe(spec);
    let pid = server.pid();
    let fds = || std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    let (before, fds_before) = (server.rss(), fds());
    let idle: Vec<Conn> = (0..IDLE)
        .map(|i| Conn::open(&server.at).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    // Accepted: the server holds them (no message says so; its fds do). A
    // few of the descriptors counted before may have been the probe's
    // connection on its way out.
    let deadline = Instant::now() + AT_ONCE;
    while fds() + 4 < fds_before + IDLE {
        server.alive(spec.name);
        assert!(
            Instant::now() < deadline,
            "{}: {} of {IDLE} accepted",
            spec.name,
            fds() - fds_before
        );
        thread::sleep(Duration::from_millis(10));
    }
    server.probe(spec);
    let grown = server.grown(before);
    let now = server.rss().saturating_sub(before);
    eprintln!(
        "EX7 {}: RSS +{now} KiB now, peak +{grown} KiB for {IDLE} idle connections ({} KiB each)",
        spec.name,
        grown / IDLE
    );
    assert!(
        grown < IDLE * KIB_PER_IDLE,
        "{}: peak RSS grew by {grown} KiB for {IDLE} idle connections",
        spec.name
    );
    drop(idle);
}

macro_rules! cases {
    ($case:ident, $run:ident: $($name:ident),*) => {
        mod $case {
            $(#[test] fn $name() { super::$run(super::spec(stringify!($name))); })*
        }
    };
}

cases!(ex5_never_reading_client, ex5: tcp_echo_server, unix_echo_server, graceful_shutdown,
    sharded_echo, chat, kv_store, sharded_kv, redis_server, supervised_service, stream_echo_server,
    static_files, tls_echo_server, udp_echo_server);
// UDP has no line and no connection: EX6 and EX7 do not apply to udp_echo_server.
cases!(ex6_line_with_no_end, ex6: tcp_echo_server, unix_echo_server, graceful_shutdown,
    sharded_echo, chat, kv_store, sharded_kv, redis_server, supervised_service, stream_echo_server,
    static_files, tls_echo_server);
cases!(ex7_idle_connections, ex7: tcp_echo_server, unix_echo_server, graceful_shutdown,
    sharded_echo, chat, kv_store, sharded_kv, redis_server, supervised_service, stream_echo_server,
    static_files, tls_echo_server);
