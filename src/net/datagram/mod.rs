//! Datagram endpoints: `create_datagram_endpoint` and the handle it returns.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_datagram_endpoint>

mod endpoint;
mod handle;
mod start;

pub use endpoint::CreateDatagramEndpoint;
pub use handle::{DatagramEndpoint, DatagramHandle};
