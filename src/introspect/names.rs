//! Names for servers in introspection: the builders' `.name(..)` and
//! [`Server::set_name`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

use crate::net::{CreateServer, CreateUnixServer, NetError, Server};

impl<M: 'static> CreateServer<M> {
    /// The server's name in introspection (`switchboard-ctl`, metrics
    /// labels); by default it shows as its listener's address.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<M: 'static> CreateUnixServer<M> {
    /// The server's name in introspection (`switchboard-ctl`, metrics
    /// labels); by default it shows as its socket's path.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl Server {
    /// Names the server for introspection: each of its listeners shows the
    /// name (`create_server(..).name(..)` does this once it is made).
    ///
    /// ```
    /// use switchboard::prelude::*;
    /// use switchboard::ready_made::Echo;
    /// use switchboard::introspect::ActorKind;
    ///
    /// switchboard::run(|lp: EventLoop| async move {
    ///     let server = lp.create_server(|| Echo).host("127.0.0.1").port(0).name("echo").await?;
    ///     let snap = lp.introspect();
    ///     let listener = snap.actors.iter().find(|a| a.kind == ActorKind::Server).unwrap();
    ///     assert_eq!(listener.name.as_deref(), Some("echo"));
    ///     server.close();
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn set_name(&self, name: impl Into<String>) {
        let name = name.into();
        let lp = self.get_loop();
        for (id, gen) in self.listener_rows() {
            lp.name_row(id, gen, name.clone());
        }
    }
}

/// `run`, then names the server it made.
pub(crate) async fn named(
    run: impl Future<Output = Result<Server, NetError>>,
    name: Option<String>,
) -> Result<Server, NetError> {
    let server = run.await?;
    if let Some(name) = name {
        server.set_name(name);
    }
    Ok(server)
}

/// The names of a loop's actors, by row, each with the incarnation it was
/// given to: names are rare, so they are kept here rather than in every
/// row of the actor table.
#[derive(Default)]
pub(crate) struct Names(RefCell<HashMap<usize, (u64, Box<str>)>>);

impl Names {
    /// Names incarnation `gen` of row `row`.
    pub(crate) fn set(&self, row: usize, gen: u64, name: Box<str>) {
        self.0.borrow_mut().insert(row, (gen, name));
    }

    /// The name of incarnation `gen` of row `row`, if it has one.
    pub(crate) fn get(&self, row: usize, gen: u64) -> Option<Box<str>> {
        match self.0.borrow().get(&row) {
            Some((g, name)) if *g == gen => Some(name.clone()),
            _ => None,
        }
    }

    /// Row `row` was freed: its name goes with it.
    pub(crate) fn forget(&self, row: usize) {
        let mut names = self.0.borrow_mut();
        if !names.is_empty() {
            names.remove(&row);
        }
    }
}
