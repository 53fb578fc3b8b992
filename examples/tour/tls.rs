//! Section 10: the same echo protocols as section 7, over TLS: `.ssl(config)`
//! on both ends puts TLS between the socket and the protocol, which does not
//! change; the transport tells the session's facts.

use std::error::Error;

use switchboard::prelude::*;
use switchboard::{TlsClientConfig, TlsServerConfig};

use crate::tcp::{TourEchoClient, TourEchoServer};

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   .ssl(config) puts TLS under the very same protocols as section 7.");
    // A certificate for localhost, made now; the client trusts just it.
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    let server_tls = TlsServerConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    let client_tls = TlsClientConfig::from_root_pem(cert_pem.as_bytes())?;
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
            .ssl(server_tls)
            .await?;
        let conn = l
            .create_connection(|| TourEchoClient)
            .addr(server.sockets()[0])
            .ssl(client_tls)
            .server_hostname("localhost")
            .await?;
        lost.await?;
        // The session's facts outlive the connection.
        if let Some(tls) = conn.transport.tls() {
            println!(
                "   the session was {} with {}, server name {}",
                tls.version,
                tls.cipher,
                tls.server_name.unwrap_or_default()
            );
        }
        server.close();
        Ok(())
    })
}
