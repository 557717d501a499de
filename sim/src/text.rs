//! Text forms shared by everything that reads or writes virtual time, and the one way an error
//! message quotes what a user wrote.

use crate::NANOS_PER_MILLI;

/// `10ms`, `1.5s`, `250us`, `7ns`, parsed exactly into nanoseconds.
pub fn parse_duration(token: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{}` is not a duration (like 10ms, 1.5s, 250us, 7ns)",
            shorten(token)
        )
    };
    let split = token
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = token.split_at(split);
    let scale: u64 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return Err(bad()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let dangling_point = number.ends_with('.');
    if whole.is_empty() || dangling_point || fraction.len() > scale.ilog10() as usize {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let mut fraction_ns = 0u64;
    if !fraction.is_empty() {
        let digits: u64 = fraction.parse().map_err(|_| bad())?;
        fraction_ns = digits * 10u64.pow(scale.ilog10() - fraction.len() as u32);
    }
    whole
        .checked_mul(scale)
        .and_then(|ns| ns.checked_add(fraction_ns))
        .ok_or_else(bad)
}

/// Nanoseconds as milliseconds, exactly and as short as possible: `1200ms`, `1200.5ms`.
pub fn format_duration(ns: u64) -> String {
    let (ms, rest) = (ns / NANOS_PER_MILLI, ns % NANOS_PER_MILLI);
    if rest == 0 {
        format!("{ms}ms")
    } else {
        let fraction = format!("{rest:06}");
        format!("{ms}.{}ms", fraction.trim_end_matches('0'))
    }
}

/// A point in virtual time for people: `1234.567ms`.
pub fn format_time(ns: u64) -> String {
    format!("{:.3}ms", ns as f64 / 1e6)
}

/// Characters of a user's token quoted in an error message, at most.
pub const QUOTED_CHARS_MAX: usize = 40;

/// A user's token as an error message quotes it: control characters escaped, and cut to
/// [`QUOTED_CHARS_MAX`] characters, so an error stays one short line whatever the input.
pub fn shorten(token: &str) -> String {
    shorten_to(token, QUOTED_CHARS_MAX)
}

/// `text` with control characters escaped, cut to `chars_max` characters.
pub fn shorten_to(text: &str, chars_max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == chars_max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_exactly_and_round_trip() {
        assert_eq!(parse_duration("10ms"), Ok(10_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("1234.567891ms"), Ok(1_234_567_891));
        assert_eq!(parse_duration("7ns"), Ok(7));
        for bad in ["1.5ns", "ms", "10", "99999999999999999999s", "1.ms"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for ns in [0, 1, 1_000_000, 1_234_567_891, 999_999, u64::MAX] {
            assert_eq!(parse_duration(&format_duration(ns)), Ok(ns), "{ns}");
        }
    }

    #[test]
    fn quoted_tokens_are_short_and_escaped() {
        assert_eq!(shorten("n1"), "n1");
        assert_eq!(shorten("a\nb\u{7}"), "a\\nb\\u{7}");
        let long = "x".repeat(100_000);
        assert_eq!(shorten(&long).chars().count(), QUOTED_CHARS_MAX + 1);
    }
}
