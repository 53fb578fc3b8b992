//! Section 9: an application actor owns its state; `call` asks it a question
//! and awaits the answer, which comes back through a `ReplyTo`. A
//! connection's protocol asks it with `t.call`: no task, and the answer is an
//! event of the connection, in request order.

use std::collections::HashMap;
use std::error::Error;

use std::io::{Read, Write};

use switchboard::prelude::*;
use switchboard::ready_made::{FrameHandler, Lines};

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

/// What a lookup connection hears besides its lines: the book's answers.
enum Conn {
    Number(Result<Option<u32>, CallError>),
}

/// Each line is a name; each answer a line with the number.
struct Lookup {
    book: Addr<Book>,
}

impl FrameHandler<Conn> for Lookup {
    fn frame(
        &mut self,
        line: Bytes,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        let name = String::from_utf8_lossy(&line).into_owned();
        t.call(&self.book, |reply| Book::Get(name, reply), Conn::Number)?;
        Ok(())
    }
    fn event(
        &mut self,
        ev: StreamEvent<Conn>,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::Message(Conn::Number(answer)) = ev {
            let text = match answer {
                Ok(Some(n)) => n.to_string(),
                Ok(None) => "unknown".into(),
                Err(e) => format!("ERR {e}"),
            };
            t.write(format!("{text}\n").as_bytes())?;
        }
        Ok(())
    }
}

pub fn show(lp: &EventLoop) -> Result<(), Box<dyn Error>> {
    println!("   spawn starts an actor; send tells it something, call asks and awaits.");
    let book = lp.spawn(PhoneBook::default())?;
    let lp2 = lp.clone();
    crate::block_on(lp, async move {
        book.send(Book::Set("ada".into(), 1815))?;
        let ada = book.call(|reply| Book::Get("ada".into(), reply)).await?;
        let bob = book.call(|reply| Book::Get("bob".into(), reply)).await?;
        println!("   ada -> {ada:?}, bob -> {bob:?}");
        let b = book.clone();
        let server = lp2
            .create_server(move || Lines::with_handler(64, Lookup { book: b.clone() }))
            .host("127.0.0.1")
            .port(0)
            .await?;
        let port = server.sockets()[0].port();
        // A blocking client on the executor: two names, then a half-close.
        let answers = lp2
            .run_in_executor(None, move || -> std::io::Result<String> {
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
                s.write_all(b"ada\nbob\n")?;
                s.shutdown(std::net::Shutdown::Write)?;
                let mut out = String::new();
                s.read_to_string(&mut out)?;
                Ok(out)
            })?
            .await??;
        println!("   a connection asks it with t.call: {answers:?}");
        server.close();
        Ok(())
    })
}
