//! Errors of the ready-made framers.

/// A frame the ready-made framers refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// A line (not counting its `\n`) is longer than the framer's maximum.
    #[error("line longer than {max} bytes")]
    LineTooLong {
        /// The maximum line length.
        max: usize,
    },
    /// A length header announces more than the framer's maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// The maximum frame length.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame ({buffered} bytes buffered)")]
    Truncated {
        /// Bytes of the unfinished frame that had arrived (after its header).
        buffered: usize,
    },
}
