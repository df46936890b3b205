//! Money: integer minor units with a currency, rates (tax, the platform's fee) with one documented
//! rounding rule, and display.

use std::fmt;

/// A rate, held exactly in thousandths of a percent (5% is 5000; 14.975% is 14975).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentage {
    milli_percent: i64,
}

/// Tax added to an order's price.
pub type TaxRate = Percentage;

impl Percentage {
    pub const fn from_milli_percent(milli_percent: i64) -> Self {
        Self { milli_percent }
    }

    /// The rate in thousandths of a percent.
    pub const fn milli_percent(self) -> i64 {
        self.milli_percent
    }

    /// Parses a percentage with at most three decimals, between 0 and 100: `5`, `13`, `14.975`.
    pub fn parse_percent(raw: &str) -> Result<Self, String> {
        let raw = raw.trim().trim_end_matches('%');
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        if whole.is_empty()
            || fraction.len() > 3
            || !(whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()))
        {
            return Err(format!("`{raw}` is not a percentage with at most three decimals"));
        }
        let whole: i64 = whole.parse().map_err(|_| format!("`{raw}` is too large"))?;
        let fraction: i64 = format!("{fraction:0<3}").parse().unwrap_or(0);
        let milli_percent = whole * 1_000 + fraction;
        if milli_percent > 100_000 {
            return Err("a rate cannot exceed 100%".into());
        }
        Ok(Self { milli_percent })
    }

    /// This share of `price` minor units, rounded half up to the nearest minor unit.
    pub fn of(self, price: i64) -> i64 {
        let exact = i128::from(price) * i128::from(self.milli_percent);
        let rounded = (exact + 50_000) / 100_000;
        i64::try_from(rounded).unwrap_or(i64::MAX)
    }

    /// The rate as a percentage string without trailing zeros: `5`, `14.975`.
    pub fn percent(self) -> String {
        let whole = self.milli_percent / 1_000;
        let fraction = self.milli_percent % 1_000;
        if fraction == 0 {
            whole.to_string()
        } else {
            format!("{whole}.{}", format!("{fraction:03}").trim_end_matches('0'))
        }
    }
}

/// An amount for display: `$45.00 CAD`, `-$3.10 CAD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money<'a> {
    pub minor: i64,
    pub currency: &'a str,
}

impl fmt::Display for Money<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let symbol = match self.currency {
            "EUR" => "€",
            "GBP" => "£",
            _ => "$",
        };
        let whole = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        write!(f, "{sign}{symbol}{grouped}.{:02} {}", abs % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_rounds_half_up_in_minor_units() {
        let five = TaxRate::from_milli_percent(5_000);
        assert_eq!(five.of(4_500), 225);
        assert_eq!(five.of(1_010), 51, "50.5 rounds up");
        assert_eq!(five.of(1_009), 50, "50.45 rounds down");
        assert_eq!(five.of(1), 0);
        assert_eq!(TaxRate::parse_percent("14.975").map(|r| r.of(10_000)), Ok(1_498));
        assert_eq!(TaxRate::parse_percent("0").map(|r| r.of(10_000)), Ok(0));
    }

    #[test]
    fn rates_parse_exactly_or_not_at_all() {
        assert_eq!(TaxRate::parse_percent("5%").map(TaxRate::percent), Ok("5".into()));
        assert_eq!(TaxRate::parse_percent("14.975").map(TaxRate::percent), Ok("14.975".into()));
        assert_eq!(TaxRate::parse_percent("7.5").map(TaxRate::percent), Ok("7.5".into()));
        for bad in ["", "abc", "1.2345", "-5", "101", "5.5.5"] {
            assert!(TaxRate::parse_percent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_displays_with_symbol_grouping_and_code() {
        assert_eq!(Money { minor: 4_725, currency: "CAD" }.to_string(), "$47.25 CAD");
        assert_eq!(Money { minor: 123_456_789, currency: "USD" }.to_string(), "$1,234,567.89 USD");
        assert_eq!(Money { minor: 5, currency: "EUR" }.to_string(), "€0.05 EUR");
        assert_eq!(Money { minor: -310, currency: "GBP" }.to_string(), "-£3.10 GBP");
        assert_eq!(Money { minor: 0, currency: "CAD" }.to_string(), "$0.00 CAD");
    }
}
