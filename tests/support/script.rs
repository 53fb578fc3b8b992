//! [`Script`]: a stream protocol that records every event into an
//! [`EventLog`] and then hands it to a closure, for tests that act on one
//! particular event (write on `ConnectionMade`, abort on a message, ...).

use switchboard::testing::{EventLog, Recorded};
use switchboard::Bytes;
use switchboard::{ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

/// The event a script reacts to (already recorded when the closure runs).
#[derive(Debug)]
pub enum On<M> {
    Made,
    Data(Bytes),
    Eof,
    Pause,
    Resume,
    Lost,
    Message(M),
}

type Step<M> = Box<dyn FnMut(On<M>, &mut dyn StreamTransport<M>) -> Result<(), ProtocolError>>;

/// Records every event, then runs the closure.
pub struct Script<M: 'static> {
    log: EventLog,
    step: Step<M>,
}

/// A [`Script`] recording into `log`.
pub fn script<M: 'static>(
    log: &EventLog,
    step: impl FnMut(On<M>, &mut dyn StreamTransport<M>) -> Result<(), ProtocolError> + 'static,
) -> Script<M> {
    Script {
        log: log.clone(),
        step: Box::new(step),
    }
}

impl<M: Send + 'static> StreamProtocol<M> for Script<M> {
    fn handle(
        &mut self,
        ev: StreamEvent<M>,
        t: &mut dyn StreamTransport<M>,
    ) -> Result<(), ProtocolError> {
        let on = match ev {
            StreamEvent::ConnectionMade => {
                self.log.push(Recorded::ConnectionMade);
                On::Made
            }
            StreamEvent::DataReceived(d) => {
                self.log.push(Recorded::Data(d.clone()));
                On::Data(d)
            }
            StreamEvent::EofReceived => {
                self.log.push(Recorded::Eof);
                On::Eof
            }
            StreamEvent::PauseWriting => {
                self.log.push(Recorded::PauseWriting);
                On::Pause
            }
            StreamEvent::ResumeWriting => {
                self.log.push(Recorded::ResumeWriting);
                On::Resume
            }
            StreamEvent::ConnectionLost(r) => {
                self.log.push(Recorded::Lost(r.map(|e| e.to_string())));
                On::Lost
            }
            StreamEvent::Message(m) => {
                self.log.push(Recorded::Message("message".into()));
                On::Message(m)
            }
            _ => return Ok(()),
        };
        (self.step)(on, t)
    }
}
