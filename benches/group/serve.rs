//! The servers of the group bench, each in a process of its own (this binary
//! re-executed with `--serve KIND ARG SERVICE`):
//!
//! - `group-rp N`: a `LoopGroup` of N loops, each with its own listening
//!   socket on one port (`reuse_port(true)`);
//! - `group-bal N`: a `LoopGroup` of N loops sharing one listener accepted
//!   on a thread of its own (`balanced(true)`);
//! - `sb-rp PORT`: switchboard's single loop on `PORT` with `SO_REUSEPORT`
//!   (port 0: any; two of these make the two-process setup);
//! - `tokio-mt KIB`: tokio's multi-thread runtime, 2 workers, with echo's
//!   tokio handlers (a read buffer of KIB KiB per connection).
//!
//! Switchboard serves its ready-made `Echo` and `HttpHello`. Every server
//! prints `PORT n` once all of its listeners serve.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use switchboard::prelude::*;
use switchboard::ready_made::{Echo, HttpHello};
use switchboard::{Error, LoopGroup};

use crate::servers::{announce, tokio_echo, tokio_http, Service};

/// A server this bench runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// `LoopGroup` of this many loops, `reuse_port` on each.
    GroupRp(usize),
    /// `LoopGroup` of this many loops, `balanced`.
    GroupBal(usize),
    /// tokio multi-thread, 2 workers, read buffer of this many KiB.
    TokioMt(usize),
    /// Two processes of switchboard's single loop, `SO_REUSEPORT` on one port.
    TwoProc,
}

impl Peer {
    pub fn name(self) -> String {
        match self {
            Peer::GroupRp(n) => format!("group-reuseport-{n}"),
            Peer::GroupBal(n) => format!("group-balanced-{n}"),
            Peer::TokioMt(kib) => format!("tokio-mt2-{kib}k"),
            Peer::TwoProc => "two-process".into(),
        }
    }

    pub fn is_group(self) -> bool {
        matches!(self, Peer::GroupRp(_) | Peer::GroupBal(_))
    }

    /// The `--serve` arguments of its (first) process.
    pub fn args(self, service: Service) -> Vec<String> {
        let (kind, arg) = match self {
            Peer::GroupRp(n) => ("group-rp", n),
            Peer::GroupBal(n) => ("group-bal", n),
            Peer::TokioMt(kib) => ("tokio-mt", kib),
            Peer::TwoProc => ("sb-rp", 0),
        };
        vec![kind.into(), arg.to_string(), service.name().into()]
    }
}

/// Serves `--serve KIND ARG SERVICE` until killed; false if KIND is not one
/// of this bench's.
pub fn serve(kind: &str, arg: &str, service: &str) -> bool {
    let service = match service {
        "echo" => Service::Echo,
        "http" => Service::Http,
        other => panic!("unknown service {other}"),
    };
    let n: usize = arg.parse().unwrap_or_else(|_| panic!("bad number {arg:?}"));
    crate::raise_nofile();
    match kind {
        "group-rp" => serve_group(n, false, service),
        "group-bal" => serve_group(n, true, service),
        "sb-rp" => serve_single(n as u16, service),
        "tokio-mt" => serve_tokio_mt(n * 1024, service),
        _ => return false,
    }
    true
}

/// A raised-once flag across loops.
type Flag = Arc<tokio::sync::watch::Sender<bool>>;

fn serve_group(loops: usize, balanced: bool, service: Service) {
    let port = Arc::new(OnceLock::<u16>::new());
    let bound: Flag = Arc::new(tokio::sync::watch::channel(false).0);
    let joined = Arc::new(AtomicUsize::new(0));
    let res = LoopGroup::new().loops(loops).run(move |lp: EventLoop| {
        let (port, bound, joined) = (port.clone(), bound.clone(), joined.clone());
        async move {
            let g = lp.group().expect("a loop of the group");
            // reuse_port: loop 0 picks the port, the others bind it.
            // balanced: every loop asks for port 0 and joins one listener.
            if !balanced && g.index() > 0 {
                let _ = bound.subscribe().wait_for(|b| *b).await;
            }
            let want = port.get().copied().unwrap_or(0);
            let server = match service {
                Service::Http => lp.create_server(HttpHello::new),
                _ => lp.create_server(|| Echo),
            }
            .host("127.0.0.1")
            .port(want)
            .backlog(1024)
            .reuse_port(!balanced)
            .balanced(balanced)
            .await?;
            let addr = server.sockets()[0];
            if g.index() == 0 {
                let _ = port.set(addr.port());
                bound.send_replace(true);
            }
            // Announced once every loop serves: with reuse_port, a
            // connection made before a loop binds would never reach it.
            if joined.fetch_add(1, Ordering::SeqCst) + 1 == g.len() {
                announce(addr);
            }
            let _ = server.serve_forever().await;
            Ok::<_, Error>(())
        }
    });
    eprintln!("group server ended: {res:?}");
}

fn serve_single(port: u16, service: Service) {
    let res = switchboard::run(move |lp: EventLoop| async move {
        let server = match service {
            Service::Http => lp.create_server(HttpHello::new),
            _ => lp.create_server(|| Echo),
        }
        .host("127.0.0.1")
        .port(port)
        .backlog(1024)
        .reuse_port(true)
        .await?;
        announce(server.sockets()[0]);
        let _ = server.serve_forever().await;
        Ok::<_, Error>(())
    });
    eprintln!("single-loop server ended: {res:?}");
}

fn serve_tokio_mt(buf_size: usize, service: Service) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // As `#[tokio::main]` with `worker_threads = 2`: accepts in `block_on`,
    // every connection a task on the workers.
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        announce(listener.local_addr().expect("addr"));
        loop {
            match listener.accept().await {
                Ok((s, _)) => {
                    match service {
                        Service::Http => tokio::spawn(tokio_http(s, buf_size)),
                        _ => tokio::spawn(tokio_echo(s, buf_size)),
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
