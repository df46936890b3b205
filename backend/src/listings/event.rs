//! The event a ticket is for: its name, where it is, when it starts (at the venue's wall-clock time,
//! in the venue's time zone) and, optionally, the seat.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::validation::FieldError;

/// Longest venue name, in characters.
pub const VENUE_MAX_CHARS: usize = 120;
/// Longest city name, in characters.
pub const CITY_MAX_CHARS: usize = 80;
/// Longest section, row or seat label, in characters.
pub const SEAT_LABEL_MAX_CHARS: usize = 40;
/// How far ahead an event may start.
pub const MAX_YEARS_AHEAD: i64 = 5;

/// A required line of text: trimmed, 1 to `max` characters, no control characters.
fn required_line(field: &'static str, label: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(FieldError::new(field, "required", format!("{label} is required.")));
    }
    checked_line(field, label, text, max)
}

fn checked_line(field: &'static str, label: &str, text: &str, max: usize) -> Result<String, FieldError> {
    if text.chars().count() > max {
        return Err(FieldError::new(field, "too_long", format!("{label} must be at most {max} characters.")));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            format!("{label} cannot contain control characters."),
        ));
    }
    Ok(text.to_owned())
}

/// Where the event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub venue: String,
    pub city: String,
}

impl Place {
    pub fn parse_venue(raw: &str) -> Result<String, FieldError> {
        required_line("venue", "Venue", raw, VENUE_MAX_CHARS)
    }

    pub fn parse_city(raw: &str) -> Result<String, FieldError> {
        required_line("city", "City", raw, CITY_MAX_CHARS)
    }
}

/// Section, row and seat, each optional; blank means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seat {
    pub section: Option<String>,
    pub row: Option<String>,
    pub seat: Option<String>,
}

impl Seat {
    pub fn parse_label(field: &'static str, raw: Option<&str>) -> Result<Option<String>, FieldError> {
        let label = match field {
            "section" => "Section",
            "row" => "Row",
            _ => "Seat",
        };
        match raw.map(str::trim).filter(|text| !text.is_empty()) {
            None => Ok(None),
            Some(text) => checked_line(field, label, text, SEAT_LABEL_MAX_CHARS).map(Some),
        }
    }
}

/// When the event starts: an instant, and the venue's time zone it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStart {
    pub at: DateTime<Utc>,
    pub zone: Tz,
}

impl EventStart {
    /// Reads a time zone by its IANA name (`America/Toronto`).
    pub fn parse_zone(raw: &str) -> Result<Tz, FieldError> {
        raw.trim().parse::<Tz>().map_err(|_| {
            FieldError::new(
                "timeZone",
                "unknown_time_zone",
                "Time zone must be an IANA time zone name, such as America/Toronto.",
            )
        })
    }

    /// Reads the start: the wall-clock time at the venue (`2027-03-14T19:30`, seconds optional), or an
    /// RFC 3339 time with its offset. It must be in the future, and at most five years ahead.
    pub fn parse(raw: &str, zone: Tz, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let raw = raw.trim();
        let at = match DateTime::parse_from_rfc3339(raw) {
            Ok(with_offset) => with_offset.with_timezone(&Utc),
            Err(_) => {
                let wall = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
                    .iter()
                    .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
                    .ok_or_else(|| {
                        FieldError::new(
                            "startsAt",
                            "invalid_date_time",
                            "Start must be a date and time such as 2027-03-14T19:30.",
                        )
                    })?;
                match zone.from_local_datetime(&wall) {
                    LocalResult::Single(at) => at.with_timezone(&Utc),
                    // The hour the clocks go back happens twice: the first is meant.
                    LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
                    LocalResult::None => {
                        return Err(FieldError::new(
                            "startsAt",
                            "nonexistent_local_time",
                            format!("{raw} does not exist in {zone}: the clocks skip it."),
                        ));
                    }
                }
            }
        };
        if at <= now {
            return Err(FieldError::new("startsAt", "in_the_past", "The event must start in the future."));
        }
        if at > now + TimeDelta::days(365 * MAX_YEARS_AHEAD) {
            return Err(FieldError::new(
                "startsAt",
                "too_far_ahead",
                format!("The event must start within {MAX_YEARS_AHEAD} years."),
            ));
        }
        Ok(Self { at, zone })
    }

    /// The start as the venue's clocks show it, with their offset (`2027-03-14T19:30:00-04:00`).
    pub fn local_rfc3339(&self) -> String {
        self.at.with_timezone(&self.zone).to_rfc3339()
    }

    /// The day the event starts on, at the venue.
    pub fn local_date(&self) -> NaiveDate {
        self.at.with_timezone(&self.zone).date_naive()
    }

    /// Reads a stored start back; `None` when the zone is not one this build knows.
    pub fn from_stored(at: DateTime<Utc>, zone: &str) -> Option<Self> {
        zone.parse::<Tz>().ok().map(|zone| Self { at, zone })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z").map(|t| t.with_timezone(&Utc)).expect("time")
    }

    fn toronto() -> Tz {
        EventStart::parse_zone("America/Toronto").expect("zone")
    }

    #[test]
    fn a_wall_clock_time_is_read_in_the_venues_zone() {
        let start = EventStart::parse("2027-03-13T19:30", toronto(), now()).expect("start");
        assert_eq!(start.at.to_rfc3339(), "2027-03-14T00:30:00+00:00");
        assert_eq!(start.local_rfc3339(), "2027-03-13T19:30:00-05:00");
        // After the clocks go forward, the offset follows.
        let summer = EventStart::parse("2027-07-01T20:00:00", toronto(), now()).expect("start");
        assert_eq!(summer.local_rfc3339(), "2027-07-01T20:00:00-04:00");
        assert_eq!(summer.local_date().to_string(), "2027-07-01");
    }

    #[test]
    fn an_rfc3339_time_keeps_its_instant() {
        let start = EventStart::parse("2027-01-10T01:00:00Z", toronto(), now()).expect("start");
        assert_eq!(start.local_rfc3339(), "2027-01-09T20:00:00-05:00");
        assert_eq!(start.local_date().to_string(), "2027-01-09");
    }

    #[test]
    fn bad_starts_are_refused_by_reason() {
        let code = |raw: &str| EventStart::parse(raw, toronto(), now()).map_err(|e| e.code).err();
        assert_eq!(code("tomorrow"), Some("invalid_date_time"));
        assert_eq!(code("2027-02-30T19:00"), Some("invalid_date_time"));
        assert_eq!(code("2026-11-30T19:00"), Some("in_the_past"));
        assert_eq!(code("2040-01-01T19:00"), Some("too_far_ahead"));
        // 02:30 on the day the clocks go forward does not happen in Toronto.
        assert_eq!(code("2027-03-14T02:30"), Some("nonexistent_local_time"));
        assert!(EventStart::parse_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn lines_are_trimmed_and_bounded() {
        assert_eq!(Place::parse_venue("  Massey Hall "), Ok("Massey Hall".into()));
        assert_eq!(Place::parse_city("").map_err(|e| e.code), Err("required"));
        assert_eq!(Seat::parse_label("row", Some("  ")), Ok(None));
        assert_eq!(Seat::parse_label("seat", Some(&"9".repeat(41))).map_err(|e| e.code), Err("too_long"));
        assert_eq!(Seat::parse_label("section", Some("A\u{7}")).map_err(|e| e.code), Err("invalid_characters"));
    }
}
