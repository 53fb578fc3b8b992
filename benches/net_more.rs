//! Side-by-side benchmarks for issue 9's networking: UDP echo and sendfile.
//!
//! Run with `cargo bench --bench net_more`. Without `--bench` on the command
//! line (under `cargo test --benches`) it runs a short smoke and exits.
//!
//! 1. **UDP echo**: datagrams echoed per *server CPU-second* (64-byte
//!    datagrams, 8 client sockets with 8 datagrams in flight each), for a
//!    switchboard `DatagramProtocol` echo, a tokio current-thread
//!    `UdpSocket` echo and a bare mio loop. Each server is this binary
//!    re-executed with `--serve-udp KIND`, pinned to core 0 with `taskset -c
//!    0`; the load generator (a mio loop in the parent) is pinned to core 1.
//!    The server's CPU time comes from `/proc/PID/stat` over the measured
//!    window.
//! 2. **sendfile**: a 1 GiB file over loopback to a sink (a thread in the
//!    parent, core 1, reading into 1 MiB and discarding), sent by a child on
//!    core 0 with switchboard's `loop.sendfile` (native `sendfile(2)`), the
//!    same with `native(false)` (the read-and-write fallback), and tokio
//!    reading the file (std reads of a page-cached file inside the task,
//!    faster than `tokio::fs`'s blocking-pool hops) and writing it with
//!    `write_all`. Reported as GiB/s of wall time and GiB per sender
//!    CPU-second.
//!
//! Three rounds, interleaved (switchboard, tokio, mio, switchboard, …);
//! medians with the min–max spread. `SWITCHBOARD_BENCH_SECS` sets the
//! measured seconds per UDP run (default 3); `SWITCHBOARD_BENCH_FILE_MIB`
//! the file size (default 1024).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const UDP_KINDS: [&str; 3] = ["switchboard", "tokio", "mio"];
const FILE_KINDS: [&str; 3] = [
    "switchboard-sendfile",
    "switchboard-fallback",
    "tokio-read-write",
];
const DGRAM: usize = 64;
const CLIENTS: usize = 8;
const WINDOW: usize = 8;

fn announce(port: u16) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "PORT {port}");
    let _ = out.flush();
}

/// User + system CPU seconds of a process (`self` or a pid), from
/// `/proc/PID/stat` (clock ticks at the Linux `USER_HZ` of 100).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

// ------------------------------------------------------------ UDP servers --

fn serve_udp_switchboard() {
    use switchboard::prelude::*;
    struct Echo;
    impl DatagramProtocol for Echo {
        fn handle(
            &mut self,
            ev: DatagramEvent,
            t: &mut dyn DatagramTransport,
        ) -> Result<(), ProtocolError> {
            if let DatagramEvent::DatagramReceived { data, addr } = ev {
                t.sendto(&data, Some(&addr))?;
            }
            Ok(())
        }
    }
    let res = switchboard::run(|lp| async move {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let ep = lp
            .create_datagram_endpoint(|| Echo)
            .local_addr(local)
            .await?;
        let port = ep
            .transport
            .sockname()
            .and_then(|a| a.as_inet())
            .map_or(0, |a| a.port());
        announce(port);
        lp.create_future::<()>().await?;
        Ok::<(), switchboard::Error>(())
    });
    eprintln!("switchboard udp server ended: {res:?}");
}

fn serve_udp_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        announce(sock.local_addr().expect("addr").port());
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = sock.recv_from(&mut buf).await.expect("recv_from");
            let _ = sock.send_to(&buf[..n], from).await;
        }
    });
}

fn serve_udp_mio() {
    use mio::{Events, Interest, Poll, Token};
    let mut sock = mio::net::UdpSocket::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    announce(sock.local_addr().expect("addr").port());
    let mut poll = Poll::new().expect("poll");
    poll.registry()
        .register(&mut sock, Token(0), Interest::READABLE)
        .expect("register");
    let mut events = Events::with_capacity(64);
    let mut buf = vec![0u8; 65536];
    loop {
        poll.poll(&mut events, None).expect("poll");
        loop {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let _ = sock.send_to(&buf[..n], from);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("recv_from: {e}"),
            }
        }
    }
}

// ---------------------------------------------------------- file senders --

