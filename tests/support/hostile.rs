//! The table of server examples and the clients `tests/examples_hostile.rs`
//! (EX5–EX7) drives them with: how to start each, where it listens, its
//! well-behaved client and what is hostile to it.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::child::rss_kib;
use super::examples;

/// How long anything a server should do at once may take, on a loaded
/// 2-core machine with a debug build.
pub const AT_ONCE: Duration = Duration::from_secs(10);

/// What the well-behaved client does.
pub enum Probe {
    /// Sends the request on a fresh connection; the answer starts so.
    Ask(&'static [u8], &'static str),
    /// Chat: one member says a line, another must hear it.
    Chat,
    /// `tls_echo_client` against the test CA: `Data received: 'Hello World!'`.
    Tls,
    /// UDP: a datagram is echoed.
    Udp,
}

/// One server example: how to start it, talk to it, and be hostile to it.
pub struct Spec {
    pub name: &'static str,
    /// Arguments after the port (`{dir}`, `{cert}`, `{key}` are filled in);
    /// for `unix_echo_server` the socket path is the only argument.
    pub args: &'static [&'static str],
    /// What it prints once it serves; `None`: nothing (connects are polled).
    pub ready: Option<&'static str>,
    pub probe: Probe,
    /// EX5: sent once on each never-reading connection, then `unit` again
    /// and again. Units are picked to make answers big: a bounded server
    /// must stop reading, an unbounded one would queue them all.
    pub setup: &'static [u8],
    pub unit: &'static [u8],
    /// EX6: the request's start, and a unit repeated after it to
    /// [`NO_END`] bytes.
    pub no_end: fn() -> (Vec<u8>, Vec<u8>),
    /// EX6: the server must end that conversation (EOF or reset) at once;
    /// false for the plain echo servers, which frame nothing: the bytes are
    /// echoed through (the client reads them) and must not pile up.
    pub refuses: bool,
}

pub const BIG_SET: &[u8] = b"SET big 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\r\n";

