//! The file a Unix server's socket is bound to, and its removal on close.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The socket file a Unix server created by binding. On close it is removed
/// only if the path still holds that very socket (same device and inode), as
/// asyncio 3.13's `cleanup_socket` does: a file another server bound there
/// since, or one already removed, is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// Records the socket file now at `path` (call right after binding).
    pub fn record(path: &Path) -> io::Result<SocketFile> {
        let meta = std::fs::metadata(path)?;
        Ok(SocketFile {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while the path still holds the recorded socket.
    pub fn is_ours(&self) -> bool {
        std::fs::metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && m.dev() == self.dev && m.ino() == self.ino)
    }

    /// Removes the file if it is still the recorded socket; a missing file
    /// or one replaced by another is no error and is left alone.
    pub fn remove_if_ours(&self) -> io::Result<()> {
        if !self.is_ours() {
            return Ok(());
        }
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
