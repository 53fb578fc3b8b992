//! Section 8: an application actor owns its state; `call` asks it a question
//! and awaits the answer, which comes back through a `ReplyTo`.

use std::collections::HashMap;
use std::error::Error;

use switchboard::prelude::*;

/// What the phone book hears.
enum Book {
    Set(String, u32),
    Get(String, ReplyTo<Option<u32>>),
}

#[derive(Default)]
struct PhoneBook {
    numbers: HashMap<String, u32>,
}

impl Actor for PhoneBook {
    type Message = Book;
    fn handle(&mut self, msg: Book, _ctx: &mut ActorContext<'_, Book>) {
        match msg {
            Book::Set(name, n) => {
                self.numbers.insert(name, n);
            }
            Book::Get(name, reply) => {
                let _ = reply.send(self.numbers.get(&name).copied());
            }
        }
    }
}

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   spawn starts an actor; send tells it something, call asks and awaits.");
    let book = lp.spawn(PhoneBook::default())?;
    crate::block_on(lp, async move {
        book.send(Book::Set("ada".into(), 1815))?;
        let ada = book.call(|reply| Book::Get("ada".into(), reply)).await?;
        let bob = book.call(|reply| Book::Get("bob".into(), reply)).await?;
        println!("   ada -> {ada:?}, bob -> {bob:?}");
        Ok(())
    })
}
