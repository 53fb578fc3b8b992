//! Errors of the loop itself (asyncio raises `RuntimeError` for these).

/// A loop operation that was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoopError {
    /// The loop was closed (`RuntimeError('Event loop is closed')`).
    #[error("event loop is closed")]
    Closed,
    /// `run_forever`/`run_until_complete` on a loop that is already running.
    #[error("this event loop is already running")]
    AlreadyRunning,
    /// Running a loop on a thread where another loop is running.
    #[error("cannot run the event loop while another loop is running")]
    AnotherLoopRunning,
    /// `close()` on a running loop.
    #[error("cannot close a running event loop")]
    CloseRunning,
    /// `run_until_complete` returned because the loop was stopped first.
    #[error("event loop stopped before future completed")]
    StoppedBeforeComplete,
    /// `get_running_loop()` with no loop running on this thread.
    #[error("no running event loop")]
    NoRunningLoop,
    /// `get_event_loop()` with no current loop set for this thread.
    #[error("there is no current event loop in thread {thread}")]
    NoCurrentLoop {
        /// The thread's name.
        thread: String,
    },
    /// A delay or deadline that is not a number.
    #[error("invalid delay: {delay} is not a number")]
    InvalidDelay {
        /// The value given.
        delay: f64,
    },
    /// The OS refused to create the poller or the waker.
    #[error("cannot create the event loop's poller: {0}")]
    Poller(#[source] std::io::Error),
    /// The task or future belongs to another loop.
    #[error("the future belongs to a different loop than the one given")]
    WrongLoop,
    /// [`run`](crate::run) ended by an [`Interrupt`](crate::Interrupt): a
    /// SIGINT nobody handled, or one raised by the program (asyncio's
    /// `KeyboardInterrupt` out of `asyncio.run`).
    #[error("the event loop was interrupted")]
    Interrupted,
    /// The task `run_until_complete` drove ended without an output.
    #[error(transparent)]
    Task(TaskError),
    /// The loop thread's executor refused the job.
    #[error(transparent)]
    Executor(#[from] crate::executor::ExecutorError),
}

/// How an awaited [`LoopFuture`](crate::LoopFuture) ended without a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FutureError<E> {
    /// The future was cancelled (`CancelledError`).
    #[error("the future was cancelled")]
    Cancelled,
    /// The future was given an error with `set_exception`.
    #[error("the future failed")]
    Failed(E),
    /// Another awaiter already took the value.
    #[error("the future's result was already taken")]
    Taken,
    /// The future was awaited inside a loop other than the one that made it
    /// (asyncio: "Future attached to a different loop"). Awaiting it there
    /// could never finish, since only one loop runs on a thread at a time.
    #[error("the future is attached to a different loop")]
    WrongLoop,
}

/// Setting a future that is already done (asyncio's `InvalidStateError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid state: the future is already done")]
pub struct InvalidStateError;

/// How an awaited [`Task`](crate::Task) ended without an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The task was cancelled; its future was dropped.
    #[error("task {name} was cancelled")]
    Cancelled {
        /// The task's name.
        name: String,
    },
    /// The task's future panicked.
    #[error("task {name} panicked: {message}")]
    Panicked {
        /// The task's name.
        name: String,
        /// The panic message.
        message: String,
    },
    /// The loop closed before the task finished.
    #[error("task {name} was dropped when its loop closed")]
    LoopClosed {
        /// The task's name.
        name: String,
    },
    /// Another awaiter already took the output.
    #[error("the output of task {name} was already taken")]
    Taken {
        /// The task's name.
        name: String,
    },
    /// The task was awaited inside a loop other than its own (asyncio:
    /// "Task got Future attached to a different loop", and `ValueError` from
    /// `run_until_complete`). Awaiting it there could never finish, since only
    /// one loop runs on a thread at a time.
    #[error("task {name} belongs to a different loop")]
    WrongLoop {
        /// The task's name.
        name: String,
    },
}

