//! A chat room built from actors: every line a client sends goes to every other
//! client.
//!
//! Teaches: application actors (`spawn_bounded`, `Addr`), protocol actors with
//! their own address (`StreamTransport::addr`, `StreamEvent::Message`), line
//! framing with a line limit, backpressure with `Addr::forward`. The room is an
//! actor that owns the member list; each connection's protocol joins the room
//! with its address, forwards its lines, and writes what the room sends it.
//! Nothing is shared: everything is a message. Both directions are bounded,
//! and nothing waits on a client. A member that stops reading gets
//! `PauseWriting`; until `ResumeWriting` the lines for it are skipped (and
//! counted), so the slowest client cannot grow the server. A member that
//! writes faster than the room can pass lines on finds the room's mailbox
//! full: `forward` pauses reading from that connection until there is room,
//! so TCP slows the flooder down instead of the server queueing its lines.
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
    /// The complete lines of one read: one message per read, not per line,
    /// so the room's bound counts reads (see `Member::handle`).
    Say(ActorId, Vec<Bytes>),
    Leave(ActorId),
}

/// The room's mailbox holds at most this many messages (plus one per member
/// that forwarded while it was full), each at most one read of lines.
const ROOM_BOUND: usize = 8;

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
            Room::Say(from, lines) => {
                let (mut log, mut out) = (String::new(), Vec::new());
                for line in &lines {
                    let text = String::from_utf8_lossy(line);
                    log.push_str(&format!("{from} says {text:?}\n"));
                    out.extend_from_slice(format!("{from}: ").as_bytes());
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
                // The one call here that can block the loop, if whoever
                // reads our stdout falls behind: one write per read, not one
                // per line. A real server would log without blocking.
                print!("{log}");
                // One buffer for every member: each `send` clones a handle.
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
            // `forward`, not `send`: it never refuses for a full mailbox
            // (a join, a line or a leave is never lost), it pauses reading
            // from this connection while the room is full.
            StreamEvent::ConnectionMade => {
                if let Some(addr) = t.addr() {
                    self.me = Some(addr.id());
                    self.room.forward(Room::Join(addr.id(), addr), t)?;
                }
            }
            StreamEvent::DataReceived(data) => {
                // A line longer than the framer's limit (64 KiB) is an error
                // that closes this connection.
                self.lines.push(&data);
                let mut said = Vec::new();
                while let Some(line) = self.lines.next_line()? {
                    said.push(line);
                }
                // All the lines of this read in one message: `forward` goes
                // at most one message over the bound per connection, so one
                // read's worth is all a flooder can add beyond it.
                if let (Some(me), false) = (self.me, said.is_empty()) {
                    self.room.forward(Room::Say(me, said), t)?;
                }
            }
            StreamEvent::Message(lines) => match &mut self.skipped {
                Some(n) => *n += lines.iter().filter(|&&b| b == b'\n').count(),
                None => t.write(&lines)?,
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
                    let _ = self.room.forward(Room::Leave(me), t);
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
        let room = lp.spawn_bounded(ChatRoom::default(), ROOM_BOUND)?;
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
        // SIGINT/SIGTERM: stop accepting and close every member; a member
        // that does not read its last lines within 5 s is aborted.
        let stop = lp.create_future::<()>();
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let stop = stop.clone();
            lp.add_signal_handler(sig, move || {
                let _ = stop.set_result(());
            })?;
        }
        // Printed once the handlers are in place.
        println!("Chat room on {}", server.sockets()[0]);
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
