//! Waiting for the first of two futures.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Which future finished first.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls `a` then `b`; resolves with the first to finish (the other is dropped).
pub(crate) struct Race<A, B> {
    a: Pin<Box<A>>,
    b: Pin<Box<B>>,
}

pub(crate) fn race<A: Future, B: Future>(a: A, b: B) -> Race<A, B> {
    Race {
        a: Box::pin(a),
        b: Box::pin(b),
    }
}

impl<A: Future, B: Future> Future for Race<A, B> {
    type Output = Either<A::Output, B::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(x) = self.a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(y) = self.b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        Poll::Pending
    }
}
