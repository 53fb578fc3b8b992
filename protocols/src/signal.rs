//! [`Signal`]: switchboard's own names for the POSIX signals, and
//! [`SignalError`].
//!
//! The numbers are the platform's; this crate is platform-free, so they are
//! written out per OS family here, and `switchboard-actors` checks them
//! against the C library at compile time.

use std::fmt;

/// Why a signal handler could not be added or removed, or a number is not a
/// signal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// Not the number of a signal [`Signal`] names (asyncio's `ValueError`
    /// for numbers outside `range(1, NSIG)`; real-time signals are not named
    /// either).
    #[error("sig {0} is not the number of a signal switchboard names")]
    InvalidSignal(i32),
    /// SIGKILL or SIGSTOP (asyncio's `RuntimeError`).
    #[error("{0} cannot be caught")]
    Uncatchable(Signal),
    /// The loop is closed.
    #[error("event loop is closed")]
    Closed,
    /// The OS refused (the pipe, `sigaction`, registration).
    #[error("cannot set a handler for signal {sig}: {source}")]
    Os {
        /// The signal.
        sig: Signal,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// A signal arrived: the message an actor subscribed to a signal with
/// `EventLoop::subscribe_signal` receives (its message type implements
/// `From<SignalReceived>`).
///
/// Sent on the loop thread after the OS handler woke the loop; a burst of
/// the same signal may come as one message, but a signal that arrives after
/// a message was sent always brings another one (SG4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalReceived {
    /// Which signal.
    pub signal: Signal,
}

/// The platform's signal numbers (Linux on its common architectures).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(missing_docs)]
mod signum {
    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
    pub const SIGQUIT: i32 = 3;
    pub const SIGILL: i32 = 4;
    pub const SIGTRAP: i32 = 5;
    pub const SIGABRT: i32 = 6;
    pub const SIGBUS: i32 = 7;
    pub const SIGFPE: i32 = 8;
    pub const SIGKILL: i32 = 9;
    pub const SIGUSR1: i32 = 10;
    pub const SIGSEGV: i32 = 11;
    pub const SIGUSR2: i32 = 12;
    pub const SIGPIPE: i32 = 13;
    pub const SIGALRM: i32 = 14;
    pub const SIGTERM: i32 = 15;
    pub const SIGCHLD: i32 = 17;
    pub const SIGCONT: i32 = 18;
    pub const SIGSTOP: i32 = 19;
    pub const SIGTSTP: i32 = 20;
    pub const SIGTTIN: i32 = 21;
    pub const SIGTTOU: i32 = 22;
    pub const SIGURG: i32 = 23;
    pub const SIGXCPU: i32 = 24;
    pub const SIGXFSZ: i32 = 25;
    pub const SIGVTALRM: i32 = 26;
    pub const SIGPROF: i32 = 27;
    pub const SIGWINCH: i32 = 28;
    pub const SIGIO: i32 = 29;
    pub const SIGSYS: i32 = 31;
}

/// The platform's signal numbers (the BSDs and macOS).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[allow(missing_docs)]
mod signum {
    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
    pub const SIGQUIT: i32 = 3;
    pub const SIGILL: i32 = 4;
    pub const SIGTRAP: i32 = 5;
    pub const SIGABRT: i32 = 6;
    pub const SIGFPE: i32 = 8;
    pub const SIGKILL: i32 = 9;
    pub const SIGBUS: i32 = 10;
    pub const SIGSEGV: i32 = 11;
    pub const SIGSYS: i32 = 12;
    pub const SIGPIPE: i32 = 13;
    pub const SIGALRM: i32 = 14;
    pub const SIGTERM: i32 = 15;
    pub const SIGURG: i32 = 16;
    pub const SIGSTOP: i32 = 17;
    pub const SIGTSTP: i32 = 18;
    pub const SIGCONT: i32 = 19;
    pub const SIGCHLD: i32 = 20;
    pub const SIGTTIN: i32 = 21;
    pub const SIGTTOU: i32 = 22;
    pub const SIGIO: i32 = 23;
    pub const SIGXCPU: i32 = 24;
    pub const SIGXFSZ: i32 = 25;
    pub const SIGVTALRM: i32 = 26;
    pub const SIGPROF: i32 = 27;
    pub const SIGWINCH: i32 = 28;
    pub const SIGUSR1: i32 = 30;
    pub const SIGUSR2: i32 = 31;
}

