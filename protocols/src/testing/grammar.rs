//! A checker for the stream grammar documented on [`crate::StreamEvent`].
//!
//! ```text
//! ConnectionMade (Data | BufferUpdated | PauseWriting | ResumeWriting | Message)*
//!     [EofReceived (PauseWriting | ResumeWriting | Message)*] ConnectionLost
//! ```

use super::event_log::Recorded;

/// How a log breaks the stream grammar. Every variant names the index of the
/// first offending event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrammarError {
    /// The first event is not `ConnectionMade`.
    #[error("event {index} is {event}, but ConnectionMade must come first")]
    NotMadeFirst {
        /// Always 0.
        index: usize,
        /// The event found instead.
        event: &'static str,
    },
    /// A second `ConnectionMade`.
    #[error("event {index} is a second ConnectionMade")]
    MadeTwice {
        /// Where.
        index: usize,
    },
    /// Something after `ConnectionLost` (including a second one).
    #[error("event {index} ({event}) comes after ConnectionLost")]
    AfterLost {
        /// Where.
        index: usize,
        /// The event found.
        event: &'static str,
    },
    /// A second `EofReceived`.
    #[error("event {index} is a second EofReceived")]
    EofTwice {
        /// Where.
        index: usize,
    },
    /// `DataReceived` or `BufferUpdated` after `EofReceived`.
    #[error("event {index} ({event}) comes after EofReceived")]
    DataAfterEof {
        /// Where.
        index: usize,
        /// The event found.
        event: &'static str,
    },
    /// `PauseWriting` while already paused.
    #[error("event {index} is PauseWriting while writing is already paused")]
    PauseTwice {
        /// Where.
        index: usize,
    },
    /// `ResumeWriting` without a `PauseWriting` before it.
    #[error("event {index} is ResumeWriting without a PauseWriting before it")]
    ResumeWithoutPause {
        /// Where.
        index: usize,
    },
    /// A finished log that does not end with `ConnectionLost`.
    #[error("the log of {len} events does not end with ConnectionLost")]
    NotLost {
        /// The log's length.
        len: usize,
    },
}

/// Checks a *finished* connection's log: the grammar holds and the log ends
/// with exactly one `ConnectionLost`.
///
/// ```
/// use switchboard::testing::{check_stream_grammar, GrammarError, Recorded};
///
/// let ok = [Recorded::ConnectionMade, Recorded::Eof, Recorded::Lost(None)];
/// assert_eq!(check_stream_grammar(&ok), Ok(()));
///
/// let resumed_first = [Recorded::ConnectionMade, Recorded::ResumeWriting];
/// assert_eq!(
///     check_stream_grammar(&resumed_first),
///     Err(GrammarError::ResumeWithoutPause { index: 1 }),
/// );
/// ```
pub fn check_stream_grammar(log: &[Recorded]) -> Result<(), GrammarError> {
    check_stream_prefix(log)?;
    match log.last() {
        Some(Recorded::Lost(_)) => Ok(()),
        _ => Err(GrammarError::NotLost { len: log.len() }),
    }
}

