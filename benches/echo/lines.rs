//! The line-echo servers of the `lines` workload: switchboard's streams
//! (`readline` → `write` → `drain`), tokio's `BufReader::read_line` +
//! `write_all` on a current-thread runtime, and CPython asyncio's streams, as
//! a user of each would write them.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::servers::announce;

/// switchboard: `start_server` with the issue's usage.
pub fn serve_streams() {
    let lp = switchboard::new_event_loop().expect("event loop");
    let lp2 = lp.clone();
    let res = lp.run_until_complete(async move {
        let server = lp2
            .start_server(|mut reader, mut writer| async move {
                loop {
                    let line = reader.readline().await?;
                    if line.is_empty() {
                        break;
                    }
                    writer.write_bytes(line);
                    writer.drain().await?;
                }
                writer.close();
                Ok::<(), switchboard::Error>(())
            })
            .host("127.0.0.1")
            .port(0)
            .backlog(1024)
            .await
            .expect("start_server");
        announce(server.sockets()[0]);
        server.serve_forever().await
    });
    eprintln!("switchboard streams server ended: {res:?}");
}

/// tokio: `BufReader` lines, `write_all`, a task per connection (spawned
/// by `servers::serve_tokio`).
pub async fn tokio_lines(s: tokio::net::TcpStream) {
    let _ = s.set_nodelay(true);
    let (r, mut w) = s.into_split();
    let mut r = tokio::io::BufReader::new(r);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if w.write_all(&line).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// CPython asyncio: `start_server`, `readline`, `write`, `drain`.
pub const PYTHON_LINES: &str = r#"
import asyncio, sys
async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line)
        await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"#;