/// A POSIX signal, by name. `add_signal_handler`, `remove_signal_handler` and
/// a subprocess's `send_signal` take it; a raw number converts with
/// `TryFrom<i32>`, and `as i32` (or [`number`](Signal::number)) gives the
/// platform's number back.
///
/// `SIGKILL` and `SIGSTOP` are here because they can be sent (a subprocess's
/// `send_signal`); a handler for
/// them is refused with [`SignalError::Uncatchable`].
///
/// ```
/// use switchboard_protocols::Signal;
/// let sig = Signal::try_from(15)?;
/// assert_eq!(sig, Signal::SIGTERM);
/// assert_eq!(sig.to_string(), "SIGTERM");
/// assert!(Signal::try_from(0).is_err());
/// # Ok::<(), switchboard_protocols::SignalError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
#[non_exhaustive]
pub enum Signal {
    /// Hangup: the controlling terminal closed; daemons reload on it.
    SIGHUP = signum::SIGHUP,
    /// Interrupt from the keyboard (Ctrl+C).
    SIGINT = signum::SIGINT,
    /// Quit from the keyboard (Ctrl+\\).
    SIGQUIT = signum::SIGQUIT,
    /// Illegal instruction.
    SIGILL = signum::SIGILL,
    /// Trace or breakpoint trap.
    SIGTRAP = signum::SIGTRAP,
    /// Abort.
    SIGABRT = signum::SIGABRT,
    /// Bus error.
    SIGBUS = signum::SIGBUS,
    /// Arithmetic error.
    SIGFPE = signum::SIGFPE,
    /// Kill; cannot be caught, only sent.
    SIGKILL = signum::SIGKILL,
    /// User-defined signal 1.
    SIGUSR1 = signum::SIGUSR1,
    /// Invalid memory reference.
    SIGSEGV = signum::SIGSEGV,
    /// User-defined signal 2.
    SIGUSR2 = signum::SIGUSR2,
    /// Write to a pipe with no reader.
    SIGPIPE = signum::SIGPIPE,
    /// Timer from `alarm`.
    SIGALRM = signum::SIGALRM,
    /// Termination request (the polite kill).
    SIGTERM = signum::SIGTERM,
    /// A child stopped or exited.
    SIGCHLD = signum::SIGCHLD,
    /// Continue if stopped.
    SIGCONT = signum::SIGCONT,
    /// Stop; cannot be caught, only sent.
    SIGSTOP = signum::SIGSTOP,
    /// Stop typed at the terminal (Ctrl+Z).
    SIGTSTP = signum::SIGTSTP,
    /// Terminal input for a background process.
    SIGTTIN = signum::SIGTTIN,
    /// Terminal output for a background process.
    SIGTTOU = signum::SIGTTOU,
    /// Urgent data on a socket.
    SIGURG = signum::SIGURG,
    /// CPU time limit exceeded.
    SIGXCPU = signum::SIGXCPU,
    /// File size limit exceeded.
    SIGXFSZ = signum::SIGXFSZ,
    /// Virtual alarm clock.
    SIGVTALRM = signum::SIGVTALRM,
    /// Profiling timer expired.
    SIGPROF = signum::SIGPROF,
    /// The terminal window changed size.
    SIGWINCH = signum::SIGWINCH,
    /// I/O is possible on a descriptor.
    SIGIO = signum::SIGIO,
    /// Bad system call.
    SIGSYS = signum::SIGSYS,
}

