//! # switchboard
//!
//! Python asyncio's low-level API for Rust, built as actors: an event loop with
//! callbacks and timers, futures and tasks, an executor, and transports and
//! protocols whose callbacks are typed messages.
//!
//! This crate is the top of the workspace and the one users depend on; every
//! item a program needs is here (most of them in [`prelude`]):
//!
//! ```text
//!   switchboard-protocols  <-  switchboard-actors  <-  switchboard (this crate)
//!
//!   other threads ──LoopHandle──► inbox ─┐
//!   mio::Poll ──readiness──► actors ─────┼─► ready queue ─► callbacks, tasks,
//!   timer wheel ─due─────────────────────┘                  actor messages
//! ```
//!
//! ```
//! use switchboard::prelude::*;
//!
//! switchboard::run(|lp: EventLoop| async move {
//!     lp.call_soon(|| println!("Hello World"))?;
//!     switchboard::sleep(0.01).await;
//!     let out = lp.create_task(async { 1 + 1 })?.await;
//!     assert_eq!(out, 2);
//!     Ok::<(), switchboard::Error>(())
//! })?;
//! # Ok::<(), switchboard::Error>(())
//! ```
//!
//! ## asyncio → switchboard
//!
//! The names are asyncio's; `lp` is an [`EventLoop`].
//!
//! | asyncio | switchboard |
//! | --- | --- |
//! | `asyncio.run(main())` | [`run`]`(\|lp\| async move { .. })` |
//! | `asyncio.sleep`, `wait_for`, `gather` | [`sleep`], [`wait_for`], [`gather`] |
//! | `get_running_loop`, `get_event_loop`, `set_event_loop`, `new_event_loop` | [`get_running_loop`], [`get_event_loop`], [`set_event_loop`], [`new_event_loop`] |
//! | `loop.run_until_complete`, `run_forever`, `stop`, `close` | [`EventLoop::run_until_complete`], [`EventLoop::run_forever`], [`EventLoop::stop`], [`EventLoop::close`] |
//! | `loop.call_soon`, `call_later`, `call_at`, `time` | [`EventLoop::call_soon`], [`EventLoop::call_later`], [`EventLoop::call_at`], [`EventLoop::time`] |
//! | `loop.call_soon_threadsafe` | [`LoopHandle::call_soon_threadsafe`] (a `Send` handle from [`EventLoop::handle`]) |
//! | `Handle`, `TimerHandle` | [`Handle`], [`TimerHandle`] |
//! | `loop.create_future`, `create_task`, `Task` | [`EventLoop::create_future`] ([`LoopFuture`]), [`EventLoop::create_task`] ([`Task`]) |
//! | `loop.run_in_executor`, `ThreadPoolExecutor` | [`EventLoop::run_in_executor`], [`ThreadPool`] |
//! | `loop.create_connection`, `create_server`, `Server` | [`EventLoop::create_connection`], [`EventLoop::create_server`], [`Server`] |
//! | `loop.create_datagram_endpoint`, `DatagramProtocol`, `DatagramTransport` | [`EventLoop::create_datagram_endpoint`], [`DatagramProtocol`] with [`DatagramEvent`]s, [`DatagramTransport`] / [`DatagramHandle`] |
//! | `loop.create_unix_connection`, `create_unix_server` | [`EventLoop::create_unix_connection`], [`EventLoop::create_unix_server`] |
//! | `Protocol` (`connection_made`, `data_received`, …) | [`StreamProtocol`] with one `handle` for [`StreamEvent`]s |
//! | `BufferedProtocol` | [`BufferedProtocol`] with [`BufferedEvent`]s |
//! | `Transport` (inside the protocol / outside) | [`StreamTransport`] / [`TransportHandle`] |
//! | `transport.get_extra_info('socket')` | [`StreamTransport::socket`] ([`SocketRef`]) |
//! | `loop.connect_read_pipe`, `connect_write_pipe` | [`EventLoop::connect_read_pipe`], [`EventLoop::connect_write_pipe`] ([`ReadPipeProtocol`], [`WritePipeProtocol`], [`PipeHandle`]) |
//! | `loop.subprocess_exec`, `subprocess_shell` | [`EventLoop::subprocess_exec`], [`EventLoop::subprocess_shell`] ([`SpawnSubprocess`], [`Stdio`]) |
//! | `SubprocessProtocol`, `SubprocessTransport` | [`SubprocessProtocol`] with [`SubprocessEvent`]s, [`SubprocessTransport`] / [`SubprocessHandle`] |
//! | `loop.sock_recv`, `sock_sendall`, `sock_connect`, `sock_accept`, … | [`EventLoop::sock_recv`], [`EventLoop::sock_sendall`], [`EventLoop::sock_connect`], [`EventLoop::sock_accept`], … ([`SockError`]) |
//! | `loop.sendfile`, `sock_sendfile` | [`EventLoop::sendfile`], [`EventLoop::sock_sendfile`] ([`SendfileError`]) |
//! | `loop.getaddrinfo`, `getnameinfo` | [`EventLoop::getaddrinfo`] ([`AddrInfoFlags`], [`SockType`], [`AddrInfo`]), [`EventLoop::getnameinfo`] ([`NameInfoFlags`]) |
//! | `loop.add_reader`, `remove_reader`, `add_writer`, `remove_writer` | [`EventLoop::add_reader`], [`EventLoop::remove_reader`], [`EventLoop::add_writer`], [`EventLoop::remove_writer`] |
//! | `ssl=`, `server_hostname=`, `ssl_handshake_timeout=` | [`CreateConnection::ssl`] ([`TlsClientConfig`]), [`CreateServer::ssl`] ([`TlsServerConfig`]), … |
//! | `loop.start_tls` | [`EventLoop::start_tls`], or [`StreamTransport::start_tls`] from inside a protocol |
//! | `get_extra_info('cipher')`, `'peercert'`, `'ssl_object'` | [`StreamTransport::tls`], [`TransportHandle::tls`] ([`TlsInfo`]) |
//! | `loop.add_signal_handler`, `signal.SIGINT` | [`EventLoop::add_signal_handler`], [`Signal`]; actors: [`EventLoop::subscribe_signal`] ([`SignalReceived`]) |
//! | `loop.set_exception_handler`, `call_exception_handler` | [`EventLoop::set_exception_handler`], [`EventLoop::call_exception_handler`] |
//! | exceptions | one [`Error`] (and [`Result`]), with one variant per area |
//!
//! Beyond asyncio: application actors ([`EventLoop::spawn`], [`Actor`],
//! [`Addr`]), with ask-and-reply ([`Addr::call`], [`ReplyTo`]); bounded
//! mailboxes ([`EventLoop::spawn_bounded`], [`Addr::send_wait`],
//! [`Addr::forward`]); supervision after Erlang/OTP
//! ([`EventLoop::supervisor`], [`EventLoop::monitor`],
//! [`ActorContext::link`], [`ExitReason`]); graceful drain and shutdown
//! ([`Server::drain`], [`EventLoop::shutdown`],
//! [`EventLoop::shutdown_on_signals`]).
//!
//! ## Logging
//!
//! switchboard logs through the [`log`](https://docs.rs/log) crate (target
//! `switchboard`): install any logger (`env_logger`, …) to route its messages.
//! With no logger installed, warnings and errors (what the default exception
//! handler reports, debug mode's slow callbacks and unclosed resources) go to
//! stderr, as asyncio's do without logging configured.
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

