//! Display the current date with `call_later()`: a callback that reschedules itself.
//!
//! Teaches: the loop's clock (`time`), `call_later` to run a callback after a
//! delay, a callback that schedules its own next run, and stopping the loop
//! from a callback once a deadline has passed.
//!
//! Mirrors asyncio's "Display the current date with call_later()" example in
//! the Event Loop page, section Examples:
//! <https://docs.python.org/3/library/asyncio-eventloop.html#display-the-current-date-with-call-later>
//!
//! Run it (the optional argument is the interval in seconds, default 1.0):
//!
//! ```text
//! cargo run --example display_date
//! cargo run --example display_date -- 0.05
//! ```
//!
//! Expected output: five timestamps one interval apart, like Python's
//! `print(datetime.datetime.now())` (here in UTC, to stay free of time-zone
//! code), then the program exits:
//!
//! ```text
//! 2026-11-21 16:50:10.123456
//! 2026-11-21 16:50:11.124711
//! 2026-11-21 16:50:12.125930
//! 2026-11-21 16:50:13.127160
//! 2026-11-21 16:50:14.128382
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use switchboard::{new_event_loop, EventLoop};

/// Prints the date, then reschedules itself `interval` later until `end_time`.
fn display_date(end_time: f64, lp: EventLoop, interval: f64) {
    println!("{}", now_utc());
    if lp.time() + interval < end_time {
        let next = lp.clone();
        let scheduled = lp.call_later(interval, move || display_date(end_time, next, interval));
        scheduled.expect("the loop is open while it runs");
    } else {
        lp.stop();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let interval: f64 = std::env::args().nth(1).map_or(Ok(1.0), |a| a.parse())?;
    let lp = new_event_loop()?;

    // Schedule the first call to display_date(), five intervals before the end.
    let end_time = lp.time() + 5.0 * interval;
    let first = lp.clone();
    lp.call_soon(move || display_date(end_time, first, interval))?;

    // Blocking call interrupted by lp.stop().
    let ran = lp.run_forever();
    lp.close()?;
    Ok(ran?)
}

/// The wall-clock time in UTC as `YYYY-MM-DD HH:MM:SS.ffffff`, the format of
/// Python's `str(datetime)` (which also leaves out the fraction when it is 0).
fn now_utc() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    let secs = since_epoch.as_secs();
    let micros = since_epoch.subsec_micros();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let (h, m, s) = (rest / 3600, rest / 60 % 60, rest % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}");
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, which counts in 400-year eras).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
