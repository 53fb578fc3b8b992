//! `getaddrinfo(3)` and `getnameinfo(3)`, blocking; the loop runs them on
//! its executor.

use std::ffi::{CStr, CString};
use std::io;
use std::net::SocketAddr;

use nix::libc;

pub use nix::libc::{
    AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, AI_ADDRCONFIG, AI_ALL, AI_CANONNAME, AI_NUMERICHOST,
    AI_NUMERICSERV, AI_PASSIVE, AI_V4MAPPED, IPPROTO_TCP, IPPROTO_UDP, NI_DGRAM, NI_NAMEREQD,
    NI_NOFQDN, NI_NUMERICHOST, NI_NUMERICSERV, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM,
};

/// One `struct addrinfo` of a `getaddrinfo` answer, copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAddrInfo {
    /// `ai_family`.
    pub family: i32,
    /// `ai_socktype`.
    pub socktype: i32,
    /// `ai_protocol`.
    pub protocol: i32,
    /// `ai_canonname` (only on the first entry, with `AI_CANONNAME`).
    pub canonname: Option<String>,
    /// `ai_addr`, when it is an IP address.
    pub addr: Option<SocketAddr>,
}

fn gai_error(code: i32) -> io::Error {
    if code == libc::EAI_SYSTEM {
        return io::Error::last_os_error();
    }
    // SAFETY: gai_strerror returns a pointer to a static, NUL-terminated
    // message for any code.
    let msg = unsafe { CStr::from_ptr(libc::gai_strerror(code)) }
        .to_string_lossy()
        .into_owned();
    let kind = match code {
        libc::EAI_NONAME => io::ErrorKind::NotFound,
        libc::EAI_AGAIN => io::ErrorKind::WouldBlock,
        libc::EAI_FAMILY | libc::EAI_SOCKTYPE | libc::EAI_SERVICE | libc::EAI_BADFLAGS => {
            io::ErrorKind::InvalidInput
        }
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{msg} (gai error {code})"))
}

fn c_string(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "embedded NUL byte"))
}

/// `getaddrinfo(host, service, hints)`.
pub fn getaddrinfo(
    host: Option<&str>,
    service: Option<&str>,
    family: i32,
    socktype: i32,
    protocol: i32,
    flags: i32,
) -> io::Result<Vec<RawAddrInfo>> {
    let host = host.map(c_string).transpose()?;
    let service = service.map(c_string).transpose()?;
    // SAFETY: an all-zero addrinfo is a valid "no hints" value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the strings are NUL-terminated and outlive the call; `hints`
    // is initialised; `res` receives a list we free below.
    let code = unsafe {
        libc::getaddrinfo(
            host.as_ref().map_or(std::ptr::null(), |h| h.as_ptr()),
            service.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if code != 0 {
        return Err(gai_error(code));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned, not yet
        // freed.
        let ai = unsafe { &*cur };
        let canonname = (!ai.ai_canonname.is_null()).then(|| {
            // SAFETY: a non-null ai_canonname is a NUL-terminated string.
            unsafe { CStr::from_ptr(ai.ai_canonname) }
                .to_string_lossy()
                .into_owned()
        });
        let addr = if ai.ai_addr.is_null() {
            None
        } else {
            // SAFETY: ai_addr points to ai_addrlen bytes of a socket address,
            // which fit in a sockaddr_storage; they are copied before the
            // list is freed.
            let sa = unsafe {
                socket2::SockAddr::try_init(|storage, len| {
                    let n =
                        (ai.ai_addrlen as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
                    std::ptr::copy_nonoverlapping(ai.ai_addr.cast::<u8>(), storage.cast::<u8>(), n);
                    *len = n as libc::socklen_t;
                    Ok(())
                })
            };
            sa.ok().and_then(|((), a)| a.as_socket())
        };
        out.push(RawAddrInfo {
            family: ai.ai_family,
            socktype: ai.ai_socktype,
            protocol: ai.ai_protocol,
            canonname,
            addr,
        });
        cur = ai.ai_next;
    }
    // SAFETY: `res` is the list getaddrinfo returned; freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// `getnameinfo(addr, flags)`: the host and the service.
pub fn getnameinfo(addr: &SocketAddr, flags: i32) -> io::Result<(String, String)> {
    let sa = socket2::SockAddr::from(*addr);
    let mut host = [0 as libc::c_char; 1025];
    let mut serv = [0 as libc::c_char; 32];
    // SAFETY: `sa` is a valid socket address of `sa.len()` bytes; the
    // buffers are writable for the lengths given, and getnameinfo
    // NUL-terminates what it writes.
    let code = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            serv.as_mut_ptr(),
            serv.len() as libc::socklen_t,
            flags,
        )
    };
    if code != 0 {
        return Err(gai_error(code));
    }
    // SAFETY: on success both buffers hold NUL-terminated strings.
    let (h, s) = unsafe { (CStr::from_ptr(host.as_ptr()), CStr::from_ptr(serv.as_ptr())) };
    Ok((
        h.to_string_lossy().into_owned(),
        s.to_string_lossy().into_owned(),
    ))
}
