//! What most programs need, in one import: `use switchboard::prelude::*;`.
//!
//! ```
//! use switchboard::prelude::*;
//!
//! struct Hello;
//!
//! impl StreamProtocol for Hello {
//!     fn handle(&mut self, ev: StreamEvent, t: &mut dyn StreamTransport) -> Result<(), ProtocolError> {
//!         if let StreamEvent::ConnectionMade = ev {
//!             t.write(b"hello\n")?;
//!             t.close();
//!         }
//!         Ok(())
//!     }
//! }
//!
//! switchboard::run(|lp: EventLoop| async move {
//!     let server = lp.create_server(|| Hello).host("127.0.0.1").port(0).await?;
//!     server.close();
//!     Ok::<(), switchboard::Error>(())
//! })?;
//! # Ok::<(), switchboard::Error>(())
//! ```

#[doc(no_inline)]
pub use crate::{
    Actor, ActorContext, ActorExited, Addr, Address, BufferedEvent, BufferedProtocol, Bytes,
    CallError, ChildSpec, DatagramEvent, DatagramProtocol, DatagramTransport, EventLoop,
    ExitReason, ProtocolError, ReplyTo, Restart, Signal, Stdio, Strategy, StreamEvent,
    StreamProtocol, StreamTransport, SubprocessEvent, SubprocessProtocol, SubprocessTransport,
};
