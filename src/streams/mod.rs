//! asyncio's high-level streams, built on the protocol layer as asyncio
//! builds them: [`open_connection`](crate::EventLoop::open_connection) and
//! [`start_server`](crate::EventLoop::start_server) (and their Unix-socket
//! twins) give a [`StreamReader`] and a [`StreamWriter`] per connection.
//! Under each connection is an ordinary transport whose protocol feeds the
//! reader, so every builder argument of the protocol layer (TLS, limits,
//! timeouts) applies unchanged.

mod error;
mod feeder;
mod open;
mod reader;
pub(crate) mod state;
mod writer;

pub use error::StreamError;
pub use open::{OpenConnection, OpenUnixConnection, StartServer, StartUnixServer};
pub(crate) use reader::ReadControl;
pub use reader::StreamReader;
pub use state::DEFAULT_STREAM_LIMIT;
pub(crate) use writer::Sink;
pub use writer::StreamWriter;
