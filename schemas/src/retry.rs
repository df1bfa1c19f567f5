//! What a failure means for a run: every library error type answers [`Retry`] for itself, so
//! the command's retry loop matches on one small enum instead of on error strings or variants
//! of other crates.

/// Whether a failed run may start again, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// An established link dropped or timed out (a reset socket, a transfer cut short): start
    /// again from the saved position (checkpoints, resume point) after a short pause.
    Reconnect,
    /// A link could not be made (connection refused, unknown host): an error on a run's very
    /// first attempt, where it is most likely a wrong address; after a run got going, the same
    /// as [`Retry::Reconnect`].
    Unreachable,
    /// The peer answered but is not ready (`LOADING`, `BUSY`, `TRYAGAIN`, `MASTERDOWN`, a
    /// broker that is electing a leader): the same request may succeed later.
    Later,
    /// It would fail the same way again (bad input, a refused value, wrong credentials): stop
    /// and say so.
    Fatal,
}

/// An error that knows whether retrying can help.
pub trait Retryable {
    fn retry(&self) -> Retry;
}
