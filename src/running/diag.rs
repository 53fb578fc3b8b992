//! Diagnostics a user must see (slow callbacks, unclosed resources, errors the
//! default exception handler reports): the `log` crate when a logger is
//! installed, stderr otherwise. See `switchboard_actors::diag`.

pub(crate) use switchboard_actors::diag::emit;

macro_rules! warning {
    ($($t:tt)*) => {
        $crate::diag::emit(log::Level::Warn, format_args!($($t)*))
    };
}

macro_rules! error {
    ($($t:tt)*) => {
        $crate::diag::emit(log::Level::Error, format_args!($($t)*))
    };
}

pub(crate) use {error, warning};
