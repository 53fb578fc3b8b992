//! A one-shot actor that waits for a connecting socket to become writable.

use std::any::Any;

use switchboard_actors::{LoopActor, LoopContext, Readiness, Status};

use crate::future::LoopFuture;

/// Completes `done` at the first readiness of its socket (registered by the
/// caller under this actor's token), then ends.
pub(crate) struct Writable {
    pub(crate) done: LoopFuture<()>,
}

impl LoopActor for Writable {
    fn ready(&mut self, _r: Readiness, _cx: &mut dyn LoopContext) -> Status {
        let _ = self.done.set_result(());
        Status::Done
    }

    fn deliver(&mut self, _msg: Box<dyn Any>, _cx: &mut dyn LoopContext) -> Status {
        Status::Alive
    }

    fn shutdown(&mut self, _cx: &mut dyn LoopContext) {
        self.done.cancel();
    }

    fn describe(&self) -> String {
        "<connect waiter>".into()
    }

    fn inspect(&self, info: &mut switchboard_actors::inspect::ActorInfo) {
        info.state = "connecting".into();
    }
}