pub const SPECS: &[Spec] = &[
    // Echoes its first read and closes (G6: then reads and drops until the
    // client's EOF or 5 s): a flooder gets one echo, then its bytes are
    // dropped; the line with no end is cut after its first read.
    Spec {
        name: "tcp_echo_server",
        args: &[],
        ready: None,
        probe: Probe::Ask(b"hello\n", "hello\n"),
        setup: b"",
        unit: b"hello\n",
        no_end: no_newline,
        refuses: true,
    },
    Spec {
        name: "unix_echo_server",
        args: &[],
        ready: Some("Serving on"),
        probe: Probe::Ask(b"hello\n", "hello\n"),
        setup: b"",
        unit: b"hello\n",
        no_end: no_newline,
        refuses: true,
    },
    // ready_made::Echo: echoes everything, pauses reading while its write
    // buffer is full.
    Spec {
        name: "graceful_shutdown",
        args: &[],
        ready: Some("echo server on"),
        probe: Probe::Ask(b"hello\n", "hello\n"),
        setup: b"",
        unit: b"flood flood flood\n",
        no_end: no_newline,
        refuses: false,
    },
    Spec {
        name: "sharded_echo",
        args: &["balanced", "2"],
        ready: Some("sharded_echo on"),
        probe: Probe::Ask(b"hello\n", "hello\n"),
        setup: b"",
        unit: b"flood flood flood\n",
        no_end: no_newline,
        refuses: false,
    },
    // The two flooders are members: each one's lines go to the other, who
    // never reads them (skipped while it is paused). Lines up to 64 KiB.
    Spec {
        name: "chat",
        args: &[],
        ready: Some("Chat room on"),
        probe: Probe::Chat,
        setup: b"",
        unit: b"a line of chat nobody will ever read, sent again and again\n",
        no_end: no_newline,
        refuses: true,
    },
    // Each GET of a 500-byte value answers 500 bytes for 9 sent.
    Spec {
        name: "kv_store",
        args: &[],
        ready: Some("kv_store on"),
        probe: Probe::Ask(b"GET probe\n", "NOT_FOUND\r\n"),
        setup: BIG_SET,
        unit: b"GET big\r\n",
        no_end: || (b"SET k ".to_vec(), vec![b'x'; 64 << 10]),
        refuses: true,
    },
    Spec {
        name: "sharded_kv",
        args: &["2"],
        ready: Some("sharded_kv on"),
        probe: Probe::Ask(b"GET probe\n", "NOT_FOUND\r\n"),
        setup: BIG_SET,
        unit: b"GET big\r\n",
        no_end: || (b"SET k ".to_vec(), vec![b'x'; 64 << 10]),
        refuses: true,
    },
    // Inline commands (the RESP framer takes them as redis-cli does); the
    // frame with no end is a RESP array of 1,024 bulk strings, each of its
    // 1 MiB maximum, that never comes whole.
    Spec {
        name: "redis_server",
        args: &[],
        ready: Some("redis_server on"),
        probe: Probe::Ask(b"PING\r\n", "+PONG\r\n"),
        setup: BIG_SET,
        unit: b"GET big\r\n",
        no_end: || {
            let mut bulk = b"$1048576\r\n".to_vec();
            bulk.extend(std::iter::repeat_n(b'x', 1 << 20).chain(*b"\r\n"));
            (b"*1024\r\n".to_vec(), bulk)
        },
        refuses: true,
    },
    // "1 words (backend #1)\n" for every 2 bytes sent; lines up to 1 KiB.
    Spec {
        name: "supervised_service",
        args: &[],
        ready: Some("service on"),
        probe: Probe::Ask(b"a b\n", "2 words (backend #"),
        setup: b"",
        unit: b"a\n",
        no_end: no_newline,
        refuses: true,
    },
    // readline under a 1 KiB limit, write + drain under a 30 s timeout.
    Spec {
        name: "stream_echo_server",
        args: &[],
        ready: Some("Serving on"),
        probe: Probe::Ask(b"hello\n", "hello\n"),
        setup: b"",
        unit: b"flood flood flood\n",
        no_end: no_newline,
        refuses: true,
    },
    // One request per connection; the flooders ask for a 4 MiB file
    // (sent with sendfile, nothing buffered) and never read it. Heads up
    // to 8 KiB.
    Spec {
        name: "static_files",
        args: &["{dir}"],
        ready: Some("Serving"),
        probe: Probe::Ask(b"GET /hello.txt HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\n"),
        setup: b"",
        unit: b"GET /big.bin HTTP/1.0\r\n\r\n",
        no_end: || {
            (
                b"GET /hello.txt HTTP/1.0\r\nX: ".to_vec(),
                vec![b'a'; 64 << 10],
            )
        },
        refuses: true,
    },
    // Plain TCP against TLS: the hostile clients' bytes are a handshake
    // that fails (a flood of them, reconnecting when cut; 64 MiB of them),
    // or none at all (EX7). A never-reading client past the handshake
    // would get one echo and a close, as tcp_echo_server's.
    Spec {
        name: "tls_echo_server",
        args: &["{cert}", "{key}"],
        ready: Some("Serving on"),
        probe: Probe::Tls,
        setup: b"",
        unit: b"\x16\x03\x01\xff\xff not a ClientHello",
        no_end: || (b"\x16\x03\x01\xff\xff".to_vec(), vec![b'x'; 64 << 10]),
        refuses: true,
    },
    // EX5 only: a flood of datagrams from a socket that never reads its
    // echoes. UDP has no connection to leave idle or line to leave open.
    Spec {
        name: "udp_echo_server",
        args: &[],
        ready: Some("Starting UDP server"),
        probe: Probe::Udp,
        setup: b"",
        unit: b"a datagram nobody reads the echo of",
        no_end: no_newline,
        refuses: true,
    },
];

