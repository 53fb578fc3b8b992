//! `open_connection`, `open_unix_connection`, `start_server` and
//! `start_unix_server`: the protocol-level builders, streams on top.

use std::cell::{Cell, RefCell};
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use switchboard_protocols::NoMessage;

use crate::event_loop::EventLoop;
use crate::net::{
    CreateConnection, CreateServer, CreateUnixConnection, CreateUnixServer, Family, NetError,
    Server, TlsClientConfig, TlsServerConfig,
};
use crate::streams::feeder::{Callback, Feeder};
use crate::streams::reader::{ReadControl, StreamReader};
use crate::streams::state::{StreamState, DEFAULT_STREAM_LIMIT};
use crate::streams::writer::{Sink, StreamWriter};
use crate::Connection;

/// Builder methods that pass straight to the protocol-level builder.
macro_rules! forward {
    ($target:literal; $( $name:ident ( $($arg:ident : $ty:ty),* ) )*) => {
        $(
            #[doc = concat!("As [`", $target, "::", stringify!($name), "`](crate::", $target, "::", stringify!($name), ").")]
            pub fn $name(mut self, $($arg: $ty),*) -> Self {
                self.inner = self.inner.$name($($arg),*);
                self
            }
        )*
    };
}

/// The stream state the factory made for the one connection of a client.
type Slot = Rc<RefCell<Option<Rc<StreamState>>>>;

fn client_factory(limit: &Rc<Cell<usize>>, slot: &Slot) -> impl FnOnce() -> Feeder + 'static {
    let (limit, slot) = (limit.clone(), slot.clone());
    move || {
        let state = Rc::new(StreamState::new(limit.get()));
        *slot.borrow_mut() = Some(state.clone());
        Feeder { state, serve: None }
    }
}

fn server_factory(
    lp: &EventLoop,
    limit: &Rc<Cell<usize>>,
    cb: Callback,
) -> impl Fn() -> Feeder + 'static {
    let (lp, limit) = (lp.clone(), limit.clone());
    move || Feeder {
        state: Rc::new(StreamState::new(limit.get())),
        serve: Some((lp.clone(), cb.clone())),
    }
}

fn streams_of(
    conn: Connection<NoMessage>,
    slot: &Slot,
) -> Result<(StreamReader, StreamWriter), NetError> {
    let state = slot
        .borrow_mut()
        .take()
        .ok_or(NetError::InvalidArgs("the connection made no stream"))?;
    let reader = StreamReader::new(state.clone(), ReadControl::Socket(conn.transport.clone()));
    let writer = StreamWriter::new(state, Sink::Socket(conn.transport));
    Ok((reader, writer))
}

fn erase<F, Fut, E>(cb: F) -> Callback
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = Result<(), E>> + 'static,
    E: Into<crate::Error> + 'static,
{
    Rc::new(move |r, w| {
        let fut = cb(r, w);
        Box::pin(async move { fut.await.map_err(Into::into) })
    })
}

/// The builder [`EventLoop::open_connection`] returns: every method of
/// [`CreateConnection`] plus [`limit`](Self::limit). Awaiting it connects
/// and gives `(StreamReader, StreamWriter)`.
#[must_use = "an OpenConnection does nothing until awaited"]
#[derive(Debug)]
pub struct OpenConnection {
    inner: CreateConnection<NoMessage>,
    limit: Rc<Cell<usize>>,
    slot: Slot,
}

/// The builder [`EventLoop::open_unix_connection`] returns: every method of
/// [`CreateUnixConnection`] plus [`limit`](Self::limit).
#[must_use = "an OpenUnixConnection does nothing until awaited"]
#[derive(Debug)]
pub struct OpenUnixConnection {
    inner: CreateUnixConnection<NoMessage>,
    limit: Rc<Cell<usize>>,
    slot: Slot,
}

/// The builder [`EventLoop::start_server`] returns: every method of
/// [`CreateServer`] plus [`limit`](Self::limit). Awaiting it gives the
/// [`Server`] (close, drain, serve_forever).
#[must_use = "a StartServer does nothing until awaited"]
#[derive(Debug)]
pub struct StartServer {
    inner: CreateServer<NoMessage>,
    limit: Rc<Cell<usize>>,
}

