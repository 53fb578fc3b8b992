//! The read-pipe transport actor (asyncio's `_UnixReadPipeTransport`):
//! reads into events for its protocol, one at a time, never re-entrantly.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use switchboard_protocols::{
    Exception, ExceptionContext, PipeCommand, ReadPipeEvent, ReadPipeProtocol, ReadPipeTransport,
    TransportError,
};

use crate::context::{LoopActor, LoopContext, Readiness, Status};
use crate::pipe::info::PipeInfo;
use crate::pipe::reader::{PipeReader, ReadStep};
use crate::pipe::{ActorPhase as Phase, Finish, PipeHooks, ReadMore, Start};

/// Reads per readiness event before yielding to other actors.
const READ_BUDGET: usize = 16;

/// A read pipe and the protocol it feeds.
pub struct UnixReadPipe {
    reader: PipeReader,
    protocol: Box<dyn ReadPipeProtocol>,
    phase: Phase,
    lost: Option<TransportError>,
    info: Rc<PipeInfo>,
    hooks: PipeHooks,
}

impl std::fmt::Debug for UnixReadPipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl UnixReadPipe {
    /// Wraps `reader`, already registered under the actor's token.
    pub fn new(
        reader: PipeReader,
        protocol: Box<dyn ReadPipeProtocol>,
        hooks: PipeHooks,
    ) -> (Self, Rc<PipeInfo>) {
        let info = Rc::new(PipeInfo::new(reader.fileno().unwrap_or(-1)));
        let pipe = UnixReadPipe {
            reader,
            protocol,
            phase: Phase::Pending,
            lost: None,
            info: info.clone(),
            hooks,
        };
        (pipe, info)
    }

    fn call(&mut self, ev: ReadPipeEvent, cx: &mut dyn LoopContext) {
        if self.phase == Phase::Gone {
            return;
        }
        let callback = match &ev {
            ReadPipeEvent::ConnectionMade => "connection_made",
            ReadPipeEvent::DataReceived(_) => "data_received",
            ReadPipeEvent::EofReceived => "eof_received",
            _ => "connection_lost",
        };
        let (reader, protocol) = (&mut self.reader, &mut self.protocol);
        let exception = match catch_unwind(AssertUnwindSafe(|| protocol.handle(ev, reader))) {
            Ok(Ok(())) => return,
            Ok(Err(e)) => Exception::Error(e.to_string()),
            Err(p) if p.is::<switchboard_protocols::Interrupt>() => {
                cx.interrupt();
                return;
            }
            Err(p) => Exception::from_panic(&*p),
        };
        cx.report(
            ExceptionContext::new(format!("Fatal error: protocol.{callback}() call failed."))
                .with_exception(exception.clone())
                .with_transport(self.describe())
                .with_protocol(callback),
        );
        self.reader.die(Some(TransportError::ProtocolFailed {
            message: exception.to_string(),
        }));
    }

    /// Reads until the pipe is empty, EOF, an error, a pause, or the budget
    /// is spent. A short read means the pipe is empty unless it also hung
    /// up (then EOF is read at once).
    fn read_loop(&mut self, cx: &mut dyn LoopContext, short_read_drains: bool) {
        for _ in 0..READ_BUDGET {
            if self.phase != Phase::Open {
                return;
            }
            let step = {
                let buf = cx.read_buffer();
                buf.clear();
                self.reader.read_step(buf)
            };
            match step {
                ReadStep::Data(data, short) => {
                    self.call(ReadPipeEvent::DataReceived(data), cx);
                    if short && short_read_drains {
                        return;
                    }
                }
                ReadStep::Eof => {
                    self.call(ReadPipeEvent::EofReceived, cx);
                    self.reader.die(None);
                    return;
                }
                ReadStep::Failed(e) => {
                    cx.report(
                        ExceptionContext::new("Fatal read error on pipe transport")
                            .with_exception(Exception::Transport(e.clone()))
                            .with_transport(self.describe()),
                    );
                    self.reader.die(Some(e));
                    return;
                }
                ReadStep::Idle => return,
            }
        }
        let me = cx.id();
        cx.send(me, Box::new(ReadMore));
    }

    fn settle(&mut self, cx: &mut dyn LoopContext) -> Status {
        self.info.mark_reading(self.reader.is_reading());
        if std::mem::take(&mut self.reader.read_again) && self.phase == Phase::Open {
            let me = cx.id();
            cx.send(me, Box::new(ReadMore));
        }
        if let Some(reason) = self.reader.take_lost(cx.registry()) {
            self.info.set_closed();
            if self.phase == Phase::Open {
                self.phase = Phase::Ending;
                self.lost = reason;
                let me = cx.id();
                cx.send(me, Box::new(Finish));
            }
        }
        if self.phase == Phase::Gone {
            Status::Done
        } else {
            Status::Alive
        }
    }
}

impl LoopActor for UnixReadPipe {
    fn ready(&mut self, readiness: Readiness, cx: &mut dyn LoopContext) -> Status {
        self.read_loop(cx, !readiness.closed);
        self.settle(cx)
    }

    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        if msg.is::<Start>() {
            if self.phase == Phase::Pending {
                self.phase = Phase::Open;
                self.call(ReadPipeEvent::ConnectionMade, cx);
                if let Some(hook) = self.hooks.on_made.take() {
                    hook();
                }
                self.read_loop(cx, false);
            }
        } else if msg.is::<ReadMore>() {
            self.read_loop(cx, false);
        } else if msg.is::<Finish>() {
            if self.phase == Phase::Ending {
                let reason = self.lost.take();
                self.call(ReadPipeEvent::ConnectionLost(reason), cx);
                self.phase = Phase::Gone;
                self.info.set_lost();
            }
        } else if let Ok(cmd) = msg.downcast::<PipeCommand>() {
            self.reader.command(*cmd);
        }
        self.settle(cx)
    }

    fn shutdown(&mut self, cx: &mut dyn LoopContext) {
        self.reader.die(None);
        let _ = self.reader.take_lost(cx.registry());
        self.phase = Phase::Gone;
        self.info.set_lost();
    }

    fn describe(&self) -> String {
        format!("<UnixReadPipe fd={} {:?}>", self.info.fd, self.phase)
    }

    fn inspect(&self, info: &mut crate::inspect::ActorInfo) {
        info.kind = crate::inspect::ActorKind::Pipe;
        info.state = crate::pipe::phase_word(&self.phase).into();
        info.transport = Some(self.reader.inspect());
    }
}
