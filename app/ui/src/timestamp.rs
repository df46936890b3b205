//! A moment as the API writes it (RFC 3339, `2026-11-23T18:05:00.123456+00:00`), in the type the
//! generated client uses for every `date-time` field (see `build.rs`).
//!
//! The UI only orders moments, counts the seconds between them and shows a calendar date, so it reads
//! them itself rather than through chrono, whose parser and calendar weighed 10.6 KiB of the
//! gzipped web bundle. The calendar arithmetic is the proleptic Gregorian one of Howard Hinnant's
//! `days_from_civil` and `civil_from_days`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A moment in UTC, to the microsecond (as PostgreSQL keeps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// A date in the Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilDate {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
}

impl Timestamp {
    /// Now, by the device's clock.
    pub fn now() -> Self {
        #[cfg(target_arch = "wasm32")]
        let micros = (js_sys::Date::now() * 1_000.0) as i64;
        #[cfg(not(target_arch = "wasm32"))]
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| i64::try_from(since.as_micros()).unwrap_or(i64::MAX));
        Self { micros }
    }

    /// Whole seconds from `earlier` to this moment (negative when `earlier` is later), rounded
    /// toward zero.
    pub fn seconds_since(self, earlier: Timestamp) -> i64 {
        (self.micros - earlier.micros) / MICROS_PER_SECOND
    }

    /// The date in UTC.
    pub fn date(self) -> CivilDate {
        civil_from_days(self.micros.div_euclid(MICROS_PER_SECOND * SECONDS_PER_DAY))
    }
}

/// Why a text is not a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotATimestamp;

impl fmt::Display for NotATimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an RFC 3339 date and time")
    }
}

impl std::error::Error for NotATimestamp {}

impl FromStr for Timestamp {
    type Err = NotATimestamp;

