//! A stream protocol that logs every event it gets.

use std::fmt::Debug;

use super::event_log::{EventLog, Recorded};
use crate::error::ProtocolError;
use crate::stream::{StreamEvent, StreamProtocol, StreamTransport};

/// A [`StreamProtocol`] that pushes every event into an [`EventLog`] and,
/// if asked, reacts in a few common ways (asyncio's `MyProto` test helper).
///
/// It implements `StreamProtocol<M>` for every `M: Debug`; messages are
/// logged as `Recorded::Message(format!("{m:?}"))`.
///
/// ```
/// use switchboard::testing::{FakeConnection, Recorded, RecordingProtocol};
///
/// let protocol = RecordingProtocol::new().echo(true);
/// let log = protocol.log();
/// let mut conn = FakeConnection::new(protocol);
/// conn.connect()?;
/// conn.receive(b"ping")?;
/// conn.receive_eof()?;
/// assert_eq!(conn.transport().written(), b"ping");
/// assert_eq!(log.snapshot().last(), Some(&Recorded::Lost(None)));
/// log.check_grammar()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RecordingProtocol {
    log: EventLog,
    keep_open_on_eof: bool,
    echo: bool,
    close_on_data: bool,
}

impl RecordingProtocol {
    /// A protocol that only records, into a new log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A protocol that records into `log` (shared with other protocols).
    pub fn with_log(log: EventLog) -> Self {
        RecordingProtocol {
            log,
            ..Self::default()
        }
    }

    /// A handle on the log (clones share it).
    pub fn log(&self) -> EventLog {
        self.log.clone()
    }

    /// On `EofReceived`, call `keep_open()` (asyncio: return True).
    pub fn keep_open_on_eof(mut self, yes: bool) -> Self {
        self.keep_open_on_eof = yes;
        self
    }

    /// On `DataReceived`, write the data back.
    pub fn echo(mut self, yes: bool) -> Self {
        self.echo = yes;
        self
    }

    /// On `DataReceived`, close the transport (after echoing, if asked).
    pub fn close_on_data(mut self, yes: bool) -> Self {
        self.close_on_data = yes;
        self
    }
}

impl<M: Debug + 'static> StreamProtocol<M> for RecordingProtocol {
    fn handle(
        &mut self,
        event: StreamEvent<M>,
        transport: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::ConnectionMade => self.log.push(Recorded::ConnectionMade),
            StreamEvent::DataReceived(data) => {
                self.log.push(Recorded::Data(data.clone()));
                if self.echo {
                    transport.write_bytes(data)?;
                }
                if self.close_on_data {
                    transport.close();
                }
            }
            StreamEvent::EofReceived => {
                self.log.push(Recorded::Eof);
                if self.keep_open_on_eof {
                    transport.keep_open();
                }
            }
            StreamEvent::PauseWriting => self.log.push(Recorded::PauseWriting),
            StreamEvent::ResumeWriting => self.log.push(Recorded::ResumeWriting),
            StreamEvent::ConnectionLost(reason) => {
                self.log.push(Recorded::Lost(reason.map(|e| e.to_string())));
            }
            StreamEvent::Message(m) => self.log.push(Recorded::Message(format!("{m:?}"))),
            StreamEvent::TimerFired(token) => self.log.push(Recorded::TimerFired(token)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::testing::FakeTransport;
    use crate::TransportError;

    fn run(p: &mut RecordingProtocol, t: &mut FakeTransport, events: Vec<StreamEvent>) {
        for e in events {
            StreamProtocol::handle(p, e, t).expect("recording never fails");
        }
    }

    #[test]
    fn double_logs_every_event_in_order() {
        let mut p = RecordingProtocol::new();
        let mut t = FakeTransport::new();
        let data = Bytes::from_static(b"abc");
        run(
            &mut p,
            &mut t,
            vec![
                StreamEvent::ConnectionMade,
                StreamEvent::DataReceived(data.clone()),
                StreamEvent::PauseWriting,
                StreamEvent::ResumeWriting,
                StreamEvent::EofReceived,
                StreamEvent::ConnectionLost(Some(TransportError::ConnectionReset)),
            ],
        );
        assert_eq!(
            p.log().snapshot(),
            vec![
                Recorded::ConnectionMade,
                Recorded::Data(data),
                Recorded::PauseWriting,
                Recorded::ResumeWriting,
                Recorded::Eof,
                Recorded::Lost(Some("connection reset by peer".into())),
            ]
        );
        assert!(t.written().is_empty() && !t.closed() && !t.kept_open());
    }

    #[test]
    fn double_keep_open_on_eof_calls_keep_open() {
        let mut p = RecordingProtocol::new().keep_open_on_eof(true);
        let mut t = FakeTransport::new();
        run(&mut p, &mut t, vec![StreamEvent::EofReceived]);
        assert!(t.kept_open());
    }

    #[test]
    fn echo_and_close_on_data() {
        let mut p = RecordingProtocol::new().echo(true).close_on_data(true);
        let mut t = FakeTransport::new();
        run(
            &mut p,
            &mut t,
            vec![
                StreamEvent::DataReceived(Bytes::from_static(b"hi")),
                StreamEvent::DataReceived(Bytes::from_static(b"late")),
            ],
        );
        assert_eq!(t.written(), b"hi");
        assert!(t.closed() && !t.aborted());
    }

    #[test]
    fn messages_are_logged_by_debug() {
        let log = EventLog::new();
        let mut p = RecordingProtocol::with_log(log.clone());
        let mut t = FakeTransport::<u32>::default();
        StreamProtocol::<u32>::handle(&mut p, StreamEvent::Message(7), &mut t)
            .expect("recording never fails");
        assert_eq!(log.snapshot(), vec![Recorded::Message("7".into())]);
    }
}
