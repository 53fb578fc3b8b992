//! Section 13: the high-level layer. `start_server` runs a callback per
//! connection with a reader and a writer; `open_connection` dials it;
//! `create_subprocess_exec` gives a `Process` whose pipes are streams, and
//! `communicate` feeds and drains them at once.

use std::error::Error;

use switchboard::{EventLoop, Stdio};

pub(crate) fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!(
        "   open_connection and start_server give a reader and a writer, as asyncio's streams."
    );
    let l = lp.clone();
    super::block_on(lp, async move {
        let server = l
            .start_server(|mut reader, mut writer| async move {
                // One line at most 64 KiB (the default limit), upper-cased back.
                let line = reader.readline().await?;
                writer.write(&line.to_ascii_uppercase());
                writer.drain().await?;
                writer.close();
                Ok::<(), switchboard::Error>(())
            })
            .host("127.0.0.1")
            .port(0)
            .await?;
        let port = server.sockets()[0].port();
        let (mut reader, mut writer) = l.open_connection().host("127.0.0.1").port(port).await?;
        writer.write(b"hello, streams\n");
        writer.drain().await?;
        let answer = reader.readline().await?;
        println!(
            "   client: readline() -> {:?}",
            String::from_utf8_lossy(&answer)
        );
        server.close();

        let mut sort = l
            .create_subprocess_exec("sort", [""; 0])
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .await?;
        let (out, _) = sort.communicate(Some(b"pear\napple\nfig\n")).await?;
        println!(
            "   sort via communicate -> {:?}, exit code {}",
            String::from_utf8_lossy(&out),
            sort.wait().await?
        );
        Ok(())
    })
}
