//! Section 15: a `LoopGroup` of two loops, each on its own thread, serving
//! one port in balanced mode; a named actor on loop 0 answers a question
//! from loop 1, and hears when loop 1 is done.

use std::error::Error;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use switchboard::prelude::*;
use switchboard::ready_made::Echo;
use switchboard::LoopFuture;

enum Ask {
    /// Which loop are you on?
    Where(ReplyTo<usize>),
    /// Loop 1's clients are done: loop 0 may end.
    Done,
}

/// Lives on loop 0; `finished` resolves its loop's setup future.
struct Host {
    index: usize,
    finished: LoopFuture<()>,
}

impl Actor for Host {
    type Message = Ask;
    fn handle(&mut self, msg: Ask, _ctx: &mut ActorContext<'_, Ask>) {
        match msg {
            Ask::Where(r) => drop(r.send(self.index)),
            Ask::Done => drop(self.finished.set_result(())),
        }
    }
}

pub fn show(_lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   Each loop of a group runs the same setup on its own thread.");
    let served = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let s = served.clone();
    let answers = switchboard::LoopGroup::new()
        .loops(2)
        .run(move |lp: EventLoop| {
            let served = s.clone();
            async move {
                let g = lp.group().expect("a loop of the group");
                let i = g.index();
                let sv = served.clone();
                let server = lp
                    .create_server(move || {
                        sv[i].fetch_add(1, Ordering::SeqCst);
                        Echo
                    })
                    .host("127.0.0.1")
                    .port(0)
                    .balanced(true)
                    .await?;
                if i == 0 {
                    // Registered once loop 0 serves: loop 1 finds it after that.
                    let finished = lp.create_future();
                    let host = Host {
                        index: 0,
                        finished: finished.clone(),
                    };
                    g.register("host", lp.spawn(host)?)?;
                    finished.await?;
                    return Ok::<_, switchboard::Error>(0);
                }
                let host = g.lookup::<Ask>("host").await?;
                let answer = host.call(Ask::Where).await?;
                // Four clients while both loops serve, held until the last.
                let port = server.sockets()[0].port();
                lp.run_in_executor(None, move || -> std::io::Result<()> {
                    let mut held = Vec::new();
                    for _ in 0..4 {
                        let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
                        c.write_all(b"hi")?;
                        c.read_exact(&mut [0u8; 2])?;
                        held.push(c);
                    }
                    Ok(())
                })?
                .await??;
                let _ = host.send(Ask::Done);
                Ok(answer)
            }
        })?;
    println!(
        "   the actor named 'host' answered loop 1 from loop {}",
        answers[1]
    );
    let counts: Vec<_> = served.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    println!("   four connections to one port, balanced over the loops: {counts:?}");
    Ok(())
}
