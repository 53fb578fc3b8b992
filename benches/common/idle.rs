//! Idle clients for the benches that hold thousands of connections open:
//! they run in a child process (this bench binary again, with `--clients
//! ADDR N`), so the two sides do not share one descriptor limit, and stay
//! connected until the child's stdin closes.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};

/// Raises the soft descriptor limit to the hard one; returns the soft
/// limit then in force (1024 if it cannot be read).
pub fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(s, _)| s)
        }
        Err(_) => 1024,
    }
}

/// `n` clients connected to `addr`, in a child process, held until
/// [`release`].
pub fn clients(addr: SocketAddr, n: usize) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().expect("bench binary"))
        .args(["--clients", &addr.to_string(), &n.to_string()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("start the clients")
}

/// The child's side of [`clients`]: its `main` calls this on `--clients`.
pub fn clients_main(addr: &str, n: &str) {
    raise_nofile();
    let addr: SocketAddr = addr.parse().expect("addr");
    let n: usize = n.parse().expect("n");
    let held: Vec<TcpStream> = (0..n)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest);
    drop(held);
}

/// Lets the clients go and waits for them.
pub fn release(mut child: std::process::Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

/// A switchboard echo server on `lp` with `n` idle clients connected and
/// accepted; the clients' child process with it.
pub fn echo_with_idle_clients(
    lp: &switchboard::EventLoop,
    n: usize,
) -> (switchboard::Server, std::process::Child) {
    use std::future::IntoFuture;
    let server = lp
        .run_until_complete(
            lp.create_server(|| switchboard::ready_made::Echo)
                .host("127.0.0.1")
                .port(0)
                .backlog(1024)
                .into_future(),
        )
        .expect("run")
        .expect("create_server");
    let child = clients(server.sockets()[0], n);
    let s = server.clone();
    lp.run_until_complete(async move {
        while s.connection_count() < n {
            switchboard::sleep(0.001).await;
        }
    })
    .expect("accept all");
    (server, child)
}
