//! SCIM `dateTime` values (RFC 7643 §2.3.5: xsd:dateTime, in practice RFC 3339).
//!
//! Owns parsing and formatting of timestamps and the civil-calendar arithmetic behind them, so
//! filters can compare `meta.lastModified` chronologically and the service can stamp `meta`.
//! It must not read the clock: callers turn their own `SystemTime` into an [`Instant`].

use std::time::{SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: u32 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A point in time: seconds since 1970-01-01T00:00:00Z plus nanoseconds (always below 10⁹,
/// so the derived ordering is chronological).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    secs: i64,
    nanos: u32,
}

impl Instant {
    /// Builds an instant from Unix seconds and a nanosecond part; excess nanoseconds carry over.
    pub fn from_unix(secs: i64, nanos: u32) -> Instant {
        let carry = i64::from(nanos / NANOS_PER_SEC);
        Instant { secs: secs.saturating_add(carry), nanos: nanos % NANOS_PER_SEC }
    }

    /// Builds an instant from nanoseconds since the epoch, saturating far beyond year 9999.
    pub fn from_unix_nanos(nanos: u128) -> Instant {
        let per_sec = u128::from(NANOS_PER_SEC);
        let secs = i64::try_from(nanos / per_sec).unwrap_or(i64::MAX);
        // The remainder is below 10⁹, so it always fits.
        let sub = u32::try_from(nanos % per_sec).unwrap_or(0);
        Instant { secs, nanos: sub }
    }

    /// Converts a `SystemTime` (before or after the epoch) without touching the clock.
    pub fn from_system_time(t: SystemTime) -> Instant {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Instant::from_unix_nanos(d.as_nanos()),
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                match d.subsec_nanos() {
                    0 => Instant { secs: -secs, nanos: 0 },
                    n => Instant { secs: -secs - 1, nanos: NANOS_PER_SEC - n },
                }
            }
        }
    }

    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }
}

/// Parses `YYYY-MM-DDThh:mm:ss[.f{1,9}][Z|±hh:mm]`.
///
/// Accepts lower-case `t`/`z` (RFC 3339 §5.6), 1–9 fractional digits (Entra sends 7), a leap
/// second `:60` (folded into the next second), and a missing zone, read as UTC: xsd:dateTime
/// allows it and rejecting it would only turn a usable filter into an error.
pub fn parse(s: &str) -> Option<Instant> {
    let mut c = Cursor { bytes: s.as_bytes(), pos: 0 };
    let year = c.number(4)?;
    c.eat(b"-")?;
    let month = c.number(2)?;
    c.eat(b"-")?;
    let day = c.number(2)?;
    c.eat(b"Tt")?;
    let hour = c.number(2)?;
    c.eat(b":")?;
    let minute = c.number(2)?;
    c.eat(b":")?;
    let second = c.number(2)?;

    let mut nanos: u32 = 0;
    if c.eat(b".").is_some() {
        let mut digits = 0;
        while let Some(d) = c.digit() {
            digits += 1;
            if digits > 9 {
                return None;
            }
            nanos = nanos * 10 + d;
        }
        if digits == 0 {
            return None;
        }
        nanos *= 10u32.pow(9 - digits);
    }

    let offset_secs = match c.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = c.number(2)?;
            c.eat(b":")?;
            let om = c.number(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'-' { -off } else { off }
        }
        Some(_) => return None,
    };
    if c.pos != c.bytes.len() {
        return None;
    }

    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset_secs;
    Some(Instant { secs, nanos })
}

