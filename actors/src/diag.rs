//! Diagnostics a user must see: through the `log` crate when a logger is
//! installed, and on stderr when none is, as asyncio's logging prints
//! warnings and errors through its last-resort handler when the application
//! configured none.

use std::fmt;

pub use log::Level;

/// Emits one diagnostic at `level`: to the installed logger, or to stderr
/// (prefixed `switchboard:`) when no logger is installed (the `log` crate's
/// maximum level is still `Off`, as it is until a logger sets it).
pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    if log::max_level() == log::LevelFilter::Off {
        eprintln!("switchboard: {}: {args}", level.as_str().to_lowercase());
    } else {
        log::log!(target: "switchboard", level, "{args}");
    }
}

/// `warning!(..)`: a warning through [`emit`].
macro_rules! warning {
    ($($t:tt)*) => {
        $crate::diag::emit($crate::diag::Level::Warn, format_args!($($t)*))
    };
}

pub(crate) use warning;