/// Every error switchboard returns, in one type: what `?` turns any of them
/// into, so one function can use the loop, the network, tasks, signals, the
/// executor and actors with a single `?` each.
///
/// Each variant wraps the error of one area unchanged: its `Display` is that
/// error's. An error with an OS cause prints that cause after a colon
/// (`cannot spawn no-such-program: No such file or directory (os error 2)`,
/// `error while attempting to bind on address 127.0.0.1:8888: Address
/// already in use (os error 98)`), so `{}` alone tells a user what failed
/// and why. [`source`](std::error::Error::source) still returns that cause
/// itself (the `io::Error`, for its `kind()` or `raw_os_error()`); a
/// reporter that prints the whole chain (anyhow's `{:#}`, say) therefore
/// shows the OS reason twice, so print these errors with `{}`. Match on a
/// variant to tell the areas apart.
///
/// ```
/// fn serve() -> switchboard::Result<u16> {
///     switchboard::run(|lp| async move {
///         let server = lp.create_server(|| switchboard::ready_made::Echo)
///             .host("127.0.0.1")
///             .port(0)
///             .await?; // a NetError becomes an Error
///         let port = server.sockets()[0].port();
///         server.close();
///         Ok(port)
///     })
/// }
/// assert!(serve()? > 0);
/// # Ok::<(), switchboard::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The loop refused ([`LoopError`]).
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// Connecting, serving or resolving failed.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    /// A task ended without an output.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A pipe could not be connected.
    #[error(transparent)]
    Pipe(#[from] crate::pipes::PipeError),
    /// A subprocess could not be started.
    #[error(transparent)]
    Subprocess(#[from] crate::subprocess::SubprocessError),
    /// A signal could not be sent to a child.
    #[error(transparent)]
    Process(#[from] crate::ProcessError),
    /// `sendfile` or `sock_sendfile` failed.
    #[error(transparent)]
    Sendfile(#[from] crate::net::SendfileError),
    /// A `sock_*` method failed.
    #[error(transparent)]
    Sock(#[from] crate::net::SockError),
    /// A descriptor could not be watched.
    #[error(transparent)]
    FdWatch(#[from] crate::fd_watch::FdWatchError),
    /// A signal handler could not be set.
    #[error(transparent)]
    Signal(#[from] crate::signals::SignalError),
    /// The executor refused a job, or a job failed.
    #[error(transparent)]
    Executor(#[from] crate::executor::ExecutorError),
    /// A message could not be delivered: the actor has stopped or its loop is
    /// closed (from [`SendError`](crate::SendError), whose message is dropped).
    #[error("cannot deliver the message: the actor has stopped or its loop is closed")]
    Send,
    /// A message was refused: the actor's bounded mailbox is full (from
    /// [`SendError::Full`](crate::SendError::Full)).
    #[error("cannot deliver the message: the actor's mailbox is full")]
    MailboxFull,
    /// A question to an actor got no answer.
    #[error(transparent)]
    Call(#[from] crate::CallError),
    /// [`wait_for`](crate::wait_for) ran out of time.
    #[error(transparent)]
    Timeout(#[from] crate::TimeoutError),
    /// A future ended without a value.
    #[error(transparent)]
    Future(FutureError<std::convert::Infallible>),
    /// A future was set twice.
    #[error(transparent)]
    InvalidState(#[from] InvalidStateError),
    /// A protocol handler's error.
    #[error(transparent)]
    Protocol(#[from] crate::ProtocolError),
    /// Why a connection was lost.
    #[error(transparent)]
    Transport(#[from] crate::TransportError),
    /// A refused write.
    #[error(transparent)]
    Write(#[from] crate::WriteError),
    /// Invalid write-buffer limits.
    #[error(transparent)]
    Limits(#[from] crate::LimitsError),
    /// A framing error of a ready-made protocol.
    #[error(transparent)]
    Framing(#[from] crate::ready_made::FramingError),
    /// A supervisor gave up (a root supervisor's failure ends `run`).
    #[error(transparent)]
    Supervisor(#[from] crate::supervision::SupervisorError),
    /// A loop group refused or failed ([`GroupError`](crate::GroupError)).
    #[error(transparent)]
    Group(#[from] crate::GroupError),
    /// A TLS failure (handshake, certificate, truncation, timeouts).
    #[error(transparent)]
    Tls(#[from] crate::TlsError),
    /// A TLS configuration that could not be made.
    #[error(transparent)]
    TlsConfig(#[from] crate::TlsConfigError),
    /// A stream read, write or drain failed.
    #[error(transparent)]
    Stream(#[from] crate::StreamError),
    /// An I/O error from the operating system.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `Result` with [`Error`] as its default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl<M> From<crate::SendError<M>> for Error {
    fn from(e: crate::SendError<M>) -> Self {
        if e.is_full() {
            Error::MailboxFull
        } else {
            Error::Send
        }
    }
}

impl<E: Into<Error>> From<FutureError<E>> for Error {
    fn from(e: FutureError<E>) -> Self {
        match e {
            FutureError::Failed(inner) => inner.into(),
            FutureError::Cancelled => Error::Future(FutureError::Cancelled),
            FutureError::Taken => Error::Future(FutureError::Taken),
            FutureError::WrongLoop => Error::Future(FutureError::WrongLoop),
        }
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}
