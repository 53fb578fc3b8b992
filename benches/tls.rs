//! Side-by-side TLS benchmark: a switchboard TLS echo server
//! (`create_server(|| Echo).ssl(config)`) against tokio + tokio-rustls on a
//! current-thread runtime, with the same rustls `ServerConfig` (ring, TLS
//! 1.3, an ECDSA P-256 certificate made by rcgen at start), under the same
//! load generator, reported per server CPU-second and as ratios.
//!
//! Run with `cargo bench --bench tls`. Each server runs in its own process
//! (this binary re-executed with `--serve switchboard|tokio DIR`) pinned to
//! core 0 with `taskset -c 0`; the load generator, a mio + rustls client loop
//! in the parent, is pinned to core 1. Each round runs every workload on
//! both servers back to back (alternating which goes first), so each pair
//! shares the machine's load of the moment; each figure is the median over
//! the rounds with the min–max spread, and the ratio is the median of the
//! per-round ratios. `SWITCHBOARD_BENCH_SECS` sets the measured seconds per
//! workload (default 3, after a warm-up of a sixth of that),
//! `SWITCHBOARD_BENCH_ROUNDS` the rounds (default 3),
//! `SWITCHBOARD_BENCH_ONLY=echo|stream|handshakes` one workload. Without `--bench` on the
//! command line (under `cargo test --benches`) it runs a 0.2 s smoke of each
//! workload and exits.
//!
//! Workloads, each counted per second of the server process's CPU time
//! (user + system, from `/proc/PID/stat`), so the figure does not depend on
//! how fast the load generator is:
//!
//! 1. `echo`: 1 KiB messages over 100 TLS connections, each waiting for its
//!    full echo before sending again (echoes per server CPU-second).
//! 2. `stream`: 64 KiB chunks written continuously over 10 TLS connections,
//!    at most 256 KiB in flight each (MiB echoed per server CPU-second).
//! 3. `handshakes`: 10 clients in a loop: connect, full TLS 1.3 handshake, a
//!    1-byte echo, close_notify, close (handshakes per server CPU-second).

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use switchboard::rustls;
use switchboard::{TlsClientConfig, TlsServerConfig};

const KINDS: [&str; 2] = ["switchboard", "tokio"];

// ---------------------------------------------------------------- servers --

fn server_config(dir: &Path) -> TlsServerConfig {
    TlsServerConfig::from_pem_files(dir.join("chain.pem"), dir.join("key.pem"))
        .expect("server config")
}

fn announce(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "PORT {}", addr.port());
    let _ = out.flush();
}

fn serve_switchboard(dir: &Path) {
    let config = server_config(dir);
    let res = switchboard::run(|lp| async move {
        let server = lp
            .create_server(|| switchboard::ready_made::Echo)
            .host("127.0.0.1")
            .port(0)
            .backlog(1024)
            .ssl(config)
            .await?;
        announce(server.sockets()[0]);
        server.serve_forever().await?;
        Ok::<(), switchboard::Error>(())
    });
    eprintln!("switchboard server ended: {res:?}");
}

fn serve_tokio(dir: &Path) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The very same rustls configuration object the switchboard server uses.
    let config = server_config(dir).rustls().clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        announce(listener.local_addr().expect("addr"));
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    tokio::task::spawn_local(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            match tls.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if tls.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        let _ = tls.shutdown().await;
                    });
                }
            })
            .await;
    });
}

// ---------------------------------------------------------- load generator --

struct ServerProc {
    child: Child,
    addr: SocketAddr,
}

