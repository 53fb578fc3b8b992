//! Property tests of the write-buffer accounting (`FlowControl`, behaviour
//! ids W1, W2, W3 and W5 in `docs/behavior.md`) against a model of asyncio's
//! `_FlowControlMixin` (`Lib/asyncio/transports.py`), transcribed line for
//! line: for any sequence of writes, drains and limit changes, switchboard
//! sends `PauseWriting`/`ResumeWriting` exactly where asyncio calls
//! `pause_writing()`/`resume_writing()`, keeps the same limits, and refuses
//! the same limits.
//!
//! See <https://docs.python.org/3/library/asyncio-transport.html#asyncio.WriteTransport.set_write_buffer_limits>.

use proptest::prelude::*;
use proptest::test_runner::Config;

use switchboard_actors::{FlowControl, FlowSignal};
use switchboard_protocols::WriteLimits;

const CASES: u32 = 10_000;

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(CASES)
    }
}

/// asyncio's `_FlowControlMixin` plus the transport's buffer size, as in
/// CPython 3.12 `transports.py` and `selector_events.py`.
#[derive(Debug)]
struct AsyncioModel {
    high: usize,
    low: usize,
    protocol_paused: bool,
    size: usize,
}

impl AsyncioModel {
    fn new() -> Self {
        let mut m = AsyncioModel {
            high: 0,
            low: 0,
            protocol_paused: false,
            size: 0,
        };
        m.set_write_buffer_limits(None, None)
            .expect("the defaults are valid");
        m
    }

    /// `_set_write_buffer_limits` then `_maybe_pause_protocol`.
    fn set_write_buffer_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<Option<FlowSignal>, ()> {
        let high = match (high, low) {
            (Some(high), _) => high,
            (None, None) => 64 * 1024,
            (None, Some(low)) => 4 * low,
        };
        let low = low.unwrap_or(high / 4);
        // `if not high >= low >= 0: raise ValueError(...)`
        if high < low {
            return Err(());
        }
        (self.high, self.low) = (high, low);
        Ok(self.maybe_pause_protocol())
    }

    /// `write(data)`: `if not data: return`; the bytes join the buffer.
    fn write(&mut self, n: usize) -> Option<FlowSignal> {
        if n == 0 {
            return None;
        }
        self.size += n;
        self.maybe_pause_protocol()
    }

    /// `_write_ready`: the kernel took `n` bytes.
    fn drain(&mut self, n: usize) -> Option<FlowSignal> {
        self.size -= n.min(self.size);
        self.maybe_resume_protocol()
    }

    fn maybe_pause_protocol(&mut self) -> Option<FlowSignal> {
        let size = self.size;
        if size <= self.high {
            return None;
        }
        if !self.protocol_paused {
            self.protocol_paused = true;
            return Some(FlowSignal::Pause);
        }
        None
    }

    fn maybe_resume_protocol(&mut self) -> Option<FlowSignal> {
        if self.protocol_paused && self.size <= self.low {
            self.protocol_paused = false;
            return Some(FlowSignal::Resume);
        }
        None
    }
}

/// One step a transport takes.
#[derive(Debug, Clone)]
enum Op {
    Write(usize),
    Drain(usize),
    SetLimits(Option<usize>, Option<usize>),
}

/// Small sizes and limits, so the marks are crossed (and touched exactly)
/// often; now and then a write past the 64 KiB default.
fn op() -> impl Strategy<Value = Op> {
    let small = 0usize..48;
    let limit = prop::option::of(0usize..40);
    prop_oneof![
        5 => small.clone().prop_map(Op::Write),
        1 => (60_000usize..70_000).prop_map(Op::Write),
        5 => prop_oneof![small.prop_map(Op::Drain), Just(Op::Drain(usize::MAX))],
        2 => (limit.clone(), limit).prop_map(|(h, l)| Op::SetLimits(h, l)),
    ]
}

/// Runs `ops` through `FlowControl` as a transport does (`after_grow`
/// after queueing, `after_drain` after the kernel took bytes, `set_limits`
/// with the current size) and through the model; every step must agree.
fn check(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut flow = FlowControl::default();
    let mut model = AsyncioModel::new();
    let mut buffered = 0usize;
    let mut signals = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let (got, want) = match *op {
            Op::Write(n) => {
                buffered += n;
                (Ok(flow.after_grow(buffered)), Ok(model.write(n)))
            }
            Op::Drain(n) => {
                buffered -= n.min(buffered);
                (Ok(flow.after_drain(buffered)), Ok(model.drain(n)))
            }
            Op::SetLimits(high, low) => (
                flow.set_limits(high, low, buffered).map_err(drop),
                model.set_write_buffer_limits(high, low),
            ),
        };
        prop_assert_eq!(got, want, "step {} {:?}", i, op);
        prop_assert_eq!(buffered, model.size);
        prop_assert_eq!(
            flow.is_paused(),
            model.protocol_paused,
            "step {} {:?}",
            i,
            op
        );
        prop_assert_eq!(
            flow.limits(),
            WriteLimits {
                low: model.low,
                high: model.high
            }
        );
        signals.extend(got.ok().flatten());
    }
    // Pauses and resumes alternate, starting with a pause.
    for (i, signal) in signals.iter().enumerate() {
        let want = if i % 2 == 0 {
            FlowSignal::Pause
        } else {
            FlowSignal::Resume
        };
        prop_assert_eq!(*signal, want, "signal {} of {:?}", i, signals);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// W1: `set_write_buffer_limits(high, low)` gives asyncio's limits
    /// (64 KiB / 16 KiB by default, `4 * low`, `high / 4`) and refuses
    /// exactly what asyncio refuses, keeping the old limits.
    #[test]
    fn w1_limits_are_asyncios(
        high in prop::option::of(prop_oneof![0usize..100, 0usize..=usize::MAX]),
        low in prop::option::of(prop_oneof![0usize..100, 0usize..(usize::MAX / 4)]),
    ) {
        let mut model = AsyncioModel::new();
        let want = model.set_write_buffer_limits(high, low);
        let got = WriteLimits::new(high, low);
        prop_assert_eq!(got.is_ok(), want.is_ok());
        if let Ok(limits) = got {
            prop_assert_eq!(limits, WriteLimits { low: model.low, high: model.high });
        }
    }

    /// W2, W3, W5: for any sequence of writes, drains and limit changes,
    /// pause and resume come exactly where asyncio's come: pause when the
    /// size goes strictly above high (not again while paused, and at once
    /// when new limits put it above), resume once the size drains to low or
    /// below, alternating, starting with a pause.
    #[test]
    fn w2_w3_w5_pause_and_resume_are_asyncios(ops in prop::collection::vec(op(), 0..40)) {
        check(&ops)?;
    }
}
