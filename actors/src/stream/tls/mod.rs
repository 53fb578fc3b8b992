//! TLS between a stream socket and its protocol (rustls, no OpenSSL).
//!
//! # Where the TLS layer sits, and why there
//!
//! ```text
//!   socket ──ciphertext──► SocketTransport ──Ev::Data──► TlsSession ──StreamEvent──► protocol
//!     ▲                     (Core: write buffer,          (rustls Connection,         │
//!     │                      flow control, close)          TLS phase)                 │
//!     └──────── records ◄── Core::send_records ◄── TlsView (write, close, …) ◄────────┘
//! ```
//!
//! asyncio puts an `SSLProtocol` between the socket's transport and the
//! application protocol: a protocol to the transport below, a transport to
//! the protocol above. `TlsSession` is that layer, but inside the stream
//! transport actor rather than as a second actor: the actor's protocol slot
//! holds either the application's protocol or a TLS session wrapping it
//! (`Upper`), and the session receives the socket's events (ciphertext, EOF,
//! loss, flow control, timers) the way a protocol would and turns them into
//! the application's events, through the same `dispatch` a plain protocol
//! gets. The application protocol sees a `TlsView`, which implements the
//! same `StreamTransport` over the session and the socket's `Core`.
//!
//! Why not a TLS-wrapping `StreamSocket`: the transport reads straight from
//! the descriptor into the loop's shared buffer, its write path counts what
//! the kernel took, `write_eof` is a `shutdown(2)`, and TLS needs its own
//! events (the handshake before `ConnectionMade`, close_notify as
//! `EofReceived`, a truncated stream as an error) and timers (handshake and
//! shutdown timeouts); none of that fits `io::Read`/`io::Write`. Why not a
//! second actor: the two halves would talk through the loop's queue, a hop
//! per record each way, and flow control would have to be mirrored across
//! them. In one actor, plaintext written by the protocol is encrypted and
//! handed to the socket in the same call (`write` stays a function call), the
//! write buffer and its watermarks are the socket's own (they count TLS
//! records), and `start_tls` is a swap of the protocol slot at the exact
//! point in the byte stream where the protocol asked for it.
//!
//! It works for any [`StreamSocket`](crate::stream::StreamSocket): TCP and
//! Unix streams alike.
//!
//! # Lifecycle of a session
//!
//! * `Handshaking`: the application has not seen `ConnectionMade` (for a
//!   connection made with TLS) or keeps its events but gets no data (after
//!   `start_tls`). Writes are kept by rustls until the handshake is done. The
//!   handshake timeout ends it with `TlsError::HandshakeTimedOut`.
//! * `Open`: data flows; a close_notify from the peer is `EofReceived`, after
//!   which the session answers with its own close_notify and closes (TLS
//!   cannot half-close, so `keep_open` has no effect). A socket EOF without
//!   close_notify is `TlsError::Truncated`.
//! * `ShuttingDown`: the application closed; our close_notify is sent, data
//!   still arriving is dropped, and the socket closes once the peer answers
//!   with its close_notify or EOF, or the shutdown timeout aborts it.
//! * `Over`: the socket is closing or gone; `ConnectionLost` follows as for
//!   any transport.

mod session;
mod setup;
mod state;
mod view;

pub(crate) use session::TlsSession;
pub use setup::{TlsSetup, TlsSide, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT};
pub(crate) use view::TlsView;

/// A hook run once the application's `ConnectionMade` was delivered, or with
/// the reason the connection was lost before it could be.
pub type MadeHook = Box<dyn FnOnce(Result<(), switchboard_protocols::TransportError>)>;
