//! # switchboard-protocols
//!
//! The vocabulary shared by the switchboard loop and user code: the event enums
//! (stream and datagram)
//! a protocol receives, the transport traits a protocol may call, the protocol
//! traits, the errors for lost connections, the exception-handler context, and
//! ready-made protocols.
//!
//! This crate is at the bottom of the dependency graph and knows nothing of
//! sockets or polling:
//!
//! ```text
//!   switchboard-protocols  <-  switchboard-actors  <-  switchboard
//!   (events, traits)           (transports, sys/)      (the loop, public API)
//!
//!   socket ──readiness──► transport actor ──StreamEvent──► your StreamProtocol
//!                               ▲                               │
//!                               └──── write / close (direct) ───┘
//! ```
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod addr;
mod address;
mod call;
mod capacity;
mod command;
mod datagram;
mod error;
mod exception;
mod exit;
mod ids;
#[doc(hidden)]
pub mod internal;
mod interrupt;
mod limits;
mod message;
mod pipe;
pub mod ready_made;
mod reply;
mod signal;
mod socket;
mod stream;
mod subprocess;
pub mod testing;
mod tls;

pub use addr::{Addr, Call, CallError, ReplyTo, SendError, SendWait};
pub use address::Address;
pub use command::StreamCommand;
pub use datagram::{DatagramCommand, DatagramEvent, DatagramProtocol, DatagramTransport};
pub use error::{LimitsError, ProtocolError, TransportError, WriteError};
pub use exception::{Exception, ExceptionContext};
pub use exit::{ActorExited, ExitReason};
pub use ids::ActorId;
pub use interrupt::Interrupt;
pub use limits::WriteLimits;
pub use message::NoMessage;
pub use pipe::{
    PipeCommand, ReadPipeEvent, ReadPipeProtocol, ReadPipeTransport, WritePipeEvent,
    WritePipeProtocol, WritePipeTransport,
};
pub use signal::{Signal, SignalError, SignalReceived};
pub use socket::{PeerCredentials, SocketOps, SocketRef};
pub use stream::{
    AnyStreamProtocol, BufferedEvent, BufferedProtocol, StreamEvent, StreamProtocol,
    StreamTransport,
};
pub use subprocess::{
    PipeTransportMut, ProcessError, SubprocessEvent, SubprocessProtocol, SubprocessTransport,
};
pub use tls::{TlsError, TlsInfo, TlsUpgrade, TlsVersion};
