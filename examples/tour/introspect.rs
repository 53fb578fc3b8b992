//! Section 16: seeing inside a running loop — `introspect`'s snapshot of a
//! server and its connections, and the control socket `switchboard-ctl`
//! reads.

use std::error::Error;
use std::io::{Read, Write};

use switchboard::introspect::{ActorKind, ControlReply};
use switchboard::prelude::*;
use switchboard::ready_made::Echo;

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   A snapshot shows every actor: servers, connections, mailboxes.");
    let l = lp.clone();
    let dir = std::env::temp_dir().join(format!("switchboard-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("control.sock");
    let p = path.clone();
    let reply = crate::block_on(lp, async move {
        let server = l
            .create_server(|| Echo)
            .host("127.0.0.1")
            .port(0)
            .name("echo")
            .await?;
        let port = server.sockets()[0].port();
        let (mut r, mut w) = l.open_connection().host("127.0.0.1").port(port).await?;
        w.write(b"hello, inside\n");
        r.readline().await?;
        let snap = l.introspect();
        let echo = snap
            .actors
            .iter()
            .find(|a| a.kind == ActorKind::Server)
            .unwrap();
        let conn = snap
            .actors
            .iter()
            .find(|a| a.parent == Some(echo.id))
            .unwrap();
        let t = conn.transport.as_ref().unwrap();
        println!(
            "   server '{}': {} connection; it read {} bytes and wrote {}",
            echo.name.as_deref().unwrap_or("-"),
            echo.server.as_ref().unwrap().connections,
            t.bytes_in,
            t.bytes_out
        );
        // The same, from outside the process (what switchboard-ctl does).
        let control = l.serve_control(&p).await?;
        let asker = std::thread::spawn(move || -> std::io::Result<String> {
            let mut s = std::os::unix::net::UnixStream::connect(&p)?;
            s.write_all(b"snapshot\n")?;
            let mut json = String::new();
            s.read_to_string(&mut json)?;
            Ok(json)
        });
        while !asker.is_finished() {
            switchboard::sleep(0.005).await;
        }
        let json = asker.join().expect("the client thread")?;
        w.close();
        server.close();
        control.close();
        control.wait_closed().await;
        Ok(serde_json::from_str::<ControlReply>(&json).map_err(std::io::Error::other)?)
    })?;
    std::fs::remove_dir_all(&dir).ok();
    let actors = reply.loops[0].actors.len();
    println!(
        "   the control socket answered: 1 loop, {actors} actors (try `switchboard-ctl ps PATH`)"
    );
    Ok(())
}
