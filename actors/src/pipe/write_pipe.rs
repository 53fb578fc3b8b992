//! The write-pipe transport actor (asyncio's `_UnixWritePipeTransport`):
//! flushes its buffer as the reader takes it and tells its protocol about
//! watermarks and the loss.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use switchboard_protocols::{
    Exception, ExceptionContext, PipeCommand, TransportError, WritePipeEvent, WritePipeProtocol,
    WritePipeTransport,
};

use crate::context::{LoopActor, LoopContext, Readiness, Status};
use crate::flow::FlowSignal;
use crate::pipe::info::PipeInfo;
use crate::pipe::writer::PipeWriter;
use crate::pipe::{ActorPhase as Phase, Finish, PipeHooks, Start};

/// A write pipe and the protocol it tells about flow and loss.
pub struct UnixWritePipe {
    writer: PipeWriter,
    protocol: Box<dyn WritePipeProtocol>,
    phase: Phase,
    lost: Option<TransportError>,
    info: Rc<PipeInfo>,
    hooks: PipeHooks,
}

impl std::fmt::Debug for UnixWritePipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl UnixWritePipe {
    /// Wraps `writer`, already registered under the actor's token.
    pub fn new(
        writer: PipeWriter,
        protocol: Box<dyn WritePipeProtocol>,
        hooks: PipeHooks,
    ) -> (Self, Rc<PipeInfo>) {
        let info = Rc::new(PipeInfo::new(writer.fileno().unwrap_or(-1)));
        let pipe = UnixWritePipe {
            writer,
            protocol,
            phase: Phase::Pending,
            lost: None,
            info: info.clone(),
            hooks,
        };
        (pipe, info)
    }

    /// Delivers `ev`, then the watermark events it raised, in order.
    fn deliver_event(&mut self, ev: WritePipeEvent, cx: &mut dyn LoopContext) {
        self.call(ev, cx);
        while let Some(sig) = self.writer.take_raised() {
            let ev = match sig {
                FlowSignal::Pause => WritePipeEvent::PauseWriting,
                FlowSignal::Resume => WritePipeEvent::ResumeWriting,
            };
            self.call(ev, cx);
        }
    }

    fn call(&mut self, ev: WritePipeEvent, cx: &mut dyn LoopContext) {
        if self.phase == Phase::Gone {
            return;
        }
        let callback = match &ev {
            WritePipeEvent::ConnectionMade => "connection_made",
            WritePipeEvent::PauseWriting => "pause_writing",
            WritePipeEvent::ResumeWriting => "resume_writing",
            _ => "connection_lost",
        };
        let (writer, protocol) = (&mut self.writer, &mut self.protocol);
        let exception = match catch_unwind(AssertUnwindSafe(|| protocol.handle(ev, writer))) {
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
        self.writer.die(Some(TransportError::ProtocolFailed {
            message: exception.to_string(),
        }));
    }

    fn settle(&mut self, cx: &mut dyn LoopContext) -> Status {
        // Raised by a command from a handle (no handler was running).
        while let Some(sig) = self.writer.take_raised() {
            let ev = match sig {
                FlowSignal::Pause => WritePipeEvent::PauseWriting,
                FlowSignal::Resume => WritePipeEvent::ResumeWriting,
            };
            self.deliver_event(ev, cx);
        }
        self.info.set_buffered(self.writer.get_write_buffer_size());
        if self.writer.is_closing() {
            self.info.mark_closing();
        }
        if let Some(reason) = self.writer.take_lost(cx.registry()) {
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

impl LoopActor for UnixWritePipe {
    fn ready(&mut self, readiness: Readiness, cx: &mut dyn LoopContext) -> Status {
        self.writer.on_ready(readiness.closed);
        self.settle(cx)
    }

    fn deliver(&mut self, msg: Box<dyn Any>, cx: &mut dyn LoopContext) -> Status {
        if msg.is::<Start>() {
            if self.phase == Phase::Pending {
                self.phase = Phase::Open;
                self.deliver_event(WritePipeEvent::ConnectionMade, cx);
                if let Some(hook) = self.hooks.on_made.take() {
                    hook();
                }
            }
        } else if msg.is::<Finish>() {
            if self.phase == Phase::Ending {
                let reason = self.lost.take();
                self.call(WritePipeEvent::ConnectionLost(reason), cx);
                self.phase = Phase::Gone;
                self.info.set_lost();
            }
        } else if let Ok(cmd) = msg.downcast::<PipeCommand>() {
            if let PipeCommand::Write(b) = &*cmd {
                self.info.take_pending(b.len());
            }
            if let Err(refused) = self.writer.command(*cmd) {
                cx.report(
                    ExceptionContext::new(format!("pipe command refused: {refused}"))
                        .with_transport(self.describe()),
                );
            }
        }
        self.settle(cx)
    }

    fn shutdown(&mut self, cx: &mut dyn LoopContext) {
        self.writer.die(None);
        let _ = self.writer.take_lost(cx.registry());
        self.phase = Phase::Gone;
        self.info.set_lost();
    }

    fn describe(&self) -> String {
        format!("<UnixWritePipe fd={} {:?}>", self.info.fd, self.phase)
    }

    fn inspect(&self, info: &mut crate::inspect::ActorInfo) {
        info.kind = crate::inspect::ActorKind::Pipe;
        info.state = crate::pipe::phase_word(&self.phase).into();
        info.transport = Some(self.writer.inspect());
    }
}
