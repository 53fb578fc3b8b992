//! Waiting for a stream transport's write buffer to reach a state.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use switchboard_actors::stream::StreamInfo;

/// Resolves once `ready(info)` holds; looked at again whenever the
/// transport's buffer shrinks, it resumes writing, or it closes.
pub(crate) struct Drained<'a, F: Fn(&StreamInfo) -> bool> {
    info: &'a StreamInfo,
    ready: F,
}

impl<'a, F: Fn(&StreamInfo) -> bool> Drained<'a, F> {
    pub(crate) fn new(info: &'a StreamInfo, ready: F) -> Self {
        Drained { info, ready }
    }
}

impl<F: Fn(&StreamInfo) -> bool> Future for Drained<'_, F> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if (self.ready)(self.info) {
            Poll::Ready(())
        } else {
            self.info.wait_drain(cx.waker());
            Poll::Pending
        }
    }
}