/// Sends `path` to `127.0.0.1:port`; prints `RESULT wall_secs cpu_secs bytes`.
fn send_file(kind: &str, path: &str, port: u16) {
    let t0 = Instant::now();
    let c0 = cpu_secs("self");
    let bytes = match kind {
        "switchboard-sendfile" | "switchboard-fallback" => {
            let native = kind == "switchboard-sendfile";
            let path = path.to_string();
            switchboard::run(|lp| async move {
                let conn = lp
                    .create_connection::<_, switchboard::NoMessage>(
                        switchboard::testing::RecordingProtocol::new,
                    )
                    .host("127.0.0.1")
                    .port(port)
                    .await?;
                let mut f = std::fs::File::open(&path)?;
                let sent = lp.sendfile(&conn.transport, &mut f).native(native).await?;
                // The fallback leaves its last chunks in the transport's
                // buffer: close flushes them, and the loop must run until
                // then.
                conn.transport.close();
                while !conn.transport.is_lost() {
                    switchboard::sleep(0.001).await;
                }
                Ok::<u64, switchboard::Error>(sent)
            })
            .expect("switchboard sendfile")
        }
        "tokio-read-write" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                use tokio::io::AsyncWriteExt;
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .expect("connect");
                let mut f = std::fs::File::open(path).expect("open");
                let mut buf = vec![0u8; 256 * 1024];
                let mut total = 0u64;
                loop {
                    let n = f.read(&mut buf).expect("read");
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).await.expect("write_all");
                    total += n as u64;
                }
                s.shutdown().await.expect("shutdown");
                total
            })
        }
        other => panic!("unknown sender {other}"),
    };
    println!(
        "RESULT {} {} {bytes}",
        t0.elapsed().as_secs_f64(),
        cpu_secs("self") - c0
    );
}

// ------------------------------------------------------------- the parent --

fn child(args: &[&str], pin: bool) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg("0").arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn child")
}

fn read_line(c: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(c.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("read child line");
    line
}

/// One UDP run: datagrams per server CPU-second and per wall second.
fn udp_run(kind: &str, pin: bool, warmup: Duration, measure: Duration) -> (f64, f64) {
    use mio::{Events, Interest, Poll, Token};
    let mut server = child(&["--serve-udp", kind], pin);
    let line = read_line(&mut server);
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .expect("port");
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let pid = server.id().to_string();
    let mut poll = Poll::new().expect("poll");
    let mut socks: Vec<mio::net::UdpSocket> = (0..CLIENTS)
        .map(|i| {
            let mut s =
                mio::net::UdpSocket::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
            s.connect(to).expect("connect");
            poll.registry()
                .register(&mut s, Token(i), Interest::READABLE)
                .expect("register");
            s
        })
        .collect();
    let msg = [7u8; DGRAM];
    let refill = |socks: &mut [mio::net::UdpSocket]| {
        for s in socks.iter_mut() {
            for _ in 0..WINDOW {
                let _ = s.send(&msg);
            }
        }
    };
    refill(&mut socks);
    let mut events = Events::with_capacity(256);
    let mut buf = [0u8; 2048];
    let mut got: u64 = 0;
    let start = Instant::now();
    let (from, end) = (start + warmup, start + warmup + measure);
    let mut base: Option<(u64, Instant, f64)> = None;
    loop {
        let now = Instant::now();
        if base.is_none() && now >= from {
            base = Some((got, now, cpu_secs(&pid)));
        }
        if now >= end {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .expect("poll");
        if events.is_empty() {
            // Datagrams were lost: put the windows back.
            refill(&mut socks);
        }
        for ev in events.iter() {
            let s = &mut socks[ev.token().0];
            loop {
                match s.recv(&mut buf) {
                    Ok(_) => {
                        got += 1;
                        let _ = s.send(&msg);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
        }
    }
    let (b, at, cpu0) = base.expect("window");
    let wall = at.elapsed().as_secs_f64();
    let cpu = cpu_secs(&pid) - cpu0;
    let _ = server.kill();
    let _ = server.wait();
    let n = (got - b) as f64;
    eprintln!(
        "  udp {kind}: {:.0} datagrams/s wall, server CPU {:.0}% of the window",
        n / wall,
        100.0 * cpu / wall
    );
    (if cpu > 0.0 { n / cpu } else { 0.0 }, n / wall)
}

/// One sendfile run: (GiB/s wall, GiB per sender CPU-second).
fn file_run(kind: &str, path: &str, len: u64, pin: bool) -> (f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 1024 * 1024];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("sink: {e}"),
            }
        }
        total
    });
    let mut sender = child(&["--send-file", kind, path, &port.to_string()], pin);
    let line = read_line(&mut sender);
    let _ = sender.wait();
    let got = sink.join().expect("sink");
    assert_eq!(got, len, "{kind}: the sink got {got} of {len} bytes");
    let f: Vec<f64> = line
        .trim()
        .strip_prefix("RESULT ")
        .unwrap_or_else(|| panic!("{kind}: no result: {line:?}"))
        .split_whitespace()
        .map(|v| v.parse().expect("number"))
        .collect();
    let gib = len as f64 / (1u64 << 30) as f64;
    eprintln!("  {kind}: {:.2} s wall, {:.2} CPU-s", f[0], f[1]);
    (gib / f[0], if f[1] > 0.0 { gib / f[1] } else { 0.0 })
}