impl ServerProc {
    fn start(kind: &str, dir: &Path, pin: bool) -> ServerProc {
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = if pin {
            let mut c = Command::new("taskset");
            c.arg("-c").arg("0").arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.arg("--serve").arg(kind).arg(dir);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read port");
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad server banner {line:?}"));
        ServerProc {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    fn cpu_secs(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // utime and stime, in USER_HZ (100) ticks.
        (tick(11) + tick(12)) / 100.0
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One TLS client connection of the load generator.
struct Client {
    tcp: TcpStream,
    tls: rustls::ClientConnection,
    /// Plaintext bytes sent and received.
    sent: usize,
    got: usize,
    dead: bool,
}

impl Client {
    fn connect(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> Client {
        let std = std::net::TcpStream::connect(addr).expect("connect");
        std.set_nodelay(true).expect("nodelay");
        std.set_nonblocking(true).expect("nonblocking");
        let mut tls =
            rustls::ClientConnection::new(config.clone(), "localhost".try_into().expect("name"))
                .expect("client");
        tls.set_buffer_limit(None);
        Client {
            tcp: TcpStream::from_std(std),
            tls,
            sent: 0,
            got: 0,
            dead: false,
        }
    }

    fn send(&mut self, data: &[u8]) {
        self.tls.writer().write_all(data).expect("plaintext");
        self.sent += data.len();
    }

    /// Moves records both ways until the socket would block; counts the
    /// plaintext received.
    fn pump(&mut self, scratch: &mut [u8]) {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        loop {
            match self.tls.read_tls(&mut self.tcp) {
                Ok(0) => {
                    self.dead = true;
                    break;
                }
                Ok(_) => {
                    if self.tls.process_new_packets().is_err() {
                        self.dead = true;
                        return;
                    }
                    loop {
                        match self.tls.reader().read(scratch) {
                            Ok(0) => {
                                self.dead = true;
                                break;
                            }
                            Ok(n) => self.got += n,
                            Err(_) => break,
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        // Handshake replies and anything decrypting produced.
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Workload {
    Echo,
    Stream,
    Handshakes,
}

impl Workload {
    fn conns(self) -> usize {
        match self {
            Workload::Echo => 100,
            Workload::Stream | Workload::Handshakes => 10,
        }
    }
}

const MSG: usize = 1024;
const CHUNK: usize = 64 * 1024;
const WINDOW: usize = 256 * 1024;

/// Runs `w` against the server for `warmup + measure`; returns the count per
/// server CPU-second over the measured part (echoes, MiB, handshakes).
fn drive(
    w: Workload,
    server: &ServerProc,
    config: &Arc<rustls::ClientConfig>,
    warmup: Duration,
    measure: Duration,
) -> f64 {
    let mut poll = Poll::new().expect("poll");
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 64 * 1024];
    let msg = vec![b'x'; MSG];
    let chunk = vec![b'y'; CHUNK];
    let mut clients: Vec<Client> = Vec::new();
    let register = |poll: &Poll, c: &mut Client, i: usize| {
        poll.registry()
            .register(
                &mut c.tcp,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .expect("register");
    };
    for i in 0..w.conns() {
        let mut c = Client::connect(server.addr, config);
        register(&poll, &mut c, i);
        match w {
            Workload::Echo => c.send(&msg),
            Workload::Stream => c.send(&chunk),
            Workload::Handshakes => c.send(b"h"),
        }
        c.pump(&mut scratch);
        clients.push(c);
    }
    let start = Instant::now();
    let mut count = 0u64;
    let mut mark: Option<(u64, f64)> = None;
    loop {
        let now = start.elapsed();
        if mark.is_none() && now >= warmup {
            mark = Some((count, server.cpu_secs()));
        }
        if now >= warmup + measure {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .expect("poll");
        for ev in events.iter() {
            let i = ev.token().0;
            let c = &mut clients[i];
            c.pump(&mut scratch);
            match w {
                Workload::Echo => {
                    while c.got >= MSG {
                        c.got -= MSG;
                        count += 1;
                        c.send(&msg);
                    }
                }
                Workload::Stream => {
                    count += c.got as u64;
                    c.sent -= c.got.min(c.sent);
                    c.got = 0;
                    while c.sent < WINDOW {
                        c.send(&chunk);
                    }
                }
                Workload::Handshakes => {
                    if c.got >= 1 {
                        count += 1;
                        c.tls.send_close_notify();
                        c.pump(&mut scratch);
                        let _ = poll.registry().deregister(&mut c.tcp);
                        let mut fresh = Client::connect(server.addr, config);
                        register(&poll, &mut fresh, i);
                        fresh.send(b"h");
                        *c = fresh;
                    }
                }
            }
            c.pump(&mut scratch);
            assert!(
                !c.dead || matches!(w, Workload::Handshakes),
                "a benchmark connection died"
            );
        }
    }
    let (c0, cpu0) = mark.unwrap_or((0, server.cpu_secs()));
    let cpu = (server.cpu_secs() - cpu0).max(0.01);
    let done = (count - c0) as f64;
    match w {
        Workload::Stream => done / (1024.0 * 1024.0) / cpu,
        _ => done / cpu,
    }
}

fn pin_self() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
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

fn median_spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn write_pki(dir: &Path) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
    std::fs::write(dir.join("chain.pem"), cert.cert.pem()).expect("write");
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).expect("write");
}

fn env_f64(name: &str) -> Option<f64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let kind = args.get(i + 1).map_or("", String::as_str);
        let dir = PathBuf::from(args.get(i + 2).expect("cert dir"));
        match kind {
            "switchboard" => serve_switchboard(&dir),
            "tokio" => serve_tokio(&dir),
            other => panic!("unknown server kind {other}"),
        }
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    let secs = if full {
        env_f64("SWITCHBOARD_BENCH_SECS").unwrap_or(3.0)
    } else {
        0.2
    };
    let rounds = if full {
        env_f64("SWITCHBOARD_BENCH_ROUNDS").map_or(3, |r| r.max(1.0) as usize)
    } else {
        1
    };
    let measure = Duration::from_secs_f64(secs);
    let warmup = measure / 6;
    let dir = tempfile::tempdir().expect("tempdir");
    write_pki(dir.path());
    let ca = std::fs::read(dir.path().join("chain.pem")).expect("read");
    let client = TlsClientConfig::from_root_pem(&ca).expect("client config");
    let config = client.rustls().clone();
    let pinned = pin_self();
    println!(
        "tls bench: {secs} s per workload, {rounds} rounds, {}",
        if pinned {
            "servers pinned to core 0 (taskset -c 0), load generator to core 1"
        } else {
            "NOT pinned (taskset failed or fewer than 2 cores)"
        }
    );
    println!(
        "load before: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let workloads = [
        (Workload::Echo, "echo 1 KiB x 100 conns", "echoes/cpu-s"),
        (Workload::Stream, "stream 64 KiB x 10 conns", "MiB/cpu-s"),
        (
            Workload::Handshakes,
            "handshakes x 10 clients",
            "handshakes/cpu-s",
        ),
    ];
    // `SWITCHBOARD_BENCH_ONLY=echo` (or stream, handshakes) runs one
    // workload, for profiling.
    let only = std::env::var("SWITCHBOARD_BENCH_ONLY").ok();
    let selected = |name: &str| only.as_deref().is_none_or(|o| name.starts_with(o));
    // results[workload][kind] = one figure per round.
    let mut results = vec![vec![Vec::new(); KINDS.len()]; workloads.len()];
    // Each round starts both servers, then runs every workload on one and
    // right after on the other (alternating which goes first), so the two
    // figures of a pair share the machine's load of the moment; the ratio
    // is the median of the per-pair ratios.
    for round in 0..rounds {
        let servers: Vec<ServerProc> = KINDS
            .iter()
            .map(|kind| ServerProc::start(kind, dir.path(), pinned))
            .collect();
        for (wi, (w, name, _)) in workloads.iter().enumerate() {
            if !selected(name) {
                continue;
            }
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let rate = drive(*w, &servers[k], &config, warmup, measure);
                results[wi][k].push(rate);
            }
        }
    }
    for (wi, (_, name, unit)) in workloads.iter().enumerate() {
        if !selected(name) {
            continue;
        }
        let mut ratios: Vec<f64> = results[wi][0]
            .iter()
            .zip(&results[wi][1])
            .map(|(a, b)| a / b)
            .collect();
        let (sb, sb_lo, sb_hi) = median_spread(&mut results[wi][0]);
        let (tk, tk_lo, tk_hi) = median_spread(&mut results[wi][1]);
        let (r, r_lo, r_hi) = median_spread(&mut ratios);
        println!(
            "{name}: switchboard {sb:.0} {unit} [{sb_lo:.0}-{sb_hi:.0}], \
             tokio-rustls {tk:.0} [{tk_lo:.0}-{tk_hi:.0}], \
             switchboard/tokio {r:.3} [{r_lo:.3}-{r_hi:.3}]"
        );
    }
    println!(
        "load after: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}