// The rooms follow the sections of asyncio's "Event Loop" page.
mod actor;
mod callbacks;
mod error;
mod executor;
mod fd_watch;
mod group;
pub mod introspect;
mod net;
mod pipes;
pub mod prelude;
mod running;
mod signals;
mod streams;
mod subprocess;
mod supervision;
mod tasks;

// Short paths for the crate's own code (`crate::event_loop::EventLoop`).
pub(crate) use callbacks::{handle, handle_table, timers};
pub(crate) use running::{
    current, diag, event_loop, exception, interrupt, policy, ready, routing, run, shared, shutdown,
    turn,
};
pub(crate) use tasks::{compose, future, sleep, task};

pub use actor::{Actor, ActorContext};
pub use compose::{gather, wait_for, Gather, TimeoutError, WaitFor};
pub use current::{get_event_loop, get_running_loop, new_event_loop, set_event_loop};
pub use error::{Error, FutureError, InvalidStateError, LoopError, Result, TaskError};
pub use event_loop::{Delay, EventLoop, TaskFactory};
pub use exception::{default_exception_handler, ExceptionHandler};
pub use executor::{ExecutorError, ExecutorFuture, ThreadPool};
pub use fd_watch::{FdWatchError, FileDescriptor};
pub use future::LoopFuture;
pub use group::{GroupError, GroupHandle, GroupShutdown, Lookup, LoopGroup};
pub use handle::{Handle, TimerHandle};
pub use interrupt::Interrupt;
pub use net::{
    AddrInfo, AddrInfoFlags, ConnectAcceptedSocket, Connection, CreateConnection,
    CreateDatagramEndpoint, CreateServer, CreateUnixConnection, CreateUnixServer, DatagramEndpoint,
    DatagramHandle, Drain, DrainReport, DrainState, Family, GetAddrInfo, GetNameInfo,
    NameInfoFlags, NetError, Reached, Sendfile, SendfileError, ServeForever, Server, SockError,
    SockSendfile, SockType, StartTls, TlsClientConfig, TlsConfig, TlsConfigError, TlsServerConfig,
    TransportHandle, WaitClosed, DEFAULT_CLOSE_GRACE,
};
pub use pipes::{PipeError, PipeHandle};
pub use policy::{
    get_event_loop_policy, set_event_loop_policy, DefaultEventLoopPolicy, EventLoopPolicy,
};
pub use run::run;
pub use shared::LoopHandle;
pub use shutdown::{Shutdown, ShutdownReport};
#[doc(inline)]
pub use signals::{Signal, SignalError, SignalReceived};
pub use sleep::{sleep, Sleep};
pub use streams::{
    OpenConnection, OpenUnixConnection, StartServer, StartUnixServer, StreamError, StreamReader,
    StreamWriter, DEFAULT_STREAM_LIMIT,
};
pub use subprocess::{
    CreateSubprocess, Process, SpawnSubprocess, Stdio, SubprocessError, SubprocessHandle,
    DEFAULT_COMMUNICATE_LIMIT,
};
pub use supervision::{
    ChildSpec, MonitorRef, Restart, ServerChild, Strategy, SubprocessChild, Supervisor,
    SupervisorBuilder, SupervisorError, DEFAULT_CHILD_SHUTDOWN, DEFAULT_INTENSITY,
};
pub use task::{Join, LocalBoxFuture, Task, TaskSpec};

