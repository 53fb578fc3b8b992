//! One query of a control socket: connect, send `snapshot\n`, read one JSON
//! document until EOF.
//!
//! The whole exchange, connect to EOF, must finish within the timeout, so a
//! stuck service (accepting but never answering, or trickling bytes) makes
//! the tool fail instead of hang. A service that refuses the command
//! answers `{"error": "..."}`, which becomes [`QueryError::Refused`].

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use switchboard::introspect::ControlReply;

/// The command asking for every loop's snapshot.
pub const SNAPSHOT: &[u8] = b"snapshot\n";

/// Why a query gave no usable reply. Each names the socket's path.
#[derive(Debug)]
pub enum QueryError {
    /// Nothing accepted the connection (no such socket, nobody listening,
    /// no permission).
    Connect {
        /// The socket.
        path: PathBuf,
        /// The OS's reason.
        source: io::Error,
    },
    /// The connection failed while sending the command or reading the reply.
    Io {
        /// The socket.
        path: PathBuf,
        /// What the tool was doing: `send` or `read`.
        op: &'static str,
        /// The OS's reason.
        source: io::Error,
    },
    /// The reply did not end (EOF) within the timeout.
    TimedOut {
        /// The socket.
        path: PathBuf,
        /// The timeout.
        after: Duration,
    },
    /// The service answered `{"error": ...}`.
    Refused {
        /// The socket.
        path: PathBuf,
        /// The service's message.
        message: String,
    },
    /// The reply was not JSON, or not a `ControlReply`.
    Malformed {
        /// The socket.
        path: PathBuf,
        /// What serde_json said.
        source: serde_json::Error,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Connect { path, source } => {
                write!(f, "cannot connect to {}: {source}", path.display())
            }
            QueryError::Io { path, op, source } => {
                write!(f, "{op} failed on {}: {source}", path.display())
            }
            QueryError::TimedOut { path, after } => write!(
                f,
                "{} did not answer within {}s",
                path.display(),
                after.as_secs_f64()
            ),
            QueryError::Refused { path, message } => {
                write!(f, "{} refused the query: {message}", path.display())
            }
            QueryError::Malformed { path, source } => write!(
                f,
                "{} did not answer with a snapshot reply: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueryError::Connect { source, .. } | QueryError::Io { source, .. } => Some(source),
            QueryError::Malformed { source, .. } => Some(source),
            QueryError::TimedOut { .. } | QueryError::Refused { .. } => None,
        }
    }
}

/// Every loop's snapshot, typed.
pub fn snapshot(path: &Path, timeout: Duration) -> Result<ControlReply, QueryError> {
    let value = value(path, timeout)?;
    serde_json::from_value(value).map_err(|source| QueryError::Malformed {
        path: path.to_owned(),
        source,
    })
}

/// The reply as the service sent it (every field, known to this tool or
/// not), pretty-printed.
pub fn json(path: &Path, timeout: Duration) -> Result<String, QueryError> {
    let value = value(path, timeout)?;
    // Serializing a `Value` cannot fail: its map keys are strings.
    Ok(serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// The reply as a JSON value, with an `{"error": ...}` answer turned into
/// [`QueryError::Refused`].
fn value(path: &Path, timeout: Duration) -> Result<serde_json::Value, QueryError> {
    let raw = exchange(path, SNAPSHOT, timeout)?;
    let value: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|source| QueryError::Malformed {
            path: path.to_owned(),
            source,
        })?;
    if let Some(message) = refusal(&value) {
        return Err(QueryError::Refused {
            path: path.to_owned(),
            message,
        });
    }
    Ok(value)
}

/// The message of an `{"error": ...}` answer.
fn refusal(value: &serde_json::Value) -> Option<String> {
    let obj = value.as_object()?;
    if obj.contains_key("loops") {
        return None;
    }
    let err = obj.get("error")?;
    Some(err.as_str().map_or_else(|| err.to_string(), String::from))
}

/// Sends `command` and reads until EOF, all within `timeout`.
fn exchange(path: &Path, command: &[u8], timeout: Duration) -> Result<Vec<u8>, QueryError> {
    let deadline = Instant::now() + timeout;
    let timed_out = || QueryError::TimedOut {
        path: path.to_owned(),
        after: timeout,
    };
    let io = |op, source| QueryError::Io {
        path: path.to_owned(),
        op,
        source,
    };
    let mut stream = UnixStream::connect(path).map_err(|source| QueryError::Connect {
        path: path.to_owned(),
        source,
    })?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| io("send", e))?;
    stream.write_all(command).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(),
        _ => io("send", e),
    })?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        // Each read waits at most for what is left of the whole timeout.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| io("read", e))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(reply),
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out())
            }
            Err(e) => return Err(io("read", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_error_object_is_a_refusal_and_a_reply_is_not() {
        assert_eq!(
            refusal(&json!({"error": "unknown command `frob`"})).as_deref(),
            Some("unknown command `frob`")
        );
        assert_eq!(refusal(&json!({"error": 7})).as_deref(), Some("7"));
        assert_eq!(refusal(&json!({"pid": 1, "loops": []})), None);
        assert_eq!(refusal(&json!([1, 2])), None);
    }

    #[test]
    fn messages_name_the_path() {
        let path = PathBuf::from("/run/svc.sock");
        let e = QueryError::Connect {
            path: path.clone(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert!(e
            .to_string()
            .starts_with("cannot connect to /run/svc.sock: "));
        let e = QueryError::TimedOut {
            path,
            after: Duration::from_millis(250),
        };
        assert_eq!(e.to_string(), "/run/svc.sock did not answer within 0.25s");
    }
}
