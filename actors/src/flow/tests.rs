use proptest::prelude::*;

use super::*;

fn limits(low: usize, high: usize) -> WriteLimits {
    WriteLimits { low, high }
}

#[test]
fn w1_default_limits_are_asyncios() {
    let flow = FlowControl::default();
    assert_eq!((flow.limits().low, flow.limits().high), (16384, 65536));
    assert!(!flow.is_paused());
}

#[test]
fn w1_set_limits_computes_like_asyncio() -> Result<(), LimitsError> {
    let mut flow = FlowControl::default();
    flow.set_limits(None, Some(16385), 0)?;
    assert_eq!(flow.limits(), limits(16385, 65540));
    flow.set_limits(Some(1000), None, 0)?;
    assert_eq!(flow.limits(), limits(250, 1000));
    flow.set_limits(Some(0), None, 0)?;
    assert_eq!(flow.limits(), limits(0, 0));
    flow.set_limits(None, None, 0)?;
    assert_eq!(flow.limits(), WriteLimits::DEFAULT);
    Ok(())
}

#[test]
fn w1_high_below_low_is_refused_and_keeps_the_limits() {
    let mut flow = FlowControl::new(limits(1, 8));
    assert_eq!(
        flow.set_limits(Some(1), Some(2), 100),
        Err(LimitsError { high: 1, low: 2 })
    );
    assert_eq!(flow.limits(), limits(1, 8));
    assert!(!flow.is_paused());
}

#[test]
fn w2_pause_once_strictly_above_high() {
    // The asyncio probe: high = cur + 10; +10 no call; +1 pause; +5000 nothing.
    let cur = 1024;
    let mut flow = FlowControl::new(limits(0, cur + 10));
    assert_eq!(flow.after_grow(cur), None);
    assert_eq!(flow.after_grow(cur + 10), None);
    assert_eq!(flow.after_grow(cur + 11), Some(FlowSignal::Pause));
    assert_eq!(flow.after_grow(cur + 5011), None);
    assert!(flow.is_paused());
}

#[test]
fn w3_resume_once_at_or_below_low_only_if_paused() {
    let mut flow = FlowControl::new(limits(10, 20));
    assert_eq!(flow.after_drain(0), None, "never paused: no resume");
    assert_eq!(flow.after_grow(30), Some(FlowSignal::Pause));
    assert_eq!(flow.after_drain(11), None);
    assert_eq!(flow.after_drain(10), Some(FlowSignal::Resume));
    assert_eq!(flow.after_drain(0), None);
    assert_eq!(
        flow.after_grow(21),
        Some(FlowSignal::Pause),
        "a new crossing pauses again"
    );
}

#[test]
fn w3_growing_while_paused_never_resumes() {
    let mut flow = FlowControl::new(limits(10, 20));
    flow.after_grow(21);
    assert_eq!(flow.after_grow(5), None);
    assert!(flow.is_paused());
}

#[test]
fn w4_high_zero_pauses_only_on_buffered_bytes() {
    let mut flow = FlowControl::new(limits(0, 0));
    assert_eq!(flow.after_grow(0), None, "a write the kernel took whole");
    assert_eq!(flow.after_grow(1), Some(FlowSignal::Pause));
    assert_eq!(flow.after_drain(0), Some(FlowSignal::Resume));
}

#[test]
fn w5_set_limits_below_the_buffer_pauses_at_once() -> Result<(), LimitsError> {
    let mut flow = FlowControl::default();
    assert_eq!(flow.set_limits(Some(200), None, 200)?, None);
    assert_eq!(
        flow.set_limits(Some(199), None, 200)?,
        Some(FlowSignal::Pause)
    );
    assert_eq!(
        flow.set_limits(Some(100), None, 200)?,
        None,
        "already paused"
    );
    Ok(())
}

#[test]
fn w5_set_limits_never_resumes() -> Result<(), LimitsError> {
    let mut flow = FlowControl::new(limits(10, 20));
    flow.after_grow(30);
    assert_eq!(flow.set_limits(Some(1000), Some(500), 30)?, None);
    assert!(flow.is_paused());
    assert_eq!(flow.after_drain(30), Some(FlowSignal::Resume));
    Ok(())
}

/// One thing a transport can do to its buffer.
#[derive(Debug, Clone)]
enum Op {
    Grow(usize),
    Drain(usize),
    SetLimits(Option<usize>, Option<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop_oneof![0usize..64, 0usize..100_000];
    prop_oneof![
        4 => size.clone().prop_map(Op::Grow),
        4 => size.clone().prop_map(Op::Drain),
        1 => (proptest::option::of(0usize..128), proptest::option::of(0usize..64))
            .prop_map(|(h, l)| Op::SetLimits(h, l)),
    ]
}

proptest! {
    // As every property file of the suite: 10,000 cases (the model is
    // cheap: well under a second).
    #![proptest_config(proptest::test_runner::Config::with_cases(10_000))]

    /// W2/W3/W5 against a reference model: signals alternate starting with
    /// Pause, and fire exactly at the boundaries.
    #[test]
    fn w2_w3_w5_signals_alternate_at_exact_boundaries(
        ops in proptest::collection::vec(op(), 0..200),
        start_high in 0usize..128,
    ) {
        let mut flow = FlowControl::new(limits(start_high / 4, start_high));
        // The reference model: the buffer size, the limits and one bool.
        let (mut buffered, mut low, mut high, mut paused) = (0usize, start_high / 4, start_high, false);
        let mut last = None;
        for op in ops {
            let (got, want) = match op {
                Op::Grow(n) => {
                    buffered += n;
                    let want = (!paused && buffered > high).then_some(FlowSignal::Pause);
                    (flow.after_grow(buffered), want)
                }
                Op::Drain(n) => {
                    buffered = buffered.saturating_sub(n);
                    let want = (paused && buffered <= low).then_some(FlowSignal::Resume);
                    (flow.after_drain(buffered), want)
                }
                Op::SetLimits(h, l) => {
                    let new_high = h.unwrap_or_else(|| l.map_or(65536, |l| 4 * l));
                    let new_low = l.unwrap_or(new_high / 4);
                    let got = flow.set_limits(h, l, buffered);
                    if new_high < new_low {
                        prop_assert!(got.is_err());
                        (None, None)
                    } else {
                        (low, high) = (new_low, new_high);
                        let want = (!paused && buffered > high).then_some(FlowSignal::Pause);
                        (got.expect("valid limits"), want)
                    }
                }
            };
            prop_assert_eq!(got, want);
            if let Some(signal) = got {
                let expected = if last == Some(FlowSignal::Pause) {
                    FlowSignal::Resume
                } else {
                    FlowSignal::Pause
                };
                prop_assert_eq!(signal, expected, "signals must alternate from Pause");
                last = Some(signal);
                paused = signal == FlowSignal::Pause;
            }
            prop_assert_eq!(flow.is_paused(), paused);
            prop_assert_eq!(flow.limits(), limits(low, high));
            // Invariant: never flowing with the buffer above high.
            prop_assert!(paused || buffered <= high);
        }
    }
}
