//! `tracing` spans (the `tracing` feature): one per actor — a connection,
//! a server, an application actor — for as long as it lives, and one per
//! message, readiness event or timer it handles, inside its actor's span.
//!
//! | span | level | fields |
//! | --- | --- | --- |
//! | `switchboard.actor` | INFO | `actor` (row), `kind`, `name`, `peer` (a transport's) |
//! | `switchboard.message` | DEBUG | none: its parent is the actor's span |
//!
//! With no subscriber, or one that filters them out, a span costs a check
//! of the level per handler call.

use switchboard_actors::inspect::ActorInfo;
use switchboard_actors::LoopActor;
use switchboard_protocols::ActorId;
use tracing::field::Empty;
use tracing::span::EnteredSpan;
use tracing::Span;

use crate::event_loop::LoopCore;

/// The span of actor `id`, made when it enters the loop's table.
pub(crate) fn actor_span(id: ActorId, actor: &dyn LoopActor, name: Option<&str>) -> Span {
    let mut info = ActorInfo::default();
    actor.inspect(&mut info);
    let span = tracing::info_span!(
        "switchboard.actor",
        actor = id.index(),
        kind = info.kind.as_str(),
        name = Empty,
        peer = Empty,
    );
    if let Some(name) = name.or(info.name.as_deref()) {
        span.record("name", name);
    }
    if let Some(peer) = info.transport.as_ref().and_then(|t| t.peer.as_deref()) {
        span.record("peer", peer);
    }
    span
}

/// Entered while an actor handles one call; exits the message's span, then
/// the actor's (fields drop in order).
pub(crate) struct Entered {
    _message: EnteredSpan,
    _actor: EnteredSpan,
}

/// Enters actor `id`'s span and a message span inside it.
pub(crate) fn enter(core: &LoopCore, id: ActorId) -> Option<Entered> {
    let span = core.actors.borrow().get(id.index())?.span.clone();
    if span.is_none() {
        return None;
    }
    let actor = span.entered();
    let message = tracing::debug_span!("switchboard.message").entered();
    Some(Entered {
        _message: message,
        _actor: actor,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::span::{Attributes, Id};
    use tracing::Subscriber;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    use crate::prelude::*;
    use crate::ready_made::Echo;

    /// A span as the layer saw it: name, fields, parent's name.
    #[derive(Debug, Clone, Default)]
    struct Seen {
        name: &'static str,
        fields: Vec<(String, String)>,
        parent: Option<u64>,
        id: u64,
    }

    #[derive(Default, Clone)]
    struct Record(Arc<Mutex<Vec<Seen>>>);

    struct Fields<'a>(&'a mut Vec<(String, String)>);
    impl tracing::field::Visit for Fields<'_> {
        fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
            self.0.push((
                f.name().to_string(),
                format!("{v:?}").trim_matches('"').to_string(),
            ));
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Record {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut seen = Seen {
                name: attrs.metadata().name(),
                id: id.into_u64(),
                parent: ctx.current_span().id().map(|p| p.into_u64()),
                ..Seen::default()
            };
            if let Some(p) = attrs.parent() {
                seen.parent = Some(p.into_u64());
            }
            attrs.record(&mut Fields(&mut seen.fields));
            self.0.lock().unwrap().push(seen);
        }
        fn on_record(&self, id: &Id, values: &tracing::span::Record<'_>, _: Context<'_, S>) {
            let mut all = self.0.lock().unwrap();
            if let Some(seen) = all.iter_mut().find(|s| s.id == id.into_u64()) {
                values.record(&mut Fields(&mut seen.fields));
            }
        }
    }

    struct Worker;
    impl Actor for Worker {
        type Message = u8;
        fn handle(&mut self, _: u8, _: &mut ActorContext<'_, u8>) {}
    }

    fn field<'a>(s: &'a Seen, name: &str) -> Option<&'a str> {
        s.fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn in12_connections_and_actors_have_spans_and_their_messages_run_inside() {
        let record = Record::default();
        let subscriber = tracing_subscriber::registry().with(record.clone());
        let client_addr = tracing::subscriber::with_default(subscriber, || {
            crate::run(|lp: EventLoop| async move {
                let worker = lp.spawn_named("worker", Worker)?;
                worker.send(1)?;
                let server = lp.create_server(|| Echo).host("127.0.0.1").port(0).await?;
                let port = server.sockets()[0].port();
                let (mut r, mut w) = lp.open_connection().host("127.0.0.1").port(port).await?;
                w.write(b"ping\n");
                r.readline().await?;
                let me = w.sockname().map(|a| a.to_string());
                server.close();
                Ok::<_, crate::Error>(me)
            })
        })
        .unwrap()
        .unwrap();
        let seen = record.0.lock().unwrap().clone();
        let actors: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.name == "switchboard.actor")
            .collect();
        let worker = actors
            .iter()
            .find(|s| field(s, "name") == Some("worker"))
            .unwrap_or_else(|| panic!("no worker span: {actors:#?}"));
        assert_eq!(field(worker, "kind"), Some("application"));
        // The server's side of the connection: a transport whose peer is
        // the client.
        let conn = actors
            .iter()
            .find(|s| {
                field(s, "kind") == Some("transport")
                    && field(s, "peer") == Some(client_addr.as_str())
            })
            .unwrap_or_else(|| {
                panic!("no span for the connection from {client_addr}: {actors:#?}")
            });
        // Their messages ran inside them.
        for owner in [worker, conn] {
            let inside = seen
                .iter()
                .filter(|s| s.name == "switchboard.message" && s.parent == Some(owner.id))
                .count();
            assert!(inside >= 1, "no message span inside {owner:?}");
        }
    }
}
