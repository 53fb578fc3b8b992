//! The protocol under a socket stream: feeds its reader, tracks its writer.

use std::rc::Rc;

use switchboard_actors::stream::StreamInfo;
use switchboard_protocols::{
    Exception, ExceptionContext, NoMessage, ProtocolError, StreamEvent, StreamProtocol,
    StreamTransport,
};

use crate::event_loop::EventLoop;
use crate::streams::reader::{ReadControl, StreamReader};
use crate::streams::state::StreamState;
use crate::streams::writer::{Sink, StreamWriter};
use crate::task::LocalBoxFuture;
use crate::TransportHandle;

/// A server's connection callback, its future's error made an [`Error`](crate::Error).
pub(crate) type Callback = Rc<
    dyn Fn(
        StreamReader,
        StreamWriter,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::Result<()>>>>,
>;

/// Asyncio's `StreamReaderProtocol`: what arrives goes to the stream's
/// state; a server connection starts its callback as a task once made.
pub(crate) struct Feeder {
    pub(crate) state: Rc<StreamState>,
    /// For a server connection: the loop and the callback to start.
    pub(crate) serve: Option<(EventLoop, Callback)>,
}

impl StreamProtocol<NoMessage> for Feeder {
    fn handle(
        &mut self,
        event: StreamEvent<NoMessage>,
        t: &mut dyn StreamTransport<NoMessage>,
    ) -> Result<(), ProtocolError> {
        match event {
            StreamEvent::DataReceived(data) if self.state.feed(&data) => t.pause_reading(),
            StreamEvent::ConnectionMade => {
                self.state.high.set(t.get_write_buffer_limits().high);
                if let Some((lp, cb)) = self.serve.take() {
                    start_callback(&lp, &cb, self.state.clone(), t);
                }
            }
            StreamEvent::EofReceived => {
                self.state.feed_eof();
                // The writer may go on after the peer's EOF (asyncio keeps
                // a plain transport open too); TLS cannot half-close.
                if t.can_write_eof() {
                    t.keep_open();
                }
            }
            StreamEvent::ConnectionLost(error) => self.state.lost(error),
            _ => {}
        }
        Ok(())
    }
}

/// Makes the connection's reader and writer and runs `cb` on them as a task;
/// an `Err` from it is reported to the exception handler and closes this
/// connection only.
fn start_callback(
    lp: &EventLoop,
    cb: &Callback,
    state: Rc<StreamState>,
    t: &mut dyn StreamTransport<NoMessage>,
) {
    let Some((id, info)) = t.share_facts() else {
        t.abort();
        return;
    };
    let Ok(info) = info.downcast::<StreamInfo>() else {
        t.abort();
        return;
    };
    let Some(gen) = crate::routing::generation(&lp.core, id) else {
        t.abort();
        return;
    };
    let handle = TransportHandle {
        lp: lp.clone(),
        id,
        gen,
        info,
    };
    let reader = StreamReader::new(state.clone(), ReadControl::Socket(handle.clone()));
    let writer = StreamWriter::new(state, Sink::Socket(handle.clone()));
    let fut = cb(reader, writer);
    let report = lp.clone();
    let task: LocalBoxFuture = Box::pin(async move {
        if let Err(e) = fut.await {
            report.call_exception_handler(
                ExceptionContext::new("a stream server's connection callback failed")
                    .with_exception(Exception::Error(e.to_string()))
                    .with_transport(format!("{handle:?}")),
            );
            handle.close();
        }
    });
    if lp.create_task(task).is_err() {
        t.abort();
    }
}
