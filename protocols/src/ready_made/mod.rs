//! Ready-made protocols.
//!
//! ```text
//!   Echo          every byte back                    (asyncio TCP echo example)
//!   Lines         one handler call per '\n' line     (LineFramer: the framing alone)
//!   LengthPrefixed  u32 big-endian length + payload  (LengthPrefixedFramer, encode)
//!   HttpHello     "Hello, World!" to every request   (a wrk benchmark target)
//!   CodecFramer   any tokio-util Decoder as a Framer (feature `codec`)
//! ```
//!
//! Each framer is a pure type (push bytes, pop frames, the [`Framer`] trait) so
//! it can be reused in a protocol of your own; `Lines` and `LengthPrefixed` are
//! [`Framed`] with a framer and a handler.

#[cfg(feature = "codec")]
mod codec_framer;
mod echo;
mod framed;
mod framing_error;
mod http;
mod length_prefixed;
mod lines;

#[cfg(feature = "codec")]
pub use codec_framer::CodecFramer;
pub use echo::Echo;
pub use framed::{FrameHandler, Framed, Framer};
pub use framing_error::FramingError;
pub use http::{HttpHello, BAD_REQUEST_RESPONSE, HELLO_RESPONSE};
pub use length_prefixed::{encode, encode_into, LengthPrefixed, LengthPrefixedFramer};
pub use lines::{LineFramer, Lines};
