//! Working with pipes: `connect_read_pipe` and `connect_write_pipe`
//! (asyncio's "Working with pipes").

mod connect;
mod error;
pub(crate) mod handle;

pub use error::PipeError;
pub use handle::PipeHandle;
