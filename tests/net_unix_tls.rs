//! TLS over Unix-domain stream sockets: `create_unix_server(..).ssl(..)` and
//! `create_unix_connection(..).ssl(..)` run the same protocols as TCP.
//!
//! See <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_unix_connection>.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use switchboard::prelude::*;
use switchboard::ready_made::Echo;
use switchboard::NetError;

use support::net::until;
use support::run_with_deadline;

/// Sends a greeting once connected and collects the echo.
struct Greeter(Rc<RefCell<Vec<u8>>>);

impl StreamProtocol for Greeter {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => t.write(b"hello over a unix socket, in tls")?,
            StreamEvent::DataReceived(data) => self.0.borrow_mut().extend_from_slice(&data),
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn unix_tls_echo_round_trip_with_the_session_facts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tls.sock");
    let got = Rc::new(RefCell::new(Vec::new()));
    let (lp, _z4) = support::new_loop();
    let (g, l) = (got.clone(), lp.clone());
    run_with_deadline(&lp, async move {
        let server = l
            .create_unix_server(|| Echo)
            .path(&path)
            .ssl(support::tls::server_config())
            .await
            .expect("tls unix server");
        let sink = g.clone();
        let conn = l
            .create_unix_connection(move || Greeter(sink))
            .path(&path)
            .ssl(support::tls::client_config())
            .server_hostname("localhost")
            .await
            .expect("tls unix connection");
        let info = conn.transport.tls().expect("the handshake is done");
        assert_eq!(info.version, switchboard::TlsVersion::Tls13);
        let want = b"hello over a unix socket, in tls".len();
        until(&l, || g.borrow().len() >= want).await;
        conn.transport.close();
        server.close();
    });
    assert_eq!(&got.borrow()[..], b"hello over a unix socket, in tls");
}

#[test]
fn unix_tls_needs_a_server_hostname_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tls.sock");
    let (lp, h) = support::new_loop();
    let l = lp.clone();
    let seen = h.watch();
    run_with_deadline(&lp, async move {
        let server = l
            .create_unix_server(|| Echo)
            .path(&path)
            .ssl(support::tls::server_config())
            .await
            .expect("tls unix server");
        let nameless = l
            .create_unix_connection(|| Echo)
            .path(&path)
            .ssl(support::tls::client_config())
            .await;
        assert!(
            matches!(nameless, Err(NetError::InvalidArgs(_))),
            "{nameless:?}"
        );
        let wrong = l
            .create_unix_connection(|| Echo)
            .path(&path)
            .ssl(support::tls::client_config())
            .server_hostname("not-the-server.example")
            .await;
        assert!(wrong.is_err(), "a wrong name is refused: {wrong:?}");
        // The server reports the handshake the client gave up on.
        support::net::until(&l, || !seen.borrow().is_empty()).await;
        server.close();
    });
    let ctx = h.take_one();
    assert_eq!(ctx.message, "SSL handshake failed");
}
