//! Errors of the framers: the ready-made ones' own, and [`Invalid`](FramingError::Invalid)
//! for any framer's.

/// A frame a framer refuses.
///
/// The first three variants are the ready-made framers'; a framer of your own
/// (a binary protocol's, say) reports what is wrong with a frame in its own
/// words with [`FramingError::invalid`].
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
    /// A frame the protocol's framing does not allow, described by the
    /// framer; displayed as the message alone.
    #[error("{message}")]
    Invalid {
        /// What is wrong, in the framer's words (a codec's error text).
        message: String,
    },
}

impl FramingError {
    /// A frame the framing does not allow, with the framer's own message.
    ///
    /// ```
    /// use switchboard::ready_made::FramingError;
    ///
    /// let err = FramingError::invalid("expected '*' or '$', got 'x'");
    /// assert_eq!(err.to_string(), "expected '*' or '$', got 'x'");
    /// assert!(matches!(err, FramingError::Invalid { .. }));
    /// ```
    pub fn invalid(message: impl Into<String>) -> Self {
        FramingError::Invalid {
            message: message.into(),
        }
    }
}
