//! Property tests of the example's RESP framer, `Resp` (behaviour id FR1 in
//! `docs/behavior.md`): however a stream of commands is cut into reads —
//! one read, 1-byte reads, empty reads — the same commands come out in the
//! same order, which are the commands sent, and bad input fails with the
//! same error at the same command index. Run with `cargo test --example
//! redis_server` (or `cargo test`).
//!
//! The framer is private to the example, so this file is a child module of
//! it (`#[cfg(test)]`, compiled only into the example's test build): the
//! example's own code is tested, unchanged and unmoved.

use proptest::prelude::*;
use proptest::test_runner::Config;
use switchboard::ready_made::{Framer, FramingError};
use switchboard::Bytes;

use super::{Resp, MAX_ARGS, MAX_BULK};

const CASES: u32 = 10_000;

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(CASES)
    }
}

/// Read sizes, used in turn until the stream is used up: 0 is an empty read.
fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    let size = prop_oneof![1 => Just(0usize), 3 => Just(1usize), 4 => 2usize..8, 2 => 8usize..200];
    prop::collection::vec(size, 1..12)
}

/// `data` cut into reads of `sizes` (cyclically); empty reads included.
fn cut<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.iter().all(|&n| n == 0) {
        return vec![&data[..0], data, &data[..0]];
    }
    let (mut reads, mut at, mut i) = (Vec::new(), 0, 0);
    while at < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - at);
        reads.push(&data[at..at + n]);
        at += n;
        i += 1;
    }
    reads
}

/// The commands a stream gave, then the error that stopped it (if any).
type Outcome = (Vec<Vec<Bytes>>, Option<FramingError>);

/// Pushes each read and takes every command it completes, as `Framed` does.
fn drive(reads: &[&[u8]]) -> Outcome {
    let (mut framer, mut commands) = (Resp::default(), Vec::new());
    for read in reads {
        framer.push(read);
        loop {
            match framer.next_frame() {
                Ok(Some(command)) => commands.push(command),
                Ok(None) => break,
                Err(error) => return (commands, Some(error)),
            }
        }
    }
    match framer.finish() {
        Ok(last) => commands.extend(last),
        Err(error) => return (commands, Some(error)),
    }
    (commands, None)
}

/// One generated command: its bytes and the arguments it must give.
#[derive(Debug, Clone)]
struct Command {
    bytes: Vec<u8>,
    args: Vec<Vec<u8>>,
}

/// A RESP array of arbitrary bulk strings, or an inline command of words.
fn command() -> impl Strategy<Value = Command> {
    let array =
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..4).prop_map(|args| {
            let mut bytes = format!("*{}\r\n", args.len()).into_bytes();
            for arg in &args {
                bytes.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                bytes.extend_from_slice(arg);
                bytes.extend_from_slice(b"\r\n");
            }
            Command { bytes, args }
        });
    let word = prop::collection::vec(0u8..36, 1..6).prop_map(|v| {
        v.iter()
            .map(|&i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i as usize])
            .collect()
    });
    let inline = (
        prop::collection::vec(word, 0..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(args, wide, crlf): (Vec<Vec<u8>>, bool, bool)| {
            let mut bytes = args.join(if wide { &b"  "[..] } else { b" " });
            bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            Command { bytes, args }
        });
    prop_oneof![3 => array, 1 => inline]
}

/// Bad input and the error it must give.
fn bad() -> impl Strategy<Value = (Vec<u8>, FramingError)> {
    let too_many = format!("*{}\r\n", MAX_ARGS + 1).into_bytes();
    let too_long = format!("*1\r\n${}\r\n", MAX_BULK + 1).into_bytes();
    prop_oneof![
        Just((too_many, FramingError::invalid("invalid multibulk length"))),
        Just((
            b"*x\r\n".to_vec(),
            FramingError::invalid("invalid multibulk length")
        )),
        Just((too_long, FramingError::invalid("invalid bulk length"))),
        Just((
            b"*1\r\n:3\r\n".to_vec(),
            FramingError::invalid("expected '$', got ':'")
        )),
        Just((
            b"*1\r\n$3\r\nabcXY".to_vec(),
            FramingError::invalid("expected CRLF after bulk string")
        )),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// FR1 (RESP): pipelined commands, cut anyhow, give the commands of one
    /// read, which are the commands sent; bad input after them gives the
    /// same error at the same index; a command cut short by EOF is dropped.
    #[test]
    fn fr1_resp_commands_are_the_same_however_the_stream_is_cut(
        commands in prop::collection::vec(command(), 0..6),
        end in prop::option::of(bad()),
        short in prop::option::of((command(), any::<prop::sample::Index>())),
        sizes in read_sizes(),
    ) {
        let mut data: Vec<u8> = commands.iter().flat_map(|c| c.bytes.clone()).collect();
        let mut want: Outcome = (
            commands.iter().map(|c| c.args.iter().map(|a| Bytes::copy_from_slice(a)).collect()).collect(),
            None,
        );
        match (end, short) {
            (Some((bytes, error)), _) => {
                data.extend_from_slice(&bytes);
                want.1 = Some(error);
            }
            // A proper prefix of one more command: nothing more comes out.
            (None, Some((c, at))) => data.extend_from_slice(&c.bytes[..at.index(c.bytes.len())]),
            (None, None) => {}
        }
        let whole = drive(&[&data]);
        prop_assert_eq!(&whole, &want);
        prop_assert_eq!(drive(&cut(&data, &sizes)), whole);
    }

    /// FR1 (RESP): arbitrary bytes never panic, and the cut changes nothing.
    #[test]
    fn fr1_resp_takes_arbitrary_bytes(
        pieces in prop::collection::vec(any::<(u8, u8)>(), 0..60),
        sizes in read_sizes(),
    ) {
        // Mostly arbitrary bytes, spiced with the bytes RESP cares about.
        const SPICE: [&[u8]; 6] = [b"\r\n", b"*", b"$", b"*2\r\n", b"$3\r\n", b"1"];
        let data: Vec<u8> = pieces
            .iter()
            .flat_map(|&(k, b)| SPICE.get(k as usize % 10).copied().unwrap_or(&[b]).to_vec())
            .collect();
        let whole = drive(&[&data]);
        prop_assert_eq!(drive(&cut(&data, &sizes)), whole);
    }
}