/// Checks the log of a connection that may still be open: every rule of the
/// grammar except that `ConnectionLost` must have come. An empty log passes.
///
/// ```
/// use switchboard::testing::{check_stream_prefix, Recorded};
/// assert!(check_stream_prefix(&[Recorded::ConnectionMade, Recorded::PauseWriting]).is_ok());
/// ```
pub fn check_stream_prefix(log: &[Recorded]) -> Result<(), GrammarError> {
    let mut eof = false;
    let mut paused = false;
    let mut lost = false;
    for (index, event) in log.iter().enumerate() {
        if index == 0 && *event != Recorded::ConnectionMade {
            return Err(GrammarError::NotMadeFirst {
                index,
                event: event.name(),
            });
        }
        if lost {
            return Err(GrammarError::AfterLost {
                index,
                event: event.name(),
            });
        }
        match event {
            Recorded::ConnectionMade if index > 0 => return Err(GrammarError::MadeTwice { index }),
            Recorded::ConnectionMade | Recorded::Message(_) | Recorded::TimerFired(_) => {}
            Recorded::Data(_) | Recorded::BufferUpdated(_) if eof => {
                return Err(GrammarError::DataAfterEof {
                    index,
                    event: event.name(),
                })
            }
            Recorded::Data(_) | Recorded::BufferUpdated(_) => {}
            Recorded::Eof if eof => return Err(GrammarError::EofTwice { index }),
            Recorded::Eof => eof = true,
            Recorded::PauseWriting if paused => return Err(GrammarError::PauseTwice { index }),
            Recorded::PauseWriting => paused = true,
            Recorded::ResumeWriting if !paused => {
                return Err(GrammarError::ResumeWithoutPause { index })
            }
            Recorded::ResumeWriting => paused = false,
            Recorded::Lost(_) => lost = true,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use Recorded::*;

    fn data() -> Recorded {
        Data(Bytes::from_static(b"x"))
    }

    #[test]
    fn checker_full_grammar_passes() {
        let log = [
            ConnectionMade,
            data(),
            PauseWriting,
            Message("m".into()),
            ResumeWriting,
            data(),
            Eof,
            PauseWriting,
            ResumeWriting,
            Lost(None),
        ];
        assert_eq!(check_stream_grammar(&log), Ok(()));
    }

    #[test]
    fn checker_buffered_grammar_passes() {
        let log = [ConnectionMade, BufferUpdated(7), Eof, Lost(None)];
        assert_eq!(check_stream_grammar(&log), Ok(()));
    }

    #[test]
    fn checker_made_must_come_first_and_once() {
        assert_eq!(
            check_stream_prefix(&[data()]),
            Err(GrammarError::NotMadeFirst {
                index: 0,
                event: "DataReceived"
            })
        );
        assert_eq!(
            check_stream_prefix(&[ConnectionMade, ConnectionMade]),
            Err(GrammarError::MadeTwice { index: 1 })
        );
    }

    #[test]
    fn checker_lost_must_be_last_and_once() {
        assert_eq!(
            check_stream_grammar(&[ConnectionMade, data()]),
            Err(GrammarError::NotLost { len: 2 })
        );
        assert_eq!(
            check_stream_grammar(&[]),
            Err(GrammarError::NotLost { len: 0 })
        );
        assert_eq!(
            check_stream_prefix(&[ConnectionMade, Lost(None), Lost(None)]),
            Err(GrammarError::AfterLost {
                index: 2,
                event: "ConnectionLost"
            })
        );
    }

    #[test]
    fn checker_no_data_after_eof() {
        assert_eq!(
            check_stream_prefix(&[ConnectionMade, Eof, data()]),
            Err(GrammarError::DataAfterEof {
                index: 2,
                event: "DataReceived"
            })
        );
        assert_eq!(
            check_stream_prefix(&[ConnectionMade, Eof, BufferUpdated(1)]),
            Err(GrammarError::DataAfterEof {
                index: 2,
                event: "BufferUpdated"
            })
        );
        assert_eq!(
            check_stream_prefix(&[ConnectionMade, Eof, Eof]),
            Err(GrammarError::EofTwice { index: 2 })
        );
    }

    #[test]
    fn checker_pause_and_resume_alternate() {
        assert_eq!(
            check_stream_prefix(&[ConnectionMade, PauseWriting, PauseWriting]),
            Err(GrammarError::PauseTwice { index: 2 })
        );
        assert_eq!(
            check_stream_prefix(&[ConnectionMade, PauseWriting, ResumeWriting, ResumeWriting]),
            Err(GrammarError::ResumeWithoutPause { index: 3 })
        );
    }

    #[test]
    fn checker_resume_never_after_lost() {
        let err = check_stream_prefix(&[ConnectionMade, PauseWriting, Lost(None), ResumeWriting]);
        assert_eq!(
            err,
            Err(GrammarError::AfterLost {
                index: 3,
                event: "ResumeWriting"
            })
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "event 3 (ResumeWriting) comes after ConnectionLost"
        );
    }

    #[test]
    fn empty_prefix_passes() {
        assert_eq!(check_stream_prefix(&[]), Ok(()));
    }
}
