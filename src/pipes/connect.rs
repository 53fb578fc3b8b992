//! `connect_read_pipe` and `connect_write_pipe`.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;

use switchboard_actors::pipe::{
    self, PipeHooks, PipeInfo, PipeReader, PipeWriter, Start, UnixReadPipe, UnixWritePipe,
};
use switchboard_actors::LoopActor;
use switchboard_protocols::{
    ReadPipeProtocol, ReadPipeTransport, WritePipeProtocol, WritePipeTransport,
};

use crate::event_loop::{EventLoop, FIRST_ACTOR_TOKEN};
use crate::pipes::error::PipeError;
use crate::pipes::handle::{PipeHandle, Route};
use crate::routing;

impl EventLoop {
    /// Registers the read end of a pipe (a pipe, a FIFO, a socket or a
    /// character device; set to non-blocking mode) and feeds what arrives to
    /// the protocol `factory` makes (asyncio's `loop.connect_read_pipe`).
    /// Resolves once the protocol got `ReadPipeEvent::ConnectionMade`; the
    /// handle closes or pauses the pipe from outside.
    ///
    /// ```
    /// use std::io::Write;
    /// use switchboard::prelude::*;
    /// use switchboard::{ReadPipeEvent, ReadPipeProtocol, ReadPipeTransport};
    ///
    /// struct Print;
    /// impl ReadPipeProtocol for Print {
    ///     fn handle(&mut self, ev: ReadPipeEvent, _t: &mut dyn ReadPipeTransport) -> Result<(), ProtocolError> {
    ///         if let ReadPipeEvent::DataReceived(data) = ev {
    ///             print!("{}", String::from_utf8_lossy(&data));
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// switchboard::run(|lp| async move {
    ///     // Any pipe-like descriptor: a pipe, a FIFO, a socket, a terminal.
    ///     let (reader, mut writer) = std::os::unix::net::UnixStream::pair()?;
    ///     let pipe = lp.connect_read_pipe(|| Print, reader).await?;
    ///     writer.write_all(b"hello\n")?;
    ///     drop(writer); // EOF: the transport closes itself
    ///     while !pipe.is_lost() {
    ///         switchboard::sleep(0.001).await;
    ///     }
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub async fn connect_read_pipe<P: ReadPipeProtocol>(
        &self,
        factory: impl FnOnce() -> P,
        pipe: impl Into<OwnedFd>,
    ) -> Result<PipeHandle, PipeError> {
        let fd = pipe.into();
        prepare(&fd)?;
        let reader = PipeReader::new(fd);
        let protocol = Box::new(factory());
        let fd = reader.fileno().unwrap_or(-1);
        self.start_pipe(fd, move |registry, token, hooks| {
            reader.register(registry, token)?;
            let (actor, info) = UnixReadPipe::new(reader, protocol, hooks);
            Ok((Box::new(actor) as Box<dyn LoopActor>, info))
        })
        .await
    }

    /// Registers the write end of a pipe (set to non-blocking mode) for the
    /// protocol `factory` makes (asyncio's `loop.connect_write_pipe`); write
    /// through the protocol's transport or the returned handle. A reader
    /// that goes away is `ConnectionLost(None)` with nothing buffered and
    /// `ConnectionLost(Some(BrokenPipe))` with bytes buffered; the process
    /// never gets a SIGPIPE from it (P3, fault 2). The write buffer has the
    /// watermarks of a socket and, beyond asyncio, the same default hard cap
    /// ([`DEFAULT_MAX_WRITE_BUFFER`](crate::DEFAULT_MAX_WRITE_BUFFER)): a
    /// reader that never reads ends the pipe with
    /// `ConnectionLost(Some(BufferOverflow))` rather than grow the process.
    ///
    /// ```
    /// use std::io::Read;
    /// use switchboard::prelude::*;
    /// use switchboard::{WritePipeEvent, WritePipeProtocol, WritePipeTransport};
    ///
    /// struct Greet;
    /// impl WritePipeProtocol for Greet {
    ///     fn handle(&mut self, ev: WritePipeEvent, t: &mut dyn WritePipeTransport) -> Result<(), ProtocolError> {
    ///         if let WritePipeEvent::ConnectionMade = ev {
    ///             t.write(b"hello")?;
    ///             t.close(); // flushes, then closes
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let got = switchboard::run(|lp| async move {
    ///     let (mut reader, writer) = std::os::unix::net::UnixStream::pair()?;
    ///     let pipe = lp.connect_write_pipe(|| Greet, writer).await?;
    ///     while !pipe.is_lost() {
    ///         switchboard::sleep(0.001).await;
    ///     }
    ///     let mut got = String::new();
    ///     reader.read_to_string(&mut got)?;
    ///     Ok::<_, switchboard::Error>(got)
    /// })?;
    /// assert_eq!(got, "hello");
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub async fn connect_write_pipe<P: WritePipeProtocol>(
        &self,
        factory: impl FnOnce() -> P,
        pipe: impl Into<OwnedFd>,
    ) -> Result<PipeHandle, PipeError> {
        let fd = pipe.into();
        let socket = prepare(&fd)?;
        pipe::guard_sigpipe();
        let writer = PipeWriter::new(fd, socket);
        let protocol = Box::new(factory());
        let fd = writer.fileno().unwrap_or(-1);
        self.start_pipe(fd, move |registry, token, hooks| {
            writer.register(registry, token)?;
            let (actor, info) = UnixWritePipe::new(writer, protocol, hooks);
            Ok((Box::new(actor) as Box<dyn LoopActor>, info))
        })
        .await
    }

    /// Registers a pipe under a new actor, starts the actor and waits until
    /// its `ConnectionMade` was delivered.
    async fn start_pipe(
        &self,
        fd: RawFd,
        make: impl FnOnce(
            &mio::Registry,
            mio::Token,
            PipeHooks,
        ) -> std::io::Result<(Box<dyn LoopActor>, Rc<PipeInfo>)>,
    ) -> Result<PipeHandle, PipeError> {
        let core = &self.core;
        core.check_open()?;
        let (id, gen) = routing::reserve_gen(core);
        let token = mio::Token(id.index() + FIRST_ACTOR_TOKEN);
        let made = self.create_future::<()>();
        let resolve = made.clone();
        let hooks = PipeHooks {
            on_made: Some(Box::new(move || {
                let _ = resolve.set_result(());
            })),
        };
        let (actor, info) = match make(&core.registry, token, hooks) {
            Ok(made) => made,
            Err(source) => {
                routing::release(core, id);
                return Err(PipeError::Os {
                    op: "register",
                    fd,
                    source,
                });
            }
        };
        routing::insert(core, id, actor);
        routing::deliver(core, id, gen, Box::new(Start));
        made.await
            .map_err(|_| PipeError::Loop(crate::LoopError::Closed))?;
        Ok(PipeHandle {
            lp: self.clone(),
            id,
            gen,
            route: Route::Own,
            info,
        })
    }
}

/// Checks the descriptor is pipe-like and makes it non-blocking; tells
/// whether it is a socket.
fn prepare(fd: &OwnedFd) -> Result<bool, PipeError> {
    let raw = fd.as_raw_fd();
    pipe::adopt(fd).map_err(|source| {
        if source.kind() == std::io::ErrorKind::InvalidInput {
            PipeError::NotAPipe { fd: raw }
        } else {
            PipeError::Os {
                op: "prepare",
                fd: raw,
                source,
            }
        }
    })
}
