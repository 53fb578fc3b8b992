//! The control socket: a Unix socket, readable by its owner only, that
//! answers `snapshot` with every loop's snapshot as JSON (what
//! `switchboard-ctl` reads).

use std::cell::Cell;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use switchboard_actors::inspect::{ControlReply, Snapshot};

use crate::event_loop::EventLoop;
use crate::net::Server;
use crate::{Error, StreamReader, StreamWriter};

/// The environment variable [`run`](crate::run) reads: a path to serve the
/// control socket at (for a loop group, loop 0 serves every loop).
pub const CONTROL_ENV: &str = "SWITCHBOARD_CONTROL";

/// How long a client may take to send its command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest command line.
const COMMAND_LIMIT: usize = 256;
/// How long another loop of a group may take to answer.
const LOOP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client may take to read its answer before it is aborted.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Answers being built or sent at once; more clients are turned away, so
/// that snapshots of a large service held for slow readers stay bounded.
const MAX_ANSWERING: usize = 4;

impl EventLoop {
    /// Serves this loop's snapshot (every loop's, in a
    /// [`LoopGroup`](crate::LoopGroup)) on a Unix socket at `path`, for
    /// `switchboard-ctl ps|tree|top|json PATH`. Opt-in and read-only.
    ///
    /// The socket file gets mode 0600 before it listens, so only the
    /// owner's processes can connect. A client writes one line,
    /// `snapshot`, and reads one JSON document to the end of the stream: a
    /// [`ControlReply`](crate::introspect::ControlReply). Anything else
    /// gets `{"error": ..}`. A client that sends no full line within 5 s,
    /// or more than 256 bytes, is dropped; one that has not read its answer
    /// within 30 s is aborted; and at most 4 answers are in progress at
    /// once (a fifth client gets `{"error": "busy"}`), so snapshots held for
    /// slow readers stay bounded. The snapshot is taken on the
    /// loop's thread, between two messages, so it is consistent; a loop
    /// of a group that does not answer within 2 s is left out of the reply.
    ///
    /// The returned [`Server`] closes it (and removes the file). Setting
    /// the environment variable `SWITCHBOARD_CONTROL=path` makes
    /// [`run`](crate::run) do this before the program's future starts.
    ///
    /// ```
    /// use switchboard::prelude::*;
    /// use switchboard::introspect::ControlReply;
    /// use std::io::{Read, Write};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("control.sock");
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let control = lp.serve_control(&path).await?;
    ///     // A client on another thread (switchboard-ctl does the same).
    ///     let client = std::thread::spawn(move || -> std::io::Result<ControlReply> {
    ///         let mut s = std::os::unix::net::UnixStream::connect(&path)?;
    ///         s.write_all(b"snapshot\n")?;
    ///         let mut json = String::new();
    ///         s.read_to_string(&mut json)?;
    ///         Ok(serde_json::from_str(&json)?)
    ///     });
    ///     while !client.is_finished() {
    ///         switchboard::sleep(0.01).await;
    ///     }
    ///     let reply = client.join().unwrap()?;
    ///     assert_eq!(reply.pid, std::process::id());
    ///     assert_eq!(reply.loops.len(), 1);
    ///     control.close();
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serve_control(
        &self,
        path: impl AsRef<Path>,
    ) -> impl Future<Output = Result<Server, Error>> + 'static {
        let lp = self.clone();
        let path = path.as_ref().to_path_buf();
        async move {
            let answering = Rc::new(Cell::new(0usize));
            let server = lp
                .start_unix_server(move |r, w| answer(r, w, answering.clone()))
                .path(&path)
                .limit(COMMAND_LIMIT)
                .start_serving(false)
                .name("control")
                .await?;
            // Owner only, before anyone can connect: it listens only now.
            if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            {
                server.close();
                return Err(Error::Io(e));
            }
            server.start_serving();
            Ok(server)
        }
    }
}

/// Counts one answer in progress while it lives.
struct Answering(Rc<Cell<usize>>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// One client: a command line, an answer, the end.
async fn answer(
    mut reader: StreamReader,
    mut writer: StreamWriter,
    answering: Rc<Cell<usize>>,
) -> Result<(), Error> {
    if answering.get() >= MAX_ANSWERING {
        writer.write(b"{\"error\": \"busy\"}\n");
        writer.close();
        return Ok(());
    }
    answering.set(answering.get() + 1);
    let _counted = Answering(answering);
    let line = crate::wait_for(reader.readline(), COMMAND_TIMEOUT).await;
    let reply = match line {
        Ok(Ok(line)) if line.trim_ascii() == b"snapshot" => {
            let lp = crate::get_running_loop()?;
            let reply = ControlReply {
                pid: std::process::id(),
                loops: snapshots(&lp).await,
            };
            serde_json::to_vec(&reply)
        }
        Ok(Ok(line)) => {
            let command = String::from_utf8_lossy(line.trim_ascii()).into_owned();
            serde_json::to_vec(&serde_json::json!({
                "error": format!("unknown command {command:?}; the one command is \"snapshot\""),
            }))
        }
        // Too long, cut short, or too slow: no answer.
        _ => {
            writer.close();
            return Ok(());
        }
    };
    match reply {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            writer.write_bytes(bytes.into());
            writer.close();
            // A client gone before the end is no concern of the loop's; one
            // that does not read is not kept.
            if crate::wait_for(writer.wait_closed(), READ_TIMEOUT)
                .await
                .is_err()
            {
                if let Some(t) = writer.transport() {
                    t.abort();
                }
            }
        }
        Err(e) => writer.write(format!("{{\"error\": \"{e}\"}}\n").as_bytes()),
    }
    Ok(())
}

/// This loop's snapshot, or every loop's in order for a loop of a group.
async fn snapshots(lp: &EventLoop) -> Vec<Snapshot> {
    let Some(group) = lp.group() else {
        return vec![lp.introspect()];
    };
    let mut out = Vec::with_capacity(group.len());
    for index in 0..group.len() {
        if index == group.index() {
            out.push(lp.introspect());
            continue;
        }
        let Some(handle) = group.loop_handle(index) else {
            continue;
        };
        let (tx, rx) = flume::bounded(1);
        let asked = handle.call_soon_threadsafe(move || {
            if let Ok(there) = crate::get_running_loop() {
                let _ = tx.send(there.introspect());
            }
        });
        if asked.is_err() {
            continue;
        }
        if let Ok(Ok(snap)) = crate::wait_for(rx.recv_async(), LOOP_TIMEOUT).await {
            out.push(snap);
        }
    }
    out
}

/// The control path `run` serves, from [`CONTROL_ENV`], if set and this is
/// a lone loop or loop 0 of a group.
pub(crate) fn control_from_env(lp: &EventLoop) -> Option<PathBuf> {
    let path = std::env::var_os(CONTROL_ENV).filter(|p| !p.is_empty())?;
    match lp.group() {
        Some(g) if g.index() != 0 => None,
        _ => Some(PathBuf::from(path)),
    }
}
