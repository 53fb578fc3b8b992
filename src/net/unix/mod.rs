//! Unix-domain stream sockets: `create_unix_connection` and
//! `create_unix_server`, over the same stream transport as TCP.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#creating-network-servers>

mod connection;
mod server;

pub use connection::CreateUnixConnection;
pub(crate) use server::remove_stale_socket;
pub use server::CreateUnixServer;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use switchboard_protocols::Address;

/// The address a path names: a Linux abstract name when it starts with a
/// NUL byte (asyncio's `'\0name'`), else a filesystem path.
pub(crate) fn address_of(path: &Path) -> Address {
    match path.as_os_str().as_bytes() {
        [0, name @ ..] => Address::Abstract(name.to_vec()),
        _ => Address::Unix(path.to_path_buf()),
    }
}
