//! The command line: `switchboard-ctl <ps|tree|top|json> [OPTIONS] PATH`.
//!
//! Hand-parsed (the tool depends on nothing but std, serde_json and the
//! switchboard crate). Options may come before or after `PATH`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Printed with `--help` (to stdout) and after a usage error (to stderr).
pub const USAGE: &str = "\
usage: switchboard-ctl <ps|tree|top|json> [OPTIONS] PATH

  ps     one line per actor (kind, name, state, mailbox, messages handled)
  tree   servers with their connections, supervisors with their children
  top    a live view; q or Ctrl-C quits
  json   the raw reply, pretty-printed

PATH is the service's control socket (EventLoop::serve_control).

options:
  --timeout SECONDS     give up on an unanswered query after this long (default 5)
  --interval SECONDS    top: time between refreshes (default 1)
  --iterations N        top: stop after N refreshes
  -h, --help            print this";

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// One line per actor.
    Ps,
    /// The supervision and server tree.
    Tree,
    /// The live view.
    Top,
    /// The raw reply.
    Json,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// What to print.
    pub command: Command,
    /// The control socket.
    pub path: PathBuf,
    /// How long one query may take, connect to EOF.
    pub timeout: Duration,
    /// `top`: the time between refreshes.
    pub interval: Duration,
    /// `top`: stop after this many refreshes (`None`: until q or Ctrl-C).
    pub iterations: Option<u64>,
}

/// The outcome of parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// `-h` or `--help`.
    Help,
    /// Run a command.
    Run(Args),
}

/// Why the command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Parses the arguments after the program name.
pub fn parse(argv: &[String]) -> Result<Parsed, UsageError> {
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Parsed::Help);
    }
    let mut it = argv.iter();
    let command = match it.next().map(String::as_str) {
        Some("ps") => Command::Ps,
        Some("tree") => Command::Tree,
        Some("top") => Command::Top,
        Some("json") => Command::Json,
        Some(other) => return Err(usage(format!("unknown command `{other}`"))),
        None => return Err(usage("missing command")),
    };
    let mut path = None;
    let mut timeout = Duration::from_secs(5);
    let mut interval = Duration::from_secs(1);
    let mut iterations = None;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| usage(format!("`{name}` needs a value")))
        };
        match arg.as_str() {
            "--timeout" => timeout = seconds("--timeout", value("--timeout")?)?,
            "--interval" if command == Command::Top => {
                interval = seconds("--interval", value("--interval")?)?;
            }
            "--iterations" if command == Command::Top => {
                let v = value("--iterations")?;
                iterations = Some(v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    usage(format!("`--iterations` wants a positive count, not `{v}`"))
                })?);
            }
            opt if opt.starts_with("--") => {
                return Err(usage(format!("unknown option `{opt}` for this command")))
            }
            p if path.is_none() => path = Some(PathBuf::from(p)),
            extra => return Err(usage(format!("unexpected argument `{extra}`"))),
        }
    }
    let path = path.ok_or_else(|| usage("missing PATH (the control socket)"))?;
    Ok(Parsed::Run(Args {
        command,
        path,
        timeout,
        interval,
        iterations,
    }))
}

/// A positive number of seconds, e.g. `5` or `0.25`.
fn seconds(name: &str, v: &str) -> Result<Duration, UsageError> {
    v.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            usage(format!(
                "`{name}` wants a positive number of seconds, not `{v}`"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Parsed, UsageError> {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&argv)
    }

    fn run(line: &str) -> Args {
        match parse_str(line) {
            Ok(Parsed::Run(args)) => args,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn each_command_takes_a_path_and_defaults() {
        let a = run("ps /tmp/s");
        assert_eq!(a.command, Command::Ps);
        assert_eq!(a.path, PathBuf::from("/tmp/s"));
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert_eq!(run("tree s").command, Command::Tree);
        assert_eq!(run("json s").command, Command::Json);
        let t = run("top s");
        assert_eq!(
            (t.command, t.interval, t.iterations),
            (Command::Top, Duration::from_secs(1), None)
        );
    }

    #[test]
    fn options_go_before_or_after_the_path() {
        let a = run("top --iterations 3 s --interval 0.25 --timeout 2");
        assert_eq!(a.iterations, Some(3));
        assert_eq!(a.interval, Duration::from_millis(250));
        assert_eq!(a.timeout, Duration::from_secs(2));
        assert_eq!(a.path, PathBuf::from("s"));
    }

    #[test]
    fn help_wins_wherever_it_is() {
        assert_eq!(parse_str("--help"), Ok(Parsed::Help));
        assert_eq!(parse_str("ps -h"), Ok(Parsed::Help));
    }

    #[test]
    fn bad_lines_are_refused_with_a_reason() {
        for (line, why) in [
            ("", "missing command"),
            ("frob s", "unknown command `frob`"),
            ("ps", "missing PATH"),
            ("ps a b", "unexpected argument `b`"),
            ("ps --iterations 2 s", "unknown option `--iterations`"),
            ("top --iterations 0 s", "positive count"),
            ("top --iterations s", "positive count, not `s`"),
            ("top s --interval", "`--interval` needs a value"),
            ("ps --timeout -1 s", "positive number of seconds"),
            ("ps --timeout nan s", "positive number of seconds"),
        ] {
            let err = parse_str(line).expect_err(line);
            assert!(err.to_string().contains(why), "{line}: {err}");
        }
    }
}
