//! Section 11: a supervisor restarts an actor that crashed; its address
//! stays valid, and the new incarnation starts from a fresh state.

use std::error::Error;
use std::rc::Rc;

use switchboard::prelude::*;
use switchboard::Exception;

/// Counts; `None` makes it panic.
struct Counter(u32);

impl Actor for Counter {
    type Message = (Option<u32>, ReplyTo<u32>);
    fn handle(&mut self, (n, reply): Self::Message, _: &mut ActorContext<'_, Self::Message>) {
        self.0 += n.expect("a counter needs a number");
        let _ = reply.send(self.0);
    }
}

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   A supervised actor that panics is started again, at the same address.");
    lp.set_exception_handler(Some(Rc::new(|_, ctx| {
        if let Some(Exception::Panic(why)) = &ctx.exception {
            println!("   crash: {why}");
        }
    })));
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the handler speaks instead
    let mut sup = lp.supervisor("tour");
    let counter = sup.actor("counter", || Counter(0));
    let out = crate::block_on(lp, async move {
        let tree = sup.await?;
        counter.call(|r| (Some(2), r)).await?;
        let before = counter.call(|r| (Some(3), r)).await?;
        println!("   counter at {before}");
        let lost = counter.call(|r| (None, r)).await;
        println!(
            "   the question that crashed it: {}",
            lost.err().map(|e| e.to_string()).unwrap_or_default()
        );
        let after = counter.call(|r| (Some(1), r)).await?;
        println!("   restarted: counter at {after}, same address");
        tree.shutdown().await?;
        Ok(())
    });
    std::panic::set_hook(hook);
    lp.set_exception_handler(None);
    out
}