impl Signal {
    /// Every signal this enum names.
    pub const ALL: &'static [Signal] = &[
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGILL,
        Signal::SIGTRAP,
        Signal::SIGABRT,
        Signal::SIGBUS,
        Signal::SIGFPE,
        Signal::SIGKILL,
        Signal::SIGUSR1,
        Signal::SIGSEGV,
        Signal::SIGUSR2,
        Signal::SIGPIPE,
        Signal::SIGALRM,
        Signal::SIGTERM,
        Signal::SIGCHLD,
        Signal::SIGCONT,
        Signal::SIGSTOP,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGURG,
        Signal::SIGXCPU,
        Signal::SIGXFSZ,
        Signal::SIGVTALRM,
        Signal::SIGPROF,
        Signal::SIGWINCH,
        Signal::SIGIO,
        Signal::SIGSYS,
    ];

    /// The platform's number for this signal.
    pub fn number(self) -> i32 {
        self as i32
    }

    /// The signal's name (`"SIGINT"`).
    pub fn name(self) -> &'static str {
        match self {
            Signal::SIGHUP => "SIGHUP",
            Signal::SIGINT => "SIGINT",
            Signal::SIGQUIT => "SIGQUIT",
            Signal::SIGILL => "SIGILL",
            Signal::SIGTRAP => "SIGTRAP",
            Signal::SIGABRT => "SIGABRT",
            Signal::SIGBUS => "SIGBUS",
            Signal::SIGFPE => "SIGFPE",
            Signal::SIGKILL => "SIGKILL",
            Signal::SIGUSR1 => "SIGUSR1",
            Signal::SIGSEGV => "SIGSEGV",
            Signal::SIGUSR2 => "SIGUSR2",
            Signal::SIGPIPE => "SIGPIPE",
            Signal::SIGALRM => "SIGALRM",
            Signal::SIGTERM => "SIGTERM",
            Signal::SIGCHLD => "SIGCHLD",
            Signal::SIGCONT => "SIGCONT",
            Signal::SIGSTOP => "SIGSTOP",
            Signal::SIGTSTP => "SIGTSTP",
            Signal::SIGTTIN => "SIGTTIN",
            Signal::SIGTTOU => "SIGTTOU",
            Signal::SIGURG => "SIGURG",
            Signal::SIGXCPU => "SIGXCPU",
            Signal::SIGXFSZ => "SIGXFSZ",
            Signal::SIGVTALRM => "SIGVTALRM",
            Signal::SIGPROF => "SIGPROF",
            Signal::SIGWINCH => "SIGWINCH",
            Signal::SIGIO => "SIGIO",
            Signal::SIGSYS => "SIGSYS",
        }
    }

    /// True for SIGKILL and SIGSTOP, which no handler can catch.
    pub fn is_uncatchable(self) -> bool {
        matches!(self, Signal::SIGKILL | Signal::SIGSTOP)
    }
}

impl TryFrom<i32> for Signal {
    type Error = SignalError;

    /// The signal with the platform's number `number`;
    /// [`SignalError::InvalidSignal`] for a number this enum does not name.
    fn try_from(number: i32) -> Result<Self, SignalError> {
        Signal::ALL
            .iter()
            .copied()
            .find(|s| s.number() == number)
            .ok_or(SignalError::InvalidSignal(number))
    }
}

impl From<Signal> for i32 {
    fn from(sig: Signal) -> i32 {
        sig.number()
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_round_trips_through_its_number() {
        for &sig in Signal::ALL {
            assert_eq!(Signal::try_from(sig.number()).ok(), Some(sig), "{sig}");
        }
    }

    #[test]
    fn numbers_outside_the_enum_are_refused() {
        for n in [0, -1, 65, i32::MAX] {
            assert!(matches!(Signal::try_from(n), Err(SignalError::InvalidSignal(m)) if m == n));
        }
    }
}