/// The builder [`EventLoop::start_unix_server`] returns: every method of
/// [`CreateUnixServer`] plus [`limit`](Self::limit).
#[must_use = "a StartUnixServer does nothing until awaited"]
#[derive(Debug)]
pub struct StartUnixServer {
    inner: CreateUnixServer<NoMessage>,
    limit: Rc<Cell<usize>>,
}

impl EventLoop {
    /// Connects over TCP and gives the connection as a reader and a writer
    /// (asyncio's `open_connection`). Takes every argument of
    /// [`create_connection`](Self::create_connection) (`host`, `port`,
    /// `ssl`, `server_hostname`, `local_addr`, …) and
    /// [`limit`](OpenConnection::limit).
    ///
    /// ```
    /// switchboard::run(|lp| async move {
    ///     let server = lp
    ///         .start_server(|mut reader, mut writer| async move {
    ///             loop {
    ///                 let line = reader.readline().await?;
    ///                 if line.is_empty() { break; }
    ///                 writer.write(&line.to_ascii_uppercase());
    ///                 writer.drain().await?;
    ///             }
    ///             writer.close();
    ///             Ok::<(), switchboard::Error>(())
    ///         })
    ///         .host("127.0.0.1").port(0).await?;
    ///     let port = server.sockets()[0].port();
    ///     let (mut reader, mut writer) = lp.open_connection().host("127.0.0.1").port(port).await?;
    ///     writer.write(b"hello\n");
    ///     writer.drain().await?;
    ///     assert_eq!(&reader.readline().await?[..], b"HELLO\n");
    ///     writer.close();
    ///     writer.wait_closed().await?;
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn open_connection(&self) -> OpenConnection {
        let limit = Rc::new(Cell::new(DEFAULT_STREAM_LIMIT));
        let slot = Slot::default();
        OpenConnection {
            inner: self.create_connection(client_factory(&limit, &slot)),
            limit,
            slot,
        }
    }

    /// [`open_connection`](Self::open_connection) over a Unix-domain socket
    /// (asyncio's `open_unix_connection`).
    pub fn open_unix_connection(&self) -> OpenUnixConnection {
        let limit = Rc::new(Cell::new(DEFAULT_STREAM_LIMIT));
        let slot = Slot::default();
        OpenUnixConnection {
            inner: self.create_unix_connection(client_factory(&limit, &slot)),
            limit,
            slot,
        }
    }

    /// A TCP server that runs `cb(reader, writer)` as a task for each
    /// connection (asyncio's `start_server`). Takes every argument of
    /// [`create_server`](Self::create_server) and
    /// [`limit`](StartServer::limit). An `Err` from the callback's future
    /// goes to the loop's exception handler and closes that connection
    /// only; the server goes on. See
    /// [`open_connection`](Self::open_connection) for an example.
    pub fn start_server<F, Fut, E>(&self, cb: F) -> StartServer
    where
        F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<crate::Error> + 'static,
    {
        let limit = Rc::new(Cell::new(DEFAULT_STREAM_LIMIT));
        StartServer {
            inner: self.create_server(server_factory(self, &limit, erase(cb))),
            limit,
        }
    }

    /// [`start_server`](Self::start_server) on a Unix-domain socket
    /// (asyncio's `start_unix_server`).
    pub fn start_unix_server<F, Fut, E>(&self, cb: F) -> StartUnixServer
    where
        F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<crate::Error> + 'static,
    {
        let limit = Rc::new(Cell::new(DEFAULT_STREAM_LIMIT));
        StartUnixServer {
            inner: self.create_unix_server(server_factory(self, &limit, erase(cb))),
            limit,
        }
    }
}

