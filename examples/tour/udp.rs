//! Section 8: `create_datagram_endpoint` binds a UDP endpoint on port 0;
//! another, connected to it with `remote_addr`, sends one datagram; the
//! first answers the sender, and the echo comes back whole.

use std::error::Error;

use switchboard::prelude::*;
use switchboard::LoopFuture;

/// Answers each datagram to its sender, prefixed.
struct TourUdpServer;

impl DatagramProtocol for TourUdpServer {
    fn handle(
        &mut self,
        event: DatagramEvent,
        t: &mut dyn DatagramTransport,
    ) -> Result<(), ProtocolError> {
        if let DatagramEvent::DatagramReceived { data, addr } = event {
            println!(
                "   server: datagram '{}' from the client",
                String::from_utf8_lossy(&data)
            );
            let reply = [b"echo: ".as_slice(), &data].concat();
            t.sendto(&reply, Some(&addr))?;
        }
        Ok(())
    }
}

/// Sends one datagram on `ConnectionMade`, settles `got` with the answer.
struct TourUdpClient {
    got: LoopFuture<String>,
}

impl DatagramProtocol for TourUdpClient {
    fn handle(
        &mut self,
        event: DatagramEvent,
        t: &mut dyn DatagramTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            DatagramEvent::ConnectionMade => t.sendto(b"ping", None)?,
            DatagramEvent::DatagramReceived { data, .. } => {
                self.got
                    .set_result(String::from_utf8_lossy(&data).into_owned())
                    .ok();
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   create_datagram_endpoint binds one endpoint; a second, connected to it, sends.");
    let l = lp.clone();
    crate::block_on(lp, async move {
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let server = l
            .create_datagram_endpoint(|| TourUdpServer)
            .local_addr(local)
            .await?;
        let Some(Address::Inet(at)) = server.transport.sockname() else {
            unreachable!("a UDP endpoint has an IP address");
        };
        let got = l.create_future::<String>();
        let answer = got.clone();
        let client = l
            .create_datagram_endpoint(move || TourUdpClient { got: answer })
            .remote_addr(at)
            .await?;
        println!("   client: got back '{}', one datagram, whole", got.await?);
        client.transport.close();
        server.transport.close();
        Ok(())
    })
}
