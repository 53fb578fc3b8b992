//! A stream protocol that records every event into an `EventLog` and then
//! runs a script of the test's, for `tests/transport_flow_control.rs`.

use switchboard::testing::{EventLog, Recorded};
use switchboard::{ProtocolError, StreamEvent, StreamProtocol, StreamTransport};

/// Which event a script is reacting to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Made,
    Data,
    Eof,
    Pause,
    Resume,
    Lost,
}

pub type Step =
    Box<dyn FnMut(Kind, &mut dyn StreamTransport, &EventLog) -> Result<(), ProtocolError>>;

/// Records every event, then runs the script.
pub struct Scripted {
    log: EventLog,
    step: Step,
}

pub fn scripted(
    log: &EventLog,
    step: impl FnMut(Kind, &mut dyn StreamTransport, &EventLog) -> Result<(), ProtocolError> + 'static,
) -> Scripted {
    Scripted {
        log: log.clone(),
        step: Box::new(step),
    }
}

impl StreamProtocol for Scripted {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        let kind = match ev {
            StreamEvent::ConnectionMade => {
                self.log.push(Recorded::ConnectionMade);
                Kind::Made
            }
            StreamEvent::DataReceived(d) => {
                self.log.push(Recorded::Data(d));
                Kind::Data
            }
            StreamEvent::EofReceived => {
                self.log.push(Recorded::Eof);
                Kind::Eof
            }
            StreamEvent::PauseWriting => {
                self.log.push(Recorded::PauseWriting);
                Kind::Pause
            }
            StreamEvent::ResumeWriting => {
                self.log.push(Recorded::ResumeWriting);
                Kind::Resume
            }
            StreamEvent::ConnectionLost(r) => {
                self.log.push(Recorded::Lost(r.map(|e| e.to_string())));
                Kind::Lost
            }
            _ => return Ok(()),
        };
        (self.step)(kind, t, &self.log)
    }
}
