//! The Unix backend.

/// Runs a libc call and turns `-1` into `io::Error::last_os_error()` (mio's
/// `syscall!`).
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)* ) ) => {{
        #[allow(unused_unsafe)]
        // SAFETY: each call site states the invariants of its arguments.
        let res = unsafe { nix::libc::$fn($($arg, )*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

pub mod dns;
pub mod fd;
pub mod pipe;
pub mod process;
pub mod signal;
pub mod socket;
