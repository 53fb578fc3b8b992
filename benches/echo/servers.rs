//! The servers under test, each run in a process of its own (this binary
//! re-executed with `--serve KIND WORKLOAD`): switchboard's ready-made `Echo`
//! and `HttpHello`, and tokio's current-thread runtime written as a user
//! would write it (a read buffer per connection, allocated once the first
//! bytes arrive, `read().await` then `write_all().await`). The bare mio loop is in `mio_server.rs`.

use std::io::{self, Write};
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::{self, Parsed};
use crate::mio_server;

/// Who serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Switchboard,
    /// The bare mio loop: one shared 256 KiB read buffer.
    Mio,
    /// tokio current-thread with a read buffer of this many KiB per connection.
    Tokio(usize),
    /// switchboard's high-level streams (`lines` only).
    Streams,
    /// CPython asyncio's streams (`lines` only).
    Python,
}

impl Kind {
    pub fn name(self) -> String {
        match self {
            Kind::Switchboard => "switchboard".into(),
            Kind::Mio => "mio".into(),
            Kind::Tokio(kib) => format!("tokio-{kib}k"),
            Kind::Streams => "switchboard-streams".into(),
            Kind::Python => "asyncio-streams".into(),
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "switchboard" => Some(Kind::Switchboard),
            "mio" => Some(Kind::Mio),
            "switchboard-streams" => Some(Kind::Streams),
            _ => s
                .strip_prefix("tokio-")
                .and_then(|k| k.strip_suffix('k'))
                .and_then(|k| k.parse().ok())
                .map(Kind::Tokio),
        }
    }
}

/// What the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Echo,
    Http,
    /// Lines echoed one by one (the protocol-level peers echo bytes).
    Lines,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Http => "http",
            Service::Lines => "lines",
        }
    }
}

/// Tells the parent which port to load (the first line of stdout).
pub fn announce(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "PORT {}", addr.port());
    let _ = out.flush();
}

/// Serves until killed.
pub fn serve(kind: &str, service: &str) {
    crate::raise_nofile();
    let service = match service {
        "echo" => Service::Echo,
        "http" => Service::Http,
        "lines" => Service::Lines,
        other => panic!("unknown service {other}"),
    };
    match Kind::parse(kind) {
        Some(Kind::Switchboard) => serve_switchboard(service),
        Some(Kind::Mio) => mio_server::serve(service),
        Some(Kind::Tokio(kib)) => serve_tokio(service, kib * 1024),
        Some(Kind::Streams) => crate::lines::serve_streams(),
        Some(Kind::Python) | None => panic!("unknown server kind {kind}"),
    }
}

fn serve_switchboard(service: Service) {
    use switchboard::ready_made::{Echo, HttpHello};
    let lp = switchboard::new_event_loop().expect("event loop");
    let lp2 = lp.clone();
    let res = lp.run_until_complete(async move {
        let server = match service {
            Service::Echo | Service::Lines => lp2.create_server(|| Echo),
            Service::Http => lp2.create_server(HttpHello::new),
        }
        .host("127.0.0.1")
        .port(0)
        .backlog(1024)
        .await
        .expect("create_server");
        announce(server.sockets()[0]);
        server.serve_forever().await
    });
    eprintln!("switchboard server ended: {res:?}");
}

/// Waits for the first bytes before allocating the connection's buffer, so
/// idle connections hold none (as switchboard's and mio's do not).
async fn first_readable(s: &tokio::net::TcpStream, buf_size: usize) -> Option<Vec<u8>> {
    let _ = s.set_nodelay(true);
    // `readable()` may report a fresh socket ready before any byte came;
    // `peek` waits for a byte (or EOF) for real.
    match s.peek(&mut [0u8; 1]).await {
        Ok(1) => Some(vec![0u8; buf_size]),
        _ => None,
    }
}

pub async fn tokio_echo(mut s: tokio::net::TcpStream, buf_size: usize) {
    let Some(mut buf) = first_readable(&s, buf_size).await else {
        return;
    };
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

pub async fn tokio_http(mut s: tokio::net::TcpStream, buf_size: usize) {
    let Some(mut buf) = first_readable(&s, buf_size).await else {
        return;
    };
    // Bytes of an unfinished head, kept for the next read.
    let mut partial: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut answers = 0;
        let parsed = if partial.is_empty() {
            let parsed = http::answer(&buf[..n], &mut answers);
            if let Parsed::More { consumed } = parsed {
                partial.extend_from_slice(&buf[consumed..n]);
            }
            parsed
        } else {
            partial.extend_from_slice(&buf[..n]);
            let parsed = http::answer(&partial, &mut answers);
            if let Parsed::More { consumed } = parsed {
                partial.drain(..consumed);
            }
            parsed
        };
        if answers > 0
            && s.write_all(http::responses(answers, &mut out))
                .await
                .is_err()
        {
            return;
        }
        if parsed == Parsed::Close {
            return;
        }
    }
}

fn serve_tokio(service: Service, buf_size: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        announce(listener.local_addr().expect("addr"));
        loop {
            match listener.accept().await {
                Ok((s, _)) => {
                    match service {
                        Service::Echo => tokio::task::spawn_local(tokio_echo(s, buf_size)),
                        Service::Lines => tokio::task::spawn_local(crate::lines::tokio_lines(s)),
                        Service::Http => tokio::task::spawn_local(tokio_http(s, buf_size)),
                    };
                }
                Err(e) => {
                    eprintln!("tokio accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    });
}
