//! `loop.sendfile` over a TLS transport: the file's bytes must be encrypted,
//! so the native `sendfile(2)` never runs; with the fallback the file arrives
//! intact through TLS, without it the call is refused.
//!
//! See <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.sendfile>.

mod support;

use std::cell::RefCell;
use std::io::{Seek, Write};
use std::rc::Rc;

use switchboard::prelude::*;
use switchboard::SendfileError;

use support::net::until;
use support::run_with_deadline;

/// Collects what it receives.
struct Sink(Rc<RefCell<Vec<u8>>>);

impl StreamProtocol for Sink {
    fn handle(
        &mut self,
        ev: StreamEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::DataReceived(data) = ev {
            self.0.borrow_mut().extend_from_slice(&data);
        }
        Ok(())
    }
}

/// Sends nothing itself.
struct Quiet;

impl StreamProtocol for Quiet {
    fn handle(
        &mut self,
        _ev: StreamEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        Ok(())
    }
}

fn file_with(data: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().expect("temp file");
    f.write_all(data).expect("write");
    f.rewind().expect("rewind");
    f
}

#[test]
fn f1_sendfile_over_tls_falls_back_and_arrives_intact_or_is_refused_without_fallback() {
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let got = Rc::new(RefCell::new(Vec::new()));
    let (lp, _z4) = support::new_loop();
    let (g, l, expected) = (got.clone(), lp.clone(), data.clone());
    run_with_deadline(&lp, async move {
        let sink = g.clone();
        let server = l
            .create_server(move || Sink(sink.clone()))
            .host("127.0.0.1")
            .port(0)
            .ssl(support::tls::server_config())
            .await
            .expect("server");
        let conn = l
            .create_connection(|| Quiet)
            .addr(server.sockets()[0])
            .ssl(support::tls::client_config())
            .server_hostname("localhost")
            .await
            .expect("tls connection");

        // Without the fallback: refused, nothing sent, the position kept.
        let mut file = file_with(&expected);
        let refused = l.sendfile(&conn.transport, &mut file).fallback(false).await;
        assert!(
            matches!(refused, Err(SendfileError::NotAvailable { .. })),
            "{refused:?}"
        );
        assert_eq!(file.stream_position().expect("pos"), 0);

        // With it: every byte, through TLS, in order.
        let sent = l
            .sendfile(&conn.transport, &mut file)
            .await
            .expect("sendfile");
        assert_eq!(sent, expected.len() as u64);
        assert_eq!(file.stream_position().expect("pos"), expected.len() as u64);
        let want = expected.len();
        until(&l, || g.borrow().len() >= want).await;
        conn.transport.close();
        server.close();
    });
    assert_eq!(got.borrow().len(), data.len());
    assert!(*got.borrow() == data, "the file arrived intact through TLS");
}
