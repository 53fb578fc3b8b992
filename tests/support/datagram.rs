//! A recording datagram protocol and helpers, for `tests/net_datagram.rs`
//! and `tests/net_datagram_interop.rs`.

use std::cell::RefCell;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::rc::Rc;

use switchboard::{
    Address, DatagramEndpoint, DatagramEvent, DatagramProtocol, DatagramTransport, EventLoop,
    NoMessage, ProtocolError,
};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rec {
    Made,
    Datagram(Vec<u8>, Address),
    Error(ErrorKind, Option<i32>),
    Pause,
    Resume,
    Lost(bool),
}

pub type Log = Rc<RefCell<Vec<Rec>>>;

/// Records every event; replies `resp:` + data to each datagram if `reply`.
pub struct Recorder {
    log: Log,
    reply: bool,
}

impl DatagramProtocol for Recorder {
    fn handle(
        &mut self,
        ev: DatagramEvent,
        t: &mut dyn DatagramTransport,
    ) -> Result<(), ProtocolError> {
        let rec = match ev {
            DatagramEvent::ConnectionMade => Rec::Made,
            DatagramEvent::DatagramReceived { data, addr } => {
                if self.reply {
                    let mut out = b"resp:".to_vec();
                    out.extend_from_slice(&data);
                    t.sendto(&out, Some(&addr))?;
                }
                Rec::Datagram(data.to_vec(), addr)
            }
            DatagramEvent::ErrorReceived(e) => Rec::Error(e.kind(), e.raw_os_error()),
            DatagramEvent::PauseWriting => Rec::Pause,
            DatagramEvent::ResumeWriting => Rec::Resume,
            DatagramEvent::ConnectionLost(r) => Rec::Lost(r.is_some()),
            _ => return Ok(()),
        };
        self.log.borrow_mut().push(rec);
        Ok(())
    }
}

pub fn recorder(reply: bool) -> (Recorder, Log) {
    let log: Log = Rc::default();
    (
        Recorder {
            log: log.clone(),
            reply,
        },
        log,
    )
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

pub fn datagrams(log: &Log) -> Vec<Vec<u8>> {
    log.borrow()
        .iter()
        .filter_map(|r| match r {
            Rec::Datagram(d, _) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

pub fn errors(log: &Log) -> Vec<(ErrorKind, Option<i32>)> {
    log.borrow()
        .iter()
        .filter_map(|r| match r {
            Rec::Error(k, n) => Some((*k, *n)),
            _ => None,
        })
        .collect()
}

pub async fn endpoint_at(
    lp: &EventLoop,
    local: SocketAddr,
    reply: bool,
) -> (DatagramEndpoint<NoMessage>, Log, SocketAddr) {
    let (p, log) = recorder(reply);
    let ep = lp
        .create_datagram_endpoint(move || p)
        .local_addr(local)
        .await
        .expect("bind udp");
    let at = ep
        .transport
        .sockname()
        .and_then(|a| a.as_inet())
        .expect("inet");
    (ep, log, at)
}

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
pub fn dead_port() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr")
}