/// 64 KiB of `x`, again and again, and never a newline.
pub fn no_newline() -> (Vec<u8>, Vec<u8>) {
    (Vec::new(), vec![b'x'; 64 << 10])
}

pub fn spec(name: &str) -> &'static Spec {
    SPECS.iter().find(|s| s.name == name).expect("in SPECS")
}

/// Where a server listens.
#[derive(Clone)]
pub enum At {
    Tcp(u16),
    Unix(PathBuf),
}

/// A client connection, TCP or Unix.
pub enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    pub fn open(at: &At) -> std::io::Result<Conn> {
        Ok(match at {
            At::Tcp(port) => Conn::Tcp(TcpStream::connect(("127.0.0.1", *port))?),
            At::Unix(path) => Conn::Unix(UnixStream::connect(path)?),
        })
    }
    pub fn timeouts(&self, read: Duration, write: Duration) {
        match self {
            Conn::Tcp(s) => s
                .set_read_timeout(Some(read))
                .and(s.set_write_timeout(Some(write))),
            Conn::Unix(s) => s
                .set_read_timeout(Some(read))
                .and(s.set_write_timeout(Some(write))),
        }
        .expect("timeouts");
    }
    pub fn try_clone(&self) -> Conn {
        match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone().expect("clone")),
            Conn::Unix(s) => Conn::Unix(s.try_clone().expect("clone")),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// A running example; its output (stdout and stderr) is read as it comes,
/// only the first 256 KiB kept (a flood makes some print a line per
/// request, or per failed handshake); killed on drop.
pub struct Server {
    pub child: std::process::Child,
    out: Arc<Mutex<String>>,
    pub at: At,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `spec`'s example on a free port (or a path) and waits until it
    /// serves.
    pub fn start(spec: &Spec) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = super::tls::pki();
        for (file, text) in [
            ("hello.txt", "hello"),
            ("chain.pem", &pki.chain_pem),
            ("key.pem", &pki.key_pem),
            ("ca.pem", &pki.ca_pem),
        ] {
            std::fs::write(dir.path().join(file), text).expect("write");
        }
        std::fs::write(dir.path().join("big.bin"), vec![b'b'; 4 << 20]).expect("big.bin");
        let path = |f: &str| dir.path().join(f).to_str().expect("utf-8").to_string();
        let (at, mut args) = if spec.name == "unix_echo_server" {
            (
                At::Unix(dir.path().join("echo.sock")),
                vec![path("echo.sock")],
            )
        } else {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            (At::Tcp(port), vec![port.to_string()])
        };
        args.extend(spec.args.iter().map(|a| {
            a.replace("{dir}", &path(""))
                .replace("{cert}", &path("chain.pem"))
                .replace("{key}", &path("key.pem"))
        }));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = examples::command(spec.name, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example");
        let out = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        for mut pipe in pipes {
            let sink = out.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 16 << 10];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                    if s.len() < 256 << 10 {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let mut server = Server {
            child,
            out,
            at,
            dir,
        };
        // Readiness: its line, or (tcp_echo_server prints none) a connect.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !match spec.ready {
            Some(line) => server.stdout().contains(line),
            None => Conn::open(&server.at).is_ok(),
        } {
            server.alive(spec.name);
            assert!(
                Instant::now() < deadline,
                "{} not serving in 30 s",
                spec.name
            );
            thread::sleep(Duration::from_millis(10));
        }
        server
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the example exited (crashed, or gave up).
    pub fn alive(&mut self, name: &str) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("{name} exited ({status}); stdout:\n{}", self.stdout());
        }
    }

    /// The well-behaved client: fails the test unless it is answered
    /// within [`AT_ONCE`].
    pub fn probe(&mut self, spec: &Spec) {
        self.alive(spec.name);
        let started = Instant::now();
        let outcome = match &spec.probe {
            Probe::Ask(request, answer) => ask(&self.at, request, answer),
            Probe::Chat => chat(&self.at),
            Probe::Tls => tls(&self.at, self.dir.path()),
            Probe::Udp => udp(&self.at),
        };
        if let Err(why) = outcome {
            panic!("{}: the well-behaved client: {why}", spec.name);
        }
        let took = started.elapsed();
        assert!(took < AT_ONCE, "{}: answered after {took:?}", spec.name);
        self.alive(spec.name);
    }

    /// Current RSS, in KiB.
    pub fn rss(&self) -> usize {
        rss_kib(self.pid()).0
    }

    /// Peak RSS growth since `before`, in KiB.
    pub fn grown(&self, before: usize) -> usize {
        rss_kib(self.pid()).1.saturating_sub(before)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Reads from `conn` until `until` says the bytes so far are enough, EOF, or
/// the deadline; returns them.
pub fn read_until(conn: &mut Conn, mut until: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    let (deadline, mut got, mut buf) = (Instant::now() + AT_ONCE, Vec::new(), [0u8; 16 << 10]);
    while !until(&got) && Instant::now() < deadline {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if timed_out(&e) => {}
            Err(_) => break,
        }
    }
    got
}

