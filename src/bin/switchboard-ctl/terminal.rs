//! `top`'s screen and keyboard, with std alone (no curses, no termios
//! crate: the root crate forbids `unsafe` and does not depend on nix).
//!
//! * Keys: when stdin is a terminal, `stty -icanon -echo -isig` (run with
//!   the terminal as its stdin) makes each key press readable at once and
//!   turns Ctrl-C into a byte instead of SIGINT; a thread reads stdin and
//!   reports `q`, `Q` or Ctrl-C. [`Drop`] puts back the settings `stty -g`
//!   saved. If stdin is not a terminal or `stty` fails, no key is read and
//!   Ctrl-C (SIGINT's default action) or `--iterations` ends the tool.
//! * Screen: when stdout is a terminal each frame is drawn from the top
//!   left (`ESC[H`), each line cleared to its end (`ESC[K`) and the rest of
//!   the screen below cleared (`ESC[J`), which does not flicker as a full
//!   clear would. While keys are read (so the tool, not a signal, decides
//!   when it ends) it uses the alternate screen and hides the cursor, and
//!   [`Drop`] undoes both. When stdout is not a terminal, frames are
//!   printed one after another, separated by a blank line, without escapes.
//!
//! A SIGTERM or SIGKILL while keys are read leaves the terminal as `stty`
//! set it (`stty sane` or `reset` repairs it); there is no handler to catch
//! them without a signal crate.

use std::io::{self, IsTerminal, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// What ended a [`Terminal::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The time passed.
    Elapsed,
    /// The user pressed `q` or Ctrl-C.
    Quit,
}

/// The terminal while `top` runs; dropping it restores it.
#[derive(Debug)]
pub struct Terminal {
    /// `stty -g`'s settings from before, when `stty` changed them.
    saved: Option<String>,
    /// Stdout is a terminal: draw with escapes.
    screen: bool,
    /// The alternate screen is on.
    alternate: bool,
    /// Quit requests from the key thread.
    keys: Option<Receiver<()>>,
}

impl Terminal {
    /// Sets the terminal up as the module doc says.
    pub fn open() -> Terminal {
        let screen = io::stdout().is_terminal();
        let saved = if io::stdin().is_terminal() {
            stty(&["-g"])
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .filter(|_| stty(&["-icanon", "-echo", "-isig", "min", "1", "time", "0"]).is_some())
        } else {
            None
        };
        let keys = saved.as_ref().map(|_| read_keys());
        let alternate = screen && keys.is_some();
        if alternate {
            let mut out = io::stdout().lock();
            let _ = out.write_all(b"\x1b[?1049h\x1b[?25l");
            let _ = out.flush();
        }
        Terminal {
            saved,
            screen,
            alternate,
            keys,
        }
    }

    /// True while `q` and Ctrl-C are read as keys.
    pub fn reads_keys(&self) -> bool {
        self.keys.is_some()
    }

    /// The window's (columns, rows): from `stty size` when stdin is the
    /// terminal, else `COLUMNS` and `LINES`, else 80 × 24. Unlimited when
    /// stdout is not a terminal: a file or a pipe gets whole frames.
    pub fn size(&self) -> (usize, usize) {
        if !self.screen {
            return (usize::MAX, usize::MAX);
        }
        let from_stty = io::stdin()
            .is_terminal()
            .then(|| stty(&["size"]))
            .flatten()
            .and_then(|s| {
                let mut it = s.split_whitespace().map(|n| n.parse::<usize>().ok());
                Some((it.next()??, it.next()??))
            })
            .map(|(rows, cols)| (cols, rows));
        let env = |name: &str| std::env::var(name).ok()?.parse::<usize>().ok();
        let (cols, rows) =
            from_stty.unwrap_or((env("COLUMNS").unwrap_or(80), env("LINES").unwrap_or(24)));
        (cols.max(20), rows.max(5))
    }

    /// Draws one frame.
    pub fn draw(&self, frame: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if self.screen {
            let mut buf = String::from("\x1b[H");
            for line in frame.lines() {
                buf.push_str(line);
                buf.push_str("\x1b[K\n");
            }
            buf.push_str("\x1b[J");
            out.write_all(buf.as_bytes())?;
        } else {
            out.write_all(frame.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Waits `d`, or less if the user quits.
    pub fn wait(&mut self, d: Duration) -> Wait {
        if let Some(keys) = &self.keys {
            match keys.recv_timeout(d) {
                Ok(()) => return Wait::Quit,
                Err(RecvTimeoutError::Timeout) => return Wait::Elapsed,
                // stdin closed: no more keys, wait the plain way.
                Err(RecvTimeoutError::Disconnected) => self.keys = None,
            }
        }
        thread::sleep(d);
        Wait::Elapsed
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.alternate {
            let mut out = io::stdout().lock();
            let _ = out.write_all(b"\x1b[?25h\x1b[?1049l");
            let _ = out.flush();
        }
        if let Some(saved) = &self.saved {
            let _ = stty(&[saved.as_str()]);
        }
    }
}

/// Runs `stty ARGS` on the terminal that is stdin; its stdout on success.
fn stty(args: &[&str]) -> Option<String> {
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts the thread that reads keys; it sends once on `q`, `Q` or Ctrl-C
/// and ends, or ends without sending when stdin closes.
fn read_keys() -> Receiver<()> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("keys".to_string())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut byte = [0u8; 1];
            loop {
                match stdin.read(&mut byte) {
                    Ok(0) => return,
                    Ok(_) if is_quit(byte[0]) => {
                        let _ = tx.send(());
                        return;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        });
    // Without the thread the sender is gone: `wait` sees Disconnected and
    // falls back to sleeping.
    drop(spawned);
    rx
}

/// `q`, `Q`, or Ctrl-C (ETX, a byte once `-isig` is set).
fn is_quit(byte: u8) -> bool {
    matches!(byte, b'q' | b'Q' | 0x03)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_and_ctrl_c_quit_and_other_keys_do_not() {
        assert!(is_quit(b'q') && is_quit(b'Q') && is_quit(0x03));
        assert!(!is_quit(b' ') && !is_quit(0x1b) && !is_quit(b'\n'));
    }
}
