//! A small static file server: HTTP/1.0 GET over sockets the program owns,
//! each file sent with `sock_sendfile` (the OS's `sendfile(2)`, no copy
//! through user space). Stopped by SIGINT or SIGTERM.
//!
//! Teaches: the loop's socket methods (`sock_accept`, `sock_recv`,
//! `sock_sendall`, `sock_sendfile`) on a non-blocking listener, one task per
//! connection, and cancelling the accept task to stop.
//!
//! Mirrors "Working with socket objects directly" and "Transferring files"
//! in <https://docs.python.org/3/library/asyncio-eventloop.html>.
//!
//! Run it (port defaults to 8888, the directory to the current one), then
//! `curl http://127.0.0.1:8888/Cargo.toml`:
//!
//! ```text
//! cargo run --example static_files [port] [directory]
//! ```
//!
//! Expected output for that request (N is the size of the file):
//!
//! ```text
//! Serving . on http://127.0.0.1:8888
//! GET /Cargo.toml -> 200 (N bytes)
//! ```

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use switchboard::prelude::*;

/// Reads one request head and answers it with a file from `root`.
async fn serve(lp: EventLoop, conn: TcpStream, root: Rc<PathBuf>) -> switchboard::Result<()> {
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let chunk = lp.sock_recv(&conn, 4096).await?;
        if chunk.is_empty() {
            return Ok(());
        }
        head.extend_from_slice(&chunk);
    }
    let line = String::from_utf8_lossy(&head);
    let target = match line.split_whitespace().collect::<Vec<_>>()[..] {
        ["GET", target, ..] => target.to_string(),
        _ => return respond(&lp, &conn, "400 Bad Request").await,
    };
    // Only plain names below the root: no "..", no absolute paths.
    let rel = Path::new(target.trim_start_matches('/'));
    let safe = rel.components().all(|c| matches!(c, Component::Normal(_)));
    let mut file = match File::open(root.join(rel)) {
        Ok(f) if safe && f.metadata()?.is_file() => f,
        _ => {
            println!("GET {target} -> 404");
            return respond(&lp, &conn, "404 Not Found").await;
        }
    };
    let len = file.metadata()?.len();
    let header = format!("HTTP/1.0 200 OK\r\nContent-Length: {len}\r\n\r\n");
    lp.sock_sendall(&conn, header.as_bytes()).await?;
    let sent = lp.sock_sendfile(&conn, &mut file).await?;
    println!("GET {target} -> 200 ({sent} bytes)");
    Ok(())
}

async fn respond(lp: &EventLoop, conn: &TcpStream, status: &str) -> switchboard::Result<()> {
    let text = format!("HTTP/1.0 {status}\r\nContent-Length: 0\r\n\r\n");
    Ok(lp.sock_sendall(conn, text.as_bytes()).await?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(8888), |p| p.parse())?;
    let root = Rc::new(PathBuf::from(args.next().unwrap_or_else(|| ".".into())));
    switchboard::run(|lp| async move {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let serving = format!("Serving {} on http://127.0.0.1:{port}", root.display());
        let l = lp.clone();
        let accepting = lp.create_task(async move {
            loop {
                let Ok((fd, _peer)) = l.sock_accept(&listener).await else {
                    // Out of descriptors, say: try again a little later.
                    switchboard::sleep(0.1).await;
                    continue;
                };
                let conn = TcpStream::from(fd);
                let (l2, root) = (l.clone(), Rc::clone(&root));
                let _ = l.create_task(async move { serve(l2, conn, root).await.ok() });
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