pub fn ask(at: &At, request: &[u8], answer: &str) -> Result<(), String> {
    let mut conn = Conn::open(at).map_err(|e| format!("connect: {e}"))?;
    conn.timeouts(Duration::from_millis(100), AT_ONCE);
    conn.write_all(request).map_err(|e| format!("send: {e}"))?;
    let got = read_until(&mut conn, |got| got.len() >= answer.len());
    match got.starts_with(answer.as_bytes()) {
        true => Ok(()),
        false => Err(format!(
            "{:?}, not {answer:?}",
            String::from_utf8_lossy(&got)
        )),
    }
}

/// A listening member hears a line another member says (said again every
/// 300 ms: the listener may have joined after it was said, or skipped it).
pub fn chat(at: &At) -> Result<(), String> {
    let mut listener = Conn::open(at).map_err(|e| format!("connect: {e}"))?;
    let mut speaker = Conn::open(at).map_err(|e| format!("connect: {e}"))?;
    listener.timeouts(Duration::from_millis(100), AT_ONCE);
    let said = std::cell::Cell::new(Instant::now() - Duration::from_secs(1));
    let heard = read_until(&mut listener, |got| {
        if said.get().elapsed() > Duration::from_millis(300) {
            speaker.write_all(b"probe line\n").expect("say");
            said.set(Instant::now());
        }
        got.windows(12).any(|w| w == b": probe line")
    });
    match heard.windows(12).any(|w| w == b": probe line") {
        true => Ok(()),
        false => Err(format!(
            "never heard the probe line in {} bytes",
            heard.len()
        )),
    }
}

pub fn tls(at: &At, dir: &Path) -> Result<(), String> {
    let At::Tcp(port) = at else { unreachable!() };
    let ca = dir.join("ca.pem");
    let mut cmd: Command = examples::command(
        "tls_echo_client",
        &[&port.to_string(), ca.to_str().unwrap()],
    );
    cmd.stderr(Stdio::null());
    let out = examples::run(cmd, AT_ONCE);
    match out.contains("Data received: 'Hello World!'") {
        true => Ok(()),
        false => Err(out),
    }
}

pub fn udp(at: &At) -> Result<(), String> {
    let At::Tcp(port) = at else { unreachable!() };
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let deadline = Instant::now() + AT_ONCE;
    let mut buf = [0u8; 64];
    // Datagrams may be dropped under a flood: ask again until answered.
    while Instant::now() < deadline {
        s.send_to(b"probe", ("127.0.0.1", *port))
            .map_err(|e| e.to_string())?;
        if let Ok(n) = s.recv(&mut buf) {
            return match &buf[..n] == b"probe" {
                true => Ok(()),
                false => Err(format!("{:?}", &buf[..n])),
            };
        }
    }
    Err("no echo".into())
}
