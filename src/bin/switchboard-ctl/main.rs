//! `switchboard-ctl`: look inside a running switchboard service from outside.
//!
//! A service that serves its loops' snapshots on a Unix control socket
//! (`EventLoop::serve_control`) can be read with:
//!
//! ```text
//! switchboard-ctl ps   PATH    one line per actor, a summary line per loop
//! switchboard-ctl tree PATH    servers with their connections, supervisors
//!                              with their children, one section per loop
//! switchboard-ctl top  PATH    a live view, refreshed every second
//! switchboard-ctl json PATH    the raw reply, pretty-printed
//! ```
//!
//! Like Python 3.14's `python -m asyncio ps PID` and tokio-console, the
//! tool is read-only and lives outside the service; it only moves and
//! prints the snapshot (`switchboard::introspect::ControlReply`):
//!
//! ```text
//!   switchboard-ctl ──connect PATH, "snapshot\n"──► control socket (the loop)
//!                   ◄──────── one JSON ControlReply, then EOF ──────┘
//!   query ─► ControlReply ─► render_ps / render_tree / render_top ─► stdout
//! ```
//!
//! Rooms: [`args`] parses the command line, [`query`] talks to the socket,
//! [`ps`], [`tree`] and [`top`] render (pure functions of the reply),
//! [`terminal`] is `top`'s screen and keyboard, [`table`], [`units`] and
//! [`summary`] are the formatting they share.
//!
//! Exit status: 0 on success, 1 when the service cannot be reached or gives
//! no usable answer, 2 on bad usage.
#![forbid(unsafe_code)]

mod args;
mod ps;
mod query;
mod summary;
mod table;
mod terminal;
mod top;
mod tree;
mod units;

#[cfg(test)]
mod fixture;

use std::io::{self, Write};
use std::process::ExitCode;

use args::{Args, Command, Parsed, USAGE};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => return print(USAGE),
        Err(e) => {
            eprintln!("switchboard-ctl: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchboard-ctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed (exit status 1).
#[derive(Debug)]
pub enum CtlError {
    /// The service gave no usable reply.
    Query(query::QueryError),
    /// Stdout failed (other than a reader that went away).
    Stdout(io::Error),
}

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CtlError::Query(e) => e.fmt(f),
            CtlError::Stdout(e) => write!(f, "cannot write to stdout: {e}"),
        }
    }
}

impl From<query::QueryError> for CtlError {
    fn from(e: query::QueryError) -> CtlError {
        CtlError::Query(e)
    }
}

/// Runs one command against the socket.
fn run(args: &Args) -> Result<ExitCode, CtlError> {
    let text = match args.command {
        Command::Ps => ps::render_ps(&query::snapshot(&args.path, args.timeout)?),
        Command::Tree => tree::render_tree(&query::snapshot(&args.path, args.timeout)?),
        Command::Json => query::json(&args.path, args.timeout)?,
        Command::Top => return top::run(args).map(|()| ExitCode::SUCCESS),
    };
    Ok(print(&text))
}

/// Writes `text` (and a final newline if it lacks one) to stdout. A reader
/// that went away (`| head`) ends the tool quietly, as SIGPIPE would.
fn print(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    match out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(newline.as_bytes()))
        .and_then(|()| out.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard-ctl: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
