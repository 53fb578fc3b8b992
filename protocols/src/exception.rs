//! The context passed to the loop's exception handler.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use crate::error::TransportError;

/// The `exception` key of an [`ExceptionContext`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Exception {
    /// A callback, task or actor panicked; the panic message.
    Panic(String),
    /// An I/O error.
    Io(Arc<std::io::Error>),
    /// A transport failure.
    Transport(TransportError),
    /// An error from user code, rendered.
    Error(String),
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exception::Panic(m) => write!(f, "panic: {m}"),
            Exception::Io(e) => write!(f, "{e}"),
            Exception::Transport(e) => write!(f, "{e}"),
            Exception::Error(e) => f.write_str(e),
        }
    }
}

impl Exception {
    /// Renders a panic payload (`&str` or `String`, else a placeholder).
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let msg = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "non-string panic payload".to_string()
        };
        Exception::Panic(msg)
    }
}

/// asyncio's exception-handler context dict, with its documented keys as fields.
/// Keys that name an object (handle, transport, …) hold that object's
/// description, since the objects themselves belong to the loop.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExceptionContext {
    /// `message`: what happened.
    pub message: String,
    /// `exception`: the error, if any.
    pub exception: Option<Exception>,
    /// `future`: the future concerned.
    pub future: Option<String>,
    /// `task`: the task concerned.
    pub task: Option<String>,
    /// `handle`: the callback handle concerned.
    pub handle: Option<String>,
    /// `protocol`: the protocol concerned.
    pub protocol: Option<String>,
    /// `transport`: the transport concerned.
    pub transport: Option<String>,
    /// `socket`: the socket concerned.
    pub socket: Option<String>,
    /// `asyncgen`: never set (Rust has no async generators); kept for the key list.
    pub asyncgen: Option<String>,
    /// `source_traceback`: where the handle was created (debug mode only).
    pub source_traceback: Option<&'static Location<'static>>,
    /// `context`: the original context, when the handler itself failed.
    pub context: Option<Box<ExceptionContext>>,
}

impl ExceptionContext {
    /// A context with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        ExceptionContext {
            message: message.into(),
            ..Default::default()
        }
    }

    /// Sets `exception`.
    pub fn with_exception(mut self, e: Exception) -> Self {
        self.exception = Some(e);
        self
    }

    /// Sets `transport`.
    pub fn with_transport(mut self, t: impl Into<String>) -> Self {
        self.transport = Some(t.into());
        self
    }

    /// Sets `protocol`.
    pub fn with_protocol(mut self, p: impl Into<String>) -> Self {
        self.protocol = Some(p.into());
        self
    }

    /// Sets `socket`.
    pub fn with_socket(mut self, s: impl Into<String>) -> Self {
        self.socket = Some(s.into());
        self
    }
}

impl fmt::Display for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let keys: [(&str, &Option<String>); 6] = [
            ("future", &self.future),
            ("task", &self.task),
            ("handle", &self.handle),
            ("protocol", &self.protocol),
            ("transport", &self.transport),
            ("socket", &self.socket),
        ];
        for (k, v) in keys {
            if let Some(v) = v {
                write!(f, "\n{k}: {v}")?;
            }
        }
        if let Some(loc) = self.source_traceback {
            write!(f, "\ncreated at {loc}")?;
        }
        if let Some(e) = &self.exception {
            write!(f, "\nexception: {e}")?;
        }
        Ok(())
    }
}
