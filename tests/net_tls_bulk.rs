//! TLS under load: 64 MiB through TLS with flow control on both sides,
//! into a buffered protocol, arriving intact.
//!
//! Certificates are made fresh by rcgen (`support::tls`).

mod support;

use switchboard::{NoMessage, ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

use support::net::until;
use support::tls::tls_connect;
use support::{new_loop, run_with_deadline};

/// Sends `total` bytes of a known pattern as fast as flow control lets it,
/// then closes.
struct Producer {
    sent: usize,
    total: usize,
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

impl Producer {
    fn produce(&mut self, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
        while self.sent < self.total && !t.is_writing_paused() {
            let n = (self.total - self.sent).min(256 * 1024);
            let chunk: Vec<u8> = (self.sent..self.sent + n).map(pattern).collect();
            t.write(&chunk)?;
            self.sent += n;
        }
        if self.sent == self.total {
            t.close();
        }
        Ok(())
    }
}

impl StreamProtocol for Producer {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade | StreamEvent::ResumeWriting => self.produce(t),
            _ => Ok(()),
        }
    }
}

/// A buffered protocol that checksums what it receives.
struct Checksum {
    buf: Vec<u8>,
    state: std::rc::Rc<std::cell::Cell<(usize, u64, bool)>>,
}

fn mix(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

impl switchboard::BufferedProtocol for Checksum {
    fn get_buffer(&mut self, _hint: isize) -> &mut [u8] {
        &mut self.buf
    }
    fn handle(
        &mut self,
        ev: switchboard::BufferedEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        let (n, h, done) = self.state.get();
        match ev {
            switchboard::BufferedEvent::BufferUpdated(k) => {
                self.state.set((n + k, mix(h, &self.buf[..k]), done));
            }
            switchboard::BufferedEvent::ConnectionLost(None) => self.state.set((n, h, true)),
            switchboard::BufferedEvent::ConnectionLost(Some(e)) => {
                panic!("lost with an error: {e}")
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn tls_64_mib_with_flow_control_into_a_buffered_protocol_arrive_intact() {
    const TOTAL: usize = 64 * 1024 * 1024;
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let state = std::rc::Rc::new(std::cell::Cell::new((
            0usize,
            0xcbf2_9ce4_8422_2325u64,
            false,
        )));
        let st = state.clone();
        let server = l
            .create_buffered_server(move || Checksum {
                buf: vec![0; 16 * 1024],
                state: st.clone(),
            })
            .host("127.0.0.1")
            .port(0)
            .ssl(support::tls::server_config())
            .await
            .expect("bind");
        let port = server.sockets()[0].port();
        let conn = tls_connect::<_, NoMessage>(&l, port, || Producer {
            sent: 0,
            total: TOTAL,
        })
        .await;
        until(&l, || state.get().2).await;
        let expected = (0..TOTAL).fold(0xcbf2_9ce4_8422_2325u64, |h, i| {
            (h ^ u64::from(pattern(i))).wrapping_mul(0x100_0000_01b3)
        });
        let (n, h, _) = state.get();
        assert_eq!(n, TOTAL);
        assert_eq!(h, expected);
        assert!(conn.transport.is_closing());
        server.close();
    });
}
