//! A small static file server: HTTP/1.0 GET over sockets the program owns,
//! each file sent with `sock_sendfile` (the OS's `sendfile(2)`, no copy
//! through user space). Stopped by SIGINT or SIGTERM.
//!
//! Teaches: the loop's socket methods (`sock_accept`, `sock_recv`,
//! `sock_sendall`, `sock_sendfile`) on a non-blocking listener, one task per
//! connection, `wait_for` as a deadline, `run_in_executor` for blocking
//! filesystem calls, and cancelling the accept task to stop.
//!
//! Limits it enforces, as any server facing strangers must: a request head
//! must come whole within the head timeout (10 s, or the third argument; else
//! the connection is closed) and within 8 KiB (else 400). Only regular files
//! whose real path, every symlink resolved, lies under the directory are
//! served; anything else (`..`, a symlink out, a FIFO, a device) is a 404,
//! decided before anything is opened, off the loop thread; the open itself
//! uses `O_NONBLOCK`, so no request can stall the loop.
//!
//! Mirrors "Working with socket objects directly" and "Transferring files"
//! in <https://docs.python.org/3/library/asyncio-eventloop.html>.
//!
//! Run it (port defaults to 8888, the directory to the current one), then
//! `curl http://127.0.0.1:8888/Cargo.toml`:
//!
//! ```text
//! cargo run --example static_files [port] [directory] [head-timeout]
//! ```
//!
//! Expected output for that request (N is the size of the file):
//!
//! ```text
//! Serving . on http://127.0.0.1:8888
//! GET /Cargo.toml -> 200 (N bytes)
//! ```

use std::fs::{File, OpenOptions};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use switchboard::prelude::*;

/// The longest request head read.
const HEAD_LIMIT: usize = 8192;

/// Reads one request head (within `timeout` seconds) and answers it with a
/// file from `root`, which is canonical.
async fn serve(
    lp: EventLoop,
    conn: TcpStream,
    root: Arc<PathBuf>,
    timeout: f64,
) -> switchboard::Result<()> {
    let Ok(head) = switchboard::wait_for(read_head(&lp, &conn), timeout).await else {
        println!("no request within {timeout}s: closed");
        return Ok(());
    };
    let Some(head) = head? else {
        return respond(&lp, &conn, "400 Bad Request").await; // too long, or cut short
    };
    let line = String::from_utf8_lossy(&head);
    let target = match line.split_whitespace().collect::<Vec<_>>()[..] {
        ["GET", target, ..] => target.to_string(),
        _ => return respond(&lp, &conn, "400 Bad Request").await,
    };
    let (root, wanted) = (Arc::clone(&root), target.clone());
    let Some(mut file) = lp
        .run_in_executor(None, move || open_under(&root, &wanted))?
        .await?
    else {
        println!("GET {target} -> 404");
        return respond(&lp, &conn, "404 Not Found").await;
    };
    let len = file.metadata()?.len();
    let header = format!("HTTP/1.0 200 OK\r\nContent-Length: {len}\r\n\r\n");
    lp.sock_sendall(&conn, header.as_bytes()).await?;
    let sent = lp.sock_sendfile(&conn, &mut file).await?;
    println!("GET {target} -> 200 ({sent} bytes)");
    Ok(())
}

/// The request head through its blank line, or `None` if the client left
/// first or sent `HEAD_LIMIT` bytes without one. Only the bytes just received
/// (and the 3 before them) are searched, so a slow head costs linear time.
async fn read_head(lp: &EventLoop, conn: &TcpStream) -> switchboard::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    while head.len() < HEAD_LIMIT {
        let chunk = lp.sock_recv(conn, HEAD_LIMIT - head.len()).await?;
        if chunk.is_empty() {
            break;
        }
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk);
        if head[from..].windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Some(head));
        }
    }
    Ok(None)
}

/// The regular file `target` names under `root`, opened; `None` if there is
/// none. Blocking calls, run on an executor thread: the path is resolved
/// (symlinks followed) and checked before it is opened, so a FIFO or a device
/// is never opened, and `O_NONBLOCK` keeps a file swapped for a FIFO after the
/// check from blocking the open.
fn open_under(root: &Path, target: &str) -> Option<File> {
    let rel = Path::new(target.trim_start_matches('/'));
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None; // only plain names: no "..", no absolute paths
    }
    let real = std::fs::canonicalize(root.join(rel)).ok()?;
    if !real.starts_with(root) || !std::fs::metadata(&real).ok()?.is_file() {
        return None;
    }
    let nonblock = nix::fcntl::OFlag::O_NONBLOCK.bits();
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nonblock)
        .open(&real)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

async fn respond(lp: &EventLoop, conn: &TcpStream, status: &str) -> switchboard::Result<()> {
    let text = format!("HTTP/1.0 {status}\r\nContent-Length: 0\r\n\r\n");
    Ok(lp.sock_sendall(conn, text.as_bytes()).await?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(8888), |p| p.parse())?;
    let dir = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let timeout: f64 = args.next().map_or(Ok(10.0), |t| t.parse())?;
    let root = Arc::new(std::fs::canonicalize(&dir)?);
    switchboard::run(|lp| async move {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let serving = format!("Serving {} on http://127.0.0.1:{port}", dir.display());
        let l = lp.clone();
        let accepting = lp.create_task(async move {
            loop {
                let Ok((fd, _peer)) = l.sock_accept(&listener).await else {
                    // Out of descriptors, say: try again a little later.
                    switchboard::sleep(0.1).await;
                    continue;
                };
                let conn = TcpStream::from(fd);
                let (l2, root) = (l.clone(), Arc::clone(&root));
                let _ = l.create_task(async move { serve(l2, conn, root, timeout).await.ok() });
            }
        })?;
        let stop = lp.create_future::<()>();
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let s = stop.clone();
            lp.add_signal_handler(sig, move || {
                let _ = s.set_result(());
            })?;
        }
        // Printed once the handlers are in place.
        println!("{serving}");
        stop.await?;
        accepting.cancel();
        Ok::<(), switchboard::Error>(())
    })?;
    Ok(())
}