/// Formats as `2026-11-24T10:15:30.123Z`: UTC, milliseconds, the shape every client parses.
pub fn format_millis(i: Instant) -> String {
    let days = i.secs.div_euclid(SECS_PER_DAY);
    let sod = i.secs.rem_euclid(SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        i.nanos / 1_000_000
    )
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes one byte if it is one of `allowed`.
    fn eat(&mut self, allowed: &[u8]) -> Option<()> {
        let b = *self.bytes.get(self.pos)?;
        if allowed.contains(&b) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    fn digit(&mut self) -> Option<u32> {
        let b = *self.bytes.get(self.pos)?;
        if b.is_ascii_digit() {
            self.pos += 1;
            Some(u32::from(b - b'0'))
        } else {
            None
        }
    }

    /// Exactly `n` decimal digits.
    fn number(&mut self, n: usize) -> Option<i64> {
        let mut v = 0i64;
        for _ in 0..n {
            v = v * 10 + i64::from(self.digit()?);
        }
        Some(v)
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Years are counted from March so the
/// leap day is the last day of the "year", and 400-year eras repeat exactly (146 097 days).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (m + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719 468 days separate 0000-03-01 (the start of era 0) from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let m = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let y = year_of_era + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn p(s: &str) -> Instant {
        parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn parses_zulu_and_offsets() {
        assert_eq!(p("1970-01-01T00:00:00Z"), Instant::from_unix(0, 0));
        assert_eq!(p("2011-05-13T04:42:34Z").unix_seconds(), 1_305_261_754);
        assert_eq!(p("2011-05-13T06:42:34+02:00"), p("2011-05-13T04:42:34Z"));
        assert_eq!(p("2011-05-12T23:42:34-05:00"), p("2011-05-13T04:42:34Z"));
        assert_eq!(p("2011-05-13t04:42:34z"), p("2011-05-13T04:42:34Z"));
        assert_eq!(p("2011-05-13T04:42:34"), p("2011-05-13T04:42:34Z"));
    }

    #[test]
    fn parses_entra_seven_digit_fraction() {
        let i = p("2015-10-10T14:38:21.8617979-07:00");
        assert_eq!(i.subsec_nanos(), 861_797_900);
        assert_eq!(format_millis(i), "2015-10-10T21:38:21.861Z");
        assert_eq!(p("2015-10-10T14:38:21.1Z").subsec_nanos(), 100_000_000);
        assert_eq!(p("2015-10-10T14:38:21.123456789Z").subsec_nanos(), 123_456_789);
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2011-05-13",
            "2011-05-13T04:42",
            "2011-5-13T04:42:34Z",
            "2011-05-13 04:42:34Z",
            "2011-13-01T00:00:00Z",
            "2011-02-29T00:00:00Z",
            "2011-04-31T00:00:00Z",
            "2011-05-13T24:00:00Z",
            "2011-05-13T04:60:00Z",
            "2011-05-13T04:42:34.Z",
            "2011-05-13T04:42:34.1234567890Z",
            "2011-05-13T04:42:34+0200",
            "2011-05-13T04:42:34+24:00",
            "2011-05-13T04:42:34Zjunk",
            "2011-05-13T04:42:34X",
            "２０１１-05-13T04:42:34Z",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }

    #[test]
    fn leap_years_and_leap_seconds() {
        assert!(parse("2024-02-29T00:00:00Z").is_some());
        assert!(parse("2000-02-29T00:00:00Z").is_some());
        assert!(parse("1900-02-29T00:00:00Z").is_none());
        assert_eq!(p("2016-12-31T23:59:60Z"), p("2017-01-01T00:00:00Z"));
    }

    #[test]
    fn civil_round_trip_over_many_years() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
        }
    }

    #[test]
    fn formats_with_millis_in_utc() {
        let i = p("2026-11-24T10:15:30.123999Z");
        assert_eq!(format_millis(i), "2026-11-24T10:15:30.123Z");
        assert_eq!(format_millis(Instant::from_unix(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(p("1969-12-31T23:59:59.5Z")), "1969-12-31T23:59:59.500Z");
        assert_eq!(format_millis(p("0000-03-01T00:00:00Z")), "0000-03-01T00:00:00.000Z");
        assert_eq!(format_millis(p("9999-12-31T23:59:59Z")), "9999-12-31T23:59:59.000Z");
    }

    #[test]
    fn ordering_is_chronological() {
        assert!(p("2011-05-13T04:42:34.1Z") < p("2011-05-13T04:42:34.2Z"));
        assert!(p("2011-05-13T04:42:34Z") < p("2011-05-13T04:42:35Z"));
        assert!(p("1969-12-31T23:59:59.9Z") < p("1970-01-01T00:00:00Z"));
    }

    #[test]
    fn from_system_time_and_nanos() {
        let t = UNIX_EPOCH + Duration::new(1_305_261_754, 5);
        assert_eq!(Instant::from_system_time(t), Instant::from_unix(1_305_261_754, 5));
        assert_eq!(
            Instant::from_unix_nanos(1_305_261_754_000_000_005),
            Instant::from_unix(1_305_261_754, 5)
        );
        let before = UNIX_EPOCH - Duration::new(1, 250_000_000);
        assert_eq!(format_millis(Instant::from_system_time(before)), "1969-12-31T23:59:58.750Z");
        assert_eq!(Instant::from_unix(0, 1_500_000_000), Instant::from_unix(1, 500_000_000));
        assert_eq!(Instant::from_unix_nanos(u128::MAX).unix_seconds(), i64::MAX);
    }
}