fn pin_self() -> bool {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return false;
    }
    let pid = std::process::id().to_string();
    Command::new("taskset")
        .args(["-cp", "1", &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn median_spread(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    (s[s.len() / 2], s[0], s[s.len() - 1])
}

fn report(name: &str, kinds: &[&str], runs: &[Vec<f64>], fmt: fn(f64) -> String) {
    println!("{name}");
    let med: Vec<f64> = runs.iter().map(|r| median_spread(r).0).collect();
    for (k, r) in kinds.iter().zip(runs) {
        let (m, lo, hi) = median_spread(r);
        println!(
            "  {k:<22} median {} (min {} – max {})",
            fmt(m),
            fmt(lo),
            fmt(hi)
        );
    }
    for (k, m) in kinds.iter().zip(&med).skip(1) {
        println!("  {} / {k}: {:.3}", kinds[0], med[0] / m);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-udp") {
        match args.get(i + 1).map(String::as_str) {
            Some("switchboard") => serve_udp_switchboard(),
            Some("tokio") => serve_udp_tokio(),
            Some("mio") => serve_udp_mio(),
            other => panic!("unknown udp server {other:?}"),
        }
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--send-file") {
        let port = args[i + 3].parse().expect("port");
        send_file(&args[i + 1], &args[i + 2], port);
        return;
    }
    let smoke = !args.iter().any(|a| a == "--bench");
    let env = |n: &str| std::env::var(n).ok().and_then(|v| v.parse::<f64>().ok());
    let (secs, mib, rounds) = if smoke {
        (0.2, 8.0, 1)
    } else {
        (
            env("SWITCHBOARD_BENCH_SECS").unwrap_or(3.0),
            env("SWITCHBOARD_BENCH_FILE_MIB").unwrap_or(1024.0),
            3,
        )
    };
    let pin = pin_self();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "net_more bench ({}): {rounds} rounds; {}; loadavg at start {}",
        if smoke {
            "smoke"
        } else {
            "cargo bench --bench net_more"
        },
        if pin {
            "servers/senders on core 0, load generator/sink on core 1"
        } else {
            "NOT pinned"
        },
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let (warmup, measure) = (
        Duration::from_secs_f64(secs / 6.0),
        Duration::from_secs_f64(secs),
    );
    let mut udp_cpu = vec![Vec::new(); 3];
    let mut udp_wall = vec![Vec::new(); 3];
    for _ in 0..rounds {
        for (k, kind) in UDP_KINDS.iter().enumerate() {
            let (c, w) = udp_run(kind, pin, warmup, measure);
            udp_cpu[k].push(c);
            udp_wall[k].push(w);
        }
    }
    report(
        &format!("UDP echo, {DGRAM}-byte datagrams, {CLIENTS} clients x {WINDOW} in flight: datagrams per server CPU-second"),
        &UDP_KINDS,
        &udp_cpu,
        |v| format!("{v:.0}"),
    );
    report(
        "UDP echo: datagrams per wall second",
        &UDP_KINDS,
        &udp_wall,
        |v| format!("{v:.0}"),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.bin");
    let len = (mib * 1024.0 * 1024.0) as u64;
    {
        let mut f = std::fs::File::create(&path).expect("create");
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            f.write_all(&block[..n]).expect("write");
            left -= n as u64;
        }
        f.sync_all().ok();
    }
    let p = path.to_str().expect("utf-8 path");
    let mut wall = vec![Vec::new(); 3];
    let mut cpu = vec![Vec::new(); 3];
    for _ in 0..rounds {
        for (k, kind) in FILE_KINDS.iter().enumerate() {
            let (w, c) = file_run(kind, p, len, pin);
            wall[k].push(w);
            cpu[k].push(c);
        }
    }
    report(
        &format!("sendfile of {mib} MiB over loopback: GiB/s (wall)"),
        &FILE_KINDS,
        &wall,
        |v| format!("{v:.2}"),
    );
    report(
        "sendfile: GiB per sender CPU-second",
        &FILE_KINDS,
        &cpu,
        |v| format!("{v:.2}"),
    );
}
