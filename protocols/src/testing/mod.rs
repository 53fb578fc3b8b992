//! Test fakes for protocols, in the spirit of twisted's `proto_helpers`:
//! an in-memory transport, a connection driver that plays the loop, recording
//! protocols and a checker for the stream grammar.
//!
//! ```text
//!   test ──receive()/receive_eof()──► FakeConnection ──StreamEvent──► protocol
//!                                          │                              │
//!                                          └── FakeTransport ◄── write ───┘
//!                                               (written(), closed(), …)
//! ```

mod event_log;
mod fake_connection;
mod fake_transport;
mod grammar;
mod recording_buffered_protocol;
mod recording_protocol;

pub use crate::call::live_calls;
pub use event_log::{EventLog, Recorded};
pub use fake_connection::FakeConnection;
pub use fake_transport::{FakeLifecycle, FakeTransport};
pub use grammar::{check_stream_grammar, check_stream_prefix, GrammarError};
pub use recording_buffered_protocol::RecordingBufferedProtocol;
pub use recording_protocol::RecordingProtocol;