/// The default hard cap on a stream transport's write buffer (64 MiB): a
/// write that takes the buffer past it ends the connection with
/// `TransportError::BufferOverflow`. Builders change it with
/// `max_write_buffer(cap)`, or turn it off with `max_write_buffer(None)`.
pub const DEFAULT_MAX_WRITE_BUFFER: usize = switchboard_actors::stream::DEFAULT_MAX_WRITE_BUFFER;

/// Byte buffers: the payload type of `DataReceived` and of writes (the
/// [`bytes`](https://docs.rs/bytes) crate's `Bytes`, re-exported so programs
/// need not depend on it).
#[doc(inline)]
pub use bytes::{Bytes, BytesMut};

#[doc(inline)]
pub use switchboard_protocols::{
    ActorExited, ActorId, Addr, Address, AnyStreamProtocol, BufferedEvent, BufferedProtocol, Call,
    CallError, DatagramEvent, DatagramProtocol, DatagramTransport, Exception, ExceptionContext,
    ExitReason, LimitsError, NoMessage, PeerCredentials, PipeCommand, PipeTransportMut,
    ProcessError, ProtocolError, ReadPipeEvent, ReadPipeProtocol, ReadPipeTransport, ReplyTo,
    SendError, SendWait, SocketRef, StreamEvent, StreamProtocol, StreamTransport, SubprocessEvent,
    SubprocessProtocol, SubprocessTransport, TlsError, TlsInfo, TlsUpgrade, TlsVersion,
    TransportError, WriteError, WriteLimits, WritePipeEvent, WritePipeProtocol, WritePipeTransport,
};

/// The [rustls](https://docs.rs/rustls) crate switchboard's TLS runs on
/// (with the ring provider), re-exported so a program can build its own
/// `rustls::ClientConfig`/`ServerConfig` (client certificates, custom
/// verifiers) and pass it as a [`TlsClientConfig`]/[`TlsServerConfig`]
/// without depending on it.
pub use rustls;

/// Ready-made protocols and framings: echo, lines, length-prefixed frames, a
/// minimal HTTP/1.1 responder.
pub mod ready_made {
    #[doc(inline)]
    pub use switchboard_protocols::ready_made::*;
}

/// Test doubles for protocols: a fake transport, a fake connection that drives
/// a protocol through its grammar, recording protocols and a grammar checker.
pub mod testing {
    #[doc(inline)]
    pub use switchboard_protocols::testing::*;
}