impl OpenConnection {
    /// The reader's limit (64 KiB by default): the longest line or
    /// `readuntil` chunk, and half of what may wait unread before the
    /// transport stops reading.
    pub fn limit(self, limit: usize) -> Self {
        self.limit.set(limit.max(1));
        self
    }
    forward! { "CreateConnection";
        host(host: impl Into<String>)
        port(port: u16)
        addr(addr: SocketAddr)
        family(family: Family)
        local_addr(addr: SocketAddr)
        sock(sock: std::net::TcpStream)
        happy_eyeballs_delay(delay: Duration)
        interleave(first_count: usize)
        max_write_buffer(cap: impl Into<Option<usize>>)
        close_timeout(timeout: Duration)
        read_backpressure(on: bool)
        ssl(config: impl Into<TlsClientConfig>)
        server_hostname(name: impl Into<String>)
        ssl_handshake_timeout(timeout: Duration)
        ssl_shutdown_timeout(timeout: Duration)
    }
}

impl OpenUnixConnection {
    /// As [`OpenConnection::limit`].
    pub fn limit(self, limit: usize) -> Self {
        self.limit.set(limit.max(1));
        self
    }
    forward! { "CreateUnixConnection";
        path(path: impl AsRef<Path>)
        sock(sock: std::os::unix::net::UnixStream)
        max_write_buffer(cap: usize)
        ssl(config: impl Into<TlsClientConfig>)
        server_hostname(name: impl Into<String>)
        ssl_handshake_timeout(timeout: Duration)
        ssl_shutdown_timeout(timeout: Duration)
    }
}

impl StartServer {
    /// As [`OpenConnection::limit`], for every connection.
    pub fn limit(self, limit: usize) -> Self {
        self.limit.set(limit.max(1));
        self
    }
    /// As [`CreateServer::hosts`](crate::CreateServer::hosts).
    pub fn hosts<I>(mut self, hosts: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.inner = self.inner.hosts(hosts);
        self
    }
    forward! { "CreateServer";
        host(host: impl Into<String>)
        addr(addr: SocketAddr)
        port(port: u16)
        family(family: Family)
        backlog(backlog: i32)
        reuse_address(on: bool)
        reuse_port(on: bool)
        sock(sock: std::net::TcpListener)
        start_serving(on: bool)
        max_write_buffer(cap: impl Into<Option<usize>>)
        close_timeout(timeout: Duration)
        read_backpressure(on: bool)
        ssl(config: impl Into<TlsServerConfig>)
        ssl_handshake_timeout(timeout: Duration)
        ssl_shutdown_timeout(timeout: Duration)
        name(name: impl Into<String>)
    }
}

impl StartUnixServer {
    /// As [`OpenConnection::limit`], for every connection.
    pub fn limit(self, limit: usize) -> Self {
        self.limit.set(limit.max(1));
        self
    }
    forward! { "CreateUnixServer";
        path(path: impl AsRef<Path>)
        sock(sock: std::os::unix::net::UnixListener)
        backlog(backlog: i32)
        start_serving(on: bool)
        cleanup_socket(on: bool)
        max_write_buffer(cap: usize)
        ssl(config: impl Into<TlsServerConfig>)
        ssl_handshake_timeout(timeout: Duration)
        ssl_shutdown_timeout(timeout: Duration)
        name(name: impl Into<String>)
    }
}

type Opened = Pin<Box<dyn Future<Output = Result<(StreamReader, StreamWriter), NetError>>>>;

impl IntoFuture for OpenConnection {
    type Output = Result<(StreamReader, StreamWriter), NetError>;
    type IntoFuture = Opened;
    fn into_future(self) -> Opened {
        Box::pin(async move {
            let conn = self.inner.await?;
            streams_of(conn, &self.slot)
        })
    }
}

impl IntoFuture for OpenUnixConnection {
    type Output = Result<(StreamReader, StreamWriter), NetError>;
    type IntoFuture = Opened;
    fn into_future(self) -> Opened {
        Box::pin(async move {
            let conn = self.inner.await?;
            streams_of(conn, &self.slot)
        })
    }
}

impl IntoFuture for StartServer {
    type Output = Result<Server, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        self.inner.into_future()
    }
}

impl IntoFuture for StartUnixServer {
    type Output = Result<Server, NetError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;
    fn into_future(self) -> Self::IntoFuture {
        self.inner.into_future()
    }
}
