//! Section 7: `create_server` on port 0 lets the OS pick a port;
//! `create_connection` dials it; the server echoes one line and reports when
//! the client leaves.

use std::error::Error;

use switchboard::prelude::*;
use switchboard::LoopFuture;

/// The server side: echoes, and reports when the client leaves.
pub(crate) struct TourEchoServer {
    pub(crate) lost: LoopFuture<()>,
}

impl StreamProtocol for TourEchoServer {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) => {
                println!(
                    "   server: received '{}', echoing it",
                    String::from_utf8_lossy(&data)
                );
                t.write(&data)?;
            }
            StreamEvent::ConnectionLost(_) => {
                println!("   server: the client closed the connection");
                self.lost.set_result(()).ok();
            }
            _ => {}
        }
        Ok(())
    }
}

/// The client side: sends one line, closes on the echo.
pub(crate) struct TourEchoClient;

impl StreamProtocol for TourEchoClient {
    fn handle(
        &mut self,
        event: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => t.write(b"hello, tour")?,
            StreamEvent::DataReceived(data) => {
                println!(
                    "   client: got back '{}'; closing",
                    String::from_utf8_lossy(&data)
                );
                t.close();
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   create_server on port 0 lets the OS pick a port; create_connection dials it.");
    let l = lp.clone();
    crate::block_on(lp, async move {
        let lost = l.create_future::<()>();
        let on_lost = lost.clone();
        let server = l
            .create_server(move || TourEchoServer {
                lost: on_lost.clone(),
            })
            .host("127.0.0.1")
            .port(0)
            .await?;
        let addr = server.sockets()[0];
        println!("   server listening on {} (a free port)", addr.ip());
        l.create_connection(|| TourEchoClient)
            .host("127.0.0.1")
            .port(addr.port())
            .await?;
        lost.await?;
        server.close();
        server.wait_closed().await;
        println!("   server closed");
        Ok(())
    })
}
