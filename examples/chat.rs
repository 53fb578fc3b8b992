//! A chat room built from actors: every line a client sends goes to every other
//! client.
//!
//! Teaches: application actors (`spawn`, `Addr`), protocol actors with their own
//! address (`StreamTransport::addr`, `StreamEvent::Message`), line framing. The
//! room is an actor that owns the member list; each connection's protocol joins
//! the room with its address, forwards its lines, and writes what the room sends
//! it. Nothing is shared: everything is a message. A member that stops reading
//! gets `PauseWriting`; until `ResumeWriting` the lines for it are skipped (and
//! counted), so the slowest client cannot grow the server.
//!
//! Run: `cargo run --example chat -- 8888`, then connect two clients
//! (`nc 127.0.0.1 8888`) and type. Stops on SIGINT or SIGTERM.
//!
//! Expected server output:
//! ```text
//! Chat room on 127.0.0.1:8888
//! actor#3 joined (1 in the room)
//! actor#4 joined (2 in the room)
//! actor#3 says "hello"
//! ```

use switchboard::prelude::*;
use switchboard::ready_made::LineFramer;
use switchboard::ActorId;

/// What the room hears.
enum Room {
    Join(ActorId, Addr<Bytes>),
    Say(ActorId, Bytes),
    Leave(ActorId),
}

/// The room actor: the member list lives here and nowhere else.
#[derive(Default)]
struct ChatRoom {
    members: Vec<(ActorId, Addr<Bytes>)>,
}

impl Actor for ChatRoom {
    type Message = Room;
    fn handle(&mut self, msg: Room, _ctx: &mut ActorContext<'_, Room>) {
        match msg {
            Room::Join(id, addr) => {
                self.members.push((id, addr));
                println!("{id} joined ({} in the room)", self.members.len());
            }
            Room::Say(from, line) => {
                println!("{from} says {:?}", String::from_utf8_lossy(&line));
                let mut out = format!("{from}: ").into_bytes();
                out.extend_from_slice(&line);
                out.push(b'\n');
                let out = Bytes::from(out);
                for (id, addr) in &self.members {
                    if *id != from {
                        let _ = addr.send(out.clone());
                    }
                }
            }
            Room::Leave(id) => {
                self.members.retain(|(m, _)| *m != id);
                println!("{id} left ({} in the room)", self.members.len());
            }
        }
    }
}

/// One connection: a protocol actor that takes `Bytes` messages from the room.
struct Member {
    room: Addr<Room>,
    me: Option<ActorId>,
    lines: LineFramer,
    /// Lines skipped since `PauseWriting`; `None` while the client keeps up.
    skipped: Option<usize>,
}

impl StreamProtocol<Bytes> for Member {
    fn handle(
        &mut self,
        event: StreamEvent<Bytes>,
        t: &mut dyn StreamTransport<Bytes>,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => {
                if let Some(addr) = t.addr() {
                    self.me = Some(addr.id());
                    let _ = self.room.send(Room::Join(addr.id(), addr));
                }
            }
            StreamEvent::DataReceived(data) => {
                self.lines.push(&data);
                while let Some(line) = self.lines.next_line()? {
                    if let Some(me) = self.me {
                        self.room.send(Room::Say(me, line))?;
                    }
                }
            }
            StreamEvent::Message(line) => match &mut self.skipped {
                Some(n) => *n += 1,
                None => t.write(&line)?,
            },
            StreamEvent::PauseWriting => self.skipped = Some(0),
            StreamEvent::ResumeWriting => {
                if let Some(n @ 1..) = self.skipped.take() {
                    t.write(
                        format!("*** {n} lines skipped while you were not reading\n").as_bytes(),
                    )?;
                }
            }
            StreamEvent::ConnectionLost(_) => {
                if let Some(me) = self.me {
                    let _ = self.room.send(Room::Leave(me));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(8888), |p| p.parse())?;
    switchboard::run(|lp| async move {
        let room = lp.spawn(ChatRoom::default())?;
        let member = move || Member {
            room: room.clone(),
            me: None,
            lines: LineFramer::default().strip_cr(true),
            skipped: None,
        };
        let server = lp
            .create_server(member)
            .host("127.0.0.1")
            .port(port)
            .await?;
        println!("Chat room on {}", server.sockets()[0]);
        // SIGINT/SIGTERM: stop accepting and close every member; a member
        // that does not read its last lines within 5 s is aborted.
        let stop = lp.create_future::<()>();
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let stop = stop.clone();
            lp.add_signal_handler(sig, move || {
                let _ = stop.set_result(());
            })?;
        }
        stop.await?;
        server.close();
        server.close_clients();
        if switchboard::wait_for(server.wait_closed(), 5.0)
            .await
            .is_err()
        {
            server.abort_clients();
            server.wait_closed().await;
        }
        Ok(())
    })
}