    /// `YYYY-MM-DDTHH:MM:SS`, an optional fraction of a second, then `Z` or an offset `±HH:MM`.
    fn from_str(text: &str) -> Result<Self, NotATimestamp> {
        let bytes = text.as_bytes();
        let number = |from: usize, to: usize| -> Result<i64, NotATimestamp> {
            let digits = bytes.get(from..to).ok_or(NotATimestamp)?;
            digits.iter().try_fold(0, |value, digit| match digit {
                b'0'..=b'9' => Ok(value * 10 + i64::from(digit - b'0')),
                _ => Err(NotATimestamp),
            })
        };
        let is_one_of = |at: usize, expected: &[u8]| bytes.get(at).is_some_and(|byte| expected.contains(byte));
        let shaped = [(4, b"-"), (7, b"-"), (13, b":"), (16, b":")].iter().all(|(at, byte)| is_one_of(*at, *byte));
        if !shaped || !is_one_of(10, b"Tt ") {
            return Err(NotATimestamp);
        }
        let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
        let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
        let month = u32::try_from(month).map_err(|_| NotATimestamp)?;
        let day = u32::try_from(day).map_err(|_| NotATimestamp)?;
        let days = days_from_civil(year, month, day);
        // A day that does not exist (February 30) does not come back as itself.
        if civil_from_days(days) != (CivilDate { year, month, day }) || hour > 23 || minute > 59 || second > 60 {
            return Err(NotATimestamp);
        }
        // A leap second is read as the last second of its minute, so it stays on its own day.
        let second = second.min(59);
        let mut at = 19;
        let mut fraction = 0;
        if is_one_of(at, b".,") {
            let digits = bytes[at + 1..].iter().take_while(|byte| byte.is_ascii_digit()).count();
            if digits == 0 {
                return Err(NotATimestamp);
            }
            // Microseconds: the first six digits, padded; any beyond are dropped.
            let kept = digits.min(6);
            fraction = number(at + 1, at + 1 + kept)? * 10_i64.pow(6 - kept as u32);
            at += 1 + digits;
        }
        let offset_minutes = match bytes.get(at..) {
            Some(b"Z" | b"z") => 0,
            Some([sign @ (b'+' | b'-'), ..]) if bytes.len() == at + 6 && is_one_of(at + 3, b":") => {
                let (hours, minutes) = (number(at + 1, at + 3)?, number(at + 4, at + 6)?);
                if hours > 23 || minutes > 59 {
                    return Err(NotATimestamp);
                }
                let minutes = hours * 60 + minutes;
                if *sign == b'-' { -minutes } else { minutes }
            }
            _ => return Err(NotATimestamp),
        };
        let seconds = days * SECONDS_PER_DAY + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
        Ok(Self { micros: seconds * MICROS_PER_SECOND + fraction })
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, with microseconds when there are any: `2026-11-23T18:05:00.123456Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CivilDate { year, month, day } = self.date();
        let of_day = self.micros.rem_euclid(MICROS_PER_SECOND * SECONDS_PER_DAY);
        let seconds = of_day / MICROS_PER_SECOND;
        let (hour, minute, second) = (seconds / 3_600, seconds / 60 % 60, seconds % 60);
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")?;
        match of_day % MICROS_PER_SECOND {
            0 => f.write_str("Z"),
            micros => write!(f, ".{micros:06}Z"),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl de::Visitor<'_> for Text {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date and time")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                text.parse().map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// Days since 1970-01-01 of a Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The Gregorian date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> CivilDate {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    CivilDate { year: year_of_era + era * 400 + i64::from(month <= 2), month, day }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect(text)
    }

    #[test]
    fn the_servers_forms_are_read_to_the_microsecond() {
        assert_eq!(at("1970-01-01T00:00:00Z"), Timestamp { micros: 0 });
        assert_eq!(at("1970-01-01T00:00:01.5Z"), Timestamp { micros: 1_500_000 });
        assert_eq!(at("2026-11-23T18:05:00.123456+00:00"), at("2026-11-23T18:05:00.123456Z"));
        assert_eq!(at("2026-11-23T18:05:00.1234567Z"), at("2026-11-23T18:05:00.123456Z"));
        assert_eq!(at("2026-11-23T14:05:00-04:00"), at("2026-11-23T18:05:00Z"));
        assert_eq!(at("2026-11-24T00:35:00+06:30"), at("2026-11-23T18:05:00Z"));
        // 2026-11-23T18:05:00Z, as `date -d 2026-11-23T18:05:00Z +%s` counts it.
        assert_eq!(at("2026-11-23T18:05:00Z").micros, 1_795_457_100 * MICROS_PER_SECOND);
        assert_eq!(at("1969-12-31T23:59:59Z").micros, -MICROS_PER_SECOND);
        assert_eq!(at("2016-12-31T23:59:60Z"), at("2016-12-31T23:59:59Z"));
    }

    #[test]
    fn what_is_not_a_moment_is_refused() {
        for text in [
            "",
            "2026-11-23",
            "2026-11-23T18:05:00",
            "2026-11-23T18:05Z",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T18:05:00.Z",
            "2026-11-23T18:05:00+0000",
            "2026-11-23T18:05:00Z ",
            "2026-11-23T18:05:0xZ",
            "2026-11-23T18:05:00+00:00:00",
            "2026-11-23T18:05:00+24:00",
            "2026-11-23T18:05:00+01:60",
        ] {
            assert_eq!(text.parse::<Timestamp>(), Err(NotATimestamp), "{text}");
        }
    }

    #[test]
    fn dates_follow_the_gregorian_calendar() {
        assert_eq!(at("2024-02-29T23:59:59Z").date(), CivilDate { year: 2024, month: 2, day: 29 });
        assert_eq!(at("2000-03-01T00:00:00Z").date(), CivilDate { year: 2000, month: 3, day: 1 });
        assert_eq!(at("1969-12-31T12:00:00Z").date(), CivilDate { year: 1969, month: 12, day: 31 });
        assert!("2100-02-29T00:00:00Z".parse::<Timestamp>().is_err());
        for days in -800_000..800_000 {
            let CivilDate { year, month, day } = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn moments_are_written_back_as_they_were_read() {
        for text in ["2026-11-23T18:05:00Z", "2026-11-23T18:05:00.123456Z", "1969-07-20T20:17:40.5Z"] {
            let written = at(text).to_string();
            assert_eq!(at(&written), at(text));
        }
        assert_eq!(at("2026-11-23T14:05:00.25-04:00").to_string(), "2026-11-23T18:05:00.250000Z");
        let json = serde_json::to_string(&at("2026-11-23T18:05:00Z")).expect("json");
        assert_eq!(json, "\"2026-11-23T18:05:00Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).expect("read"), at("2026-11-23T18:05:00Z"));
        assert!(serde_json::from_str::<Timestamp>("\"tomorrow\"").is_err());
    }

    #[test]
    fn seconds_between_moments_are_counted_toward_zero() {
        let start = at("2026-11-23T18:05:00Z");
        assert_eq!(at("2026-11-23T18:20:00Z").seconds_since(start), 900);
        assert_eq!(at("2026-11-23T18:05:00.999Z").seconds_since(start), 0);
        assert_eq!(start.seconds_since(at("2026-11-23T18:05:01.5Z")), -1);
    }
}
