//! Display of money and times.

use crate::timestamp::{CivilDate, Timestamp};

/// `4725, "CAD"` → `$47.25 CAD`.
pub fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let symbol = match currency {
        "EUR" => "€",
        "GBP" => "£",
        _ => "$",
    };
    format!("{sign}{symbol}{}.{:02} {currency}", abs / 100, abs % 100)
}

/// What a person typed as a price (`45`, `45.5`, `$45.50`) in minor units, or `None`.
pub fn parse_price(input: &str) -> Option<i64> {
    let cleaned: String = input.trim().trim_start_matches('$').chars().filter(|c| *c != ',').collect();
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if fraction.len() > 2 || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(cents)
}

/// `4725` → `47.25`, for an input field.
pub fn price_input(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `November 23, 2026` (the date in UTC).
pub fn date(at: &Timestamp) -> String {
    let CivilDate { year, month, day } = at.date();
    let month = (month as usize).checked_sub(1).and_then(|index| MONTHS.get(index)).copied().unwrap_or_default();
    format!("{month} {day}, {year}")
}

/// When an event starts, as its venue's clocks show it: `2027-03-14T19:30:00-04:00` → `March 14,
/// 2027 · 19:30`; "Date to be announced" when unknown. Read by hand from the server's local form, so
/// no time-zone database ships in the UI.
pub fn event_when(local: Option<&str>) -> String {
    let parsed = local.and_then(|text| {
        let (year, rest) = text.split_once('-')?;
        let month: usize = rest.get(0..2)?.parse().ok()?;
        let day: u32 = rest.get(3..5)?.parse().ok()?;
        let time = rest.get(6..11)?;
        Some(format!("{} {day}, {year} · {time}", MONTHS.get(month.checked_sub(1)?)?))
    });
    parsed.unwrap_or_else(|| "Date to be announced".to_owned())
}

/// The `datetime-local` form of an event's local start (`2027-03-14T19:30`).
pub fn datetime_input(local: Option<&str>) -> String {
    local.and_then(|text| text.get(0..16)).unwrap_or_default().to_owned()
}

/// Seconds as `mm:ss`.
pub fn countdown(seconds: i64) -> String {
    let seconds = seconds.max(0);
    format!("{:02}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_shown_with_symbol_cents_and_code() {
        assert_eq!(money(4_725, "CAD"), "$47.25 CAD");
        assert_eq!(money(5, "EUR"), "€0.05 EUR");
        assert_eq!(money(-4_725, "CAD"), "-$47.25 CAD");
    }

    #[test]
    fn prices_typed_by_people_become_minor_units() {
        assert_eq!(parse_price("45"), Some(4_500));
        assert_eq!(parse_price("45.5"), Some(4_550));
        assert_eq!(parse_price("$1,045.05"), Some(104_505));
        assert_eq!(parse_price(".5"), Some(50));
        for bad in ["", "abc", "1.234", "-5", "4 5"] {
            assert_eq!(parse_price(bad), None, "{bad}");
        }
        assert_eq!(price_input(4_550), "45.50");
    }

    #[test]
    fn dates_read_as_people_write_them() {
        let at = |text: &str| text.parse::<Timestamp>().expect("time");
        assert_eq!(date(&at("2026-11-23T18:05:00Z")), "November 23, 2026");
        assert_eq!(date(&at("2027-01-01T00:00:00Z")), "January 1, 2027");
    }

    #[test]
    fn event_times_are_shown_as_the_venues_clocks_show_them() {
        assert_eq!(event_when(Some("2027-03-14T19:30:00-04:00")), "March 14, 2027 · 19:30");
        assert_eq!(event_when(None), "Date to be announced");
        assert_eq!(event_when(Some("garbage")), "Date to be announced");
        assert_eq!(datetime_input(Some("2027-03-14T19:30:00-04:00")), "2027-03-14T19:30");
    }

    #[test]
    fn countdowns_never_go_negative() {
        assert_eq!(countdown(900), "15:00");
        assert_eq!(countdown(61), "01:01");
        assert_eq!(countdown(-3), "00:00");
    }
}
