//! Numbers as people read them: durations, byte counts, rates and bars.

/// A duration in seconds: `850µs`, `2.30ms`, `1.25s`; `-` when it is not a
/// finite, non-negative number.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        "-".to_string()
    } else if s < 0.001 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2}ms", s * 1e3)
    } else {
        format!("{s:.2}s")
    }
}

/// A byte count: `512 B`, `1.5 KiB`, `3.0 MiB`, `2.0 GiB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if !n.is_finite() || n < 0.0 {
        return "-".to_string();
    }
    if n < 1024.0 {
        return format!("{n:.0} B");
    }
    let mut v = n / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Bytes per second: `1.5 KiB/s`.
pub fn byte_rate(per_second: f64) -> String {
    format!("{}/s", bytes(per_second))
}

/// A count per second, rounded: `1234`.
pub fn rate(per_second: f64) -> String {
    if per_second.is_finite() && per_second >= 0.0 {
        format!("{per_second:.0}")
    } else {
        "-".to_string()
    }
}

/// How long something has lived: `42s`, `3m04s`, `2h05m`, `3d04h`.
pub fn age(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "-".to_string();
    }
    let s = s as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// A bar `width` cells wide, `#` for the part of `full` that `value`
/// fills and `-` for the rest: `[#####-----]`. A value above zero always
/// shows at least one `#`; one at or above `full` fills the bar.
pub fn bar(value: f64, full: f64, width: usize) -> String {
    let ratio = if full > 0.0 && value.is_finite() {
        (value / full).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut filled = (ratio * width as f64).round() as usize;
    if value > 0.0 && filled == 0 {
        filled = 1;
    }
    let filled = filled.min(width);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(seconds(0.0), "0µs");
        assert_eq!(seconds(0.000_85), "850µs");
        assert_eq!(seconds(0.0023), "2.30ms");
        assert_eq!(seconds(1.25), "1.25s");
        assert_eq!(seconds(f64::NAN), "-");
    }

    #[test]
    fn byte_counts_are_binary() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(byte_rate(2048.0), "2.0 KiB/s");
    }

    #[test]
    fn ages_keep_two_units() {
        assert_eq!(age(42.9), "42s");
        assert_eq!(age(184.0), "3m04s");
        assert_eq!(age(7500.0), "2h05m");
        assert_eq!(age(3.0 * 86400.0 + 4.0 * 3600.0), "3d04h");
    }

    #[test]
    fn bars_fill_in_proportion_and_show_any_nonzero_value() {
        assert_eq!(bar(50.0, 100.0, 20), "[##########----------]");
        assert_eq!(bar(0.0, 100.0, 4), "[----]");
        assert_eq!(bar(1.0, 1000.0, 4), "[#---]");
        assert_eq!(bar(500.0, 100.0, 4), "[####]");
        assert_eq!(bar(5.0, 0.0, 4), "[#---]");
    }
}
