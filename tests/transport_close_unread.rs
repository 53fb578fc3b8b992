//! `close()` with input the protocol never read: the answer written before
//! the close still reaches the peer whole (no reset destroys it).
//!
//! Ids refer to docs/behavior.md (G6).

mod support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard::prelude::*;

use support::net::until;
use support::{new_loop, run_with_deadline};

/// A long answer: most of it is still in the server's kernel buffers when
/// the socket closes, because the client's receive buffer is small.
fn answer() -> Vec<u8> {
    let mut a = vec![b'E'; 64 * 1024];
    a.push(b'\n');
    a
}

/// Stops reading at the first bytes; answers and closes when told, with
/// whatever the peer sent since still unread.
struct RefuseWhenTold {
    me: Rc<RefCell<Option<Addr<()>>>>,
}

impl StreamProtocol<()> for RefuseWhenTold {
    fn handle(
        &mut self,
        ev: StreamEvent<()>,
        t: &mut dyn StreamTransport<()>,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::DataReceived(_) => {
                t.pause_reading();
                *self.me.borrow_mut() = t.addr();
            }
            StreamEvent::Message(()) => {
                t.write(&answer())?;
                t.close();
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn g6_the_answer_written_before_a_close_survives_unread_input() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let me: Rc<RefCell<Option<Addr<()>>>> = Rc::default();
        let m = me.clone();
        let server = l
            .create_server(move || RefuseWhenTold { me: m.clone() })
            .host("127.0.0.1")
            .port(0)
            .await
            .unwrap();
        let port = server.sockets()[0].port();
        let sent = Arc::new(AtomicBool::new(false));
        let s2 = sent.clone();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let client = std::thread::spawn(move || {
            // A small receive buffer: the answer cannot all be on its way to
            // us when the server closes.
            let sock =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            sock.set_recv_buffer_size(4096).unwrap();
            let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
            sock.connect(&addr.into()).unwrap();
            let mut s: TcpStream = sock.into();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s.write_all(b"hello\n").unwrap();
            // Once the server has stopped reading: more it will never read.
            go_rx.recv().unwrap();
            s.write_all(&[b'x'; 16 * 1024]).unwrap();
            s2.store(true, Ordering::SeqCst);
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => panic!("reset after {} bytes of the answer: {e}", got.len()),
                }
            }
            got
        });
        until(&l, || me.borrow().is_some()).await;
        go_tx.send(()).unwrap();
        until(&l, || sent.load(Ordering::SeqCst)).await;
        let addr = me.borrow().clone().unwrap();
        addr.send(()).unwrap();
        until(&l, || client.is_finished()).await;
        let got = client.join().expect("no reset");
        assert!(got == answer(), "{} of {} bytes", got.len(), answer().len());
        until(&l, || server.connection_count() == 0).await;
        server.close();
    });
    assert!(h.take().is_empty());
}
