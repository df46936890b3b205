//! Listing rules: what a title, a price and a currency may be, and the states a listing moves through.

use crate::validation::FieldError;

/// Longest title, in characters, after trimming.
pub const TITLE_MAX_CHARS: usize = 120;
/// Highest price in minor units: 1,000,000.00.
pub const PRICE_MAX_MINOR: i64 = 100_000_000;
/// Currencies a listing may be priced in; all have two decimal places.
pub const CURRENCIES: &[&str] = &["CAD", "USD", "EUR", "GBP"];
/// The currency used when a listing does not name one.
pub const DEFAULT_CURRENCY: &str = "CAD";

/// A trimmed title of 1 to 120 characters with no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(FieldError::new("title", "required", "Title is required."));
        }
        if title.chars().count() > TITLE_MAX_CHARS {
            return Err(FieldError::new(
                "title",
                "too_long",
                format!("Title must be at most {TITLE_MAX_CHARS} characters."),
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(FieldError::new("title", "invalid_characters", "Title cannot contain control characters."));
        }
        Ok(Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A price in integer minor units (cents), above zero and at most [`PRICE_MAX_MINOR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(i64);

impl Price {
    pub fn parse(minor: i64) -> Result<Self, FieldError> {
        if minor <= 0 {
            return Err(FieldError::new("price", "not_positive", "Price must be greater than zero."));
        }
        if minor > PRICE_MAX_MINOR {
            return Err(FieldError::new("price", "too_high", "Price must be at most 1,000,000.00."));
        }
        Ok(Self(minor))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}

/// One of [`CURRENCIES`], upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(&'static str);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let upper = raw.trim().to_ascii_uppercase();
        CURRENCIES.iter().find(|code| **code == upper).map(|code| Self(code)).ok_or_else(|| {
            FieldError::new(
                "currency",
                "unsupported_currency",
                format!("Currency must be one of {}.", CURRENCIES.join(", ")),
            )
        })
    }

    pub fn default_currency() -> Self {
        Self(DEFAULT_CURRENCY)
    }

    pub fn code(&self) -> &'static str {
        self.0
    }

    /// The smallest amount Stripe will charge in this currency, in minor units (Stripe's documented
    /// minimum charge amounts: 0.50 for CAD, USD and EUR, 0.30 for GBP).
    pub fn minimum_charge(&self) -> i64 {
        match self.0 {
            "GBP" => 30,
            _ => 50,
        }
    }
}

/// Refuses a price Stripe could not charge in `currency`.
pub fn chargeable(price: Price, currency: &Currency) -> Result<(), FieldError> {
    let minimum = currency.minimum_charge();
    if price.minor_units() < minimum {
        return Err(FieldError::new(
            "price",
            "below_minimum_charge",
            format!("Price must be at least {}.{:02} {}.", minimum / 100, minimum % 100, currency.code()),
        ));
    }
    Ok(())
}

/// Where a listing is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    /// On the market.
    Available,
    /// Reserved by a buyer whose hold has not lapsed.
    Held,
    /// Bought.
    Sold,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Held => "held",
            Self::Sold => "sold",
        }
    }

    pub fn from_db(raw: &str) -> Self {
        match raw {
            "held" => Self::Held,
            "sold" => Self::Sold,
            _ => Self::Available,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(Title::parse("  Concert  ").map(|t| t.as_str().to_owned()), Ok("Concert".into()));
        assert_eq!(Title::parse("   ").map_err(|e| e.code), Err("required"));
        assert!(Title::parse(&"é".repeat(120)).is_ok());
        assert_eq!(Title::parse(&"a".repeat(121)).map_err(|e| e.code), Err("too_long"));
        assert_eq!(Title::parse("a\r\nBcc: x@y.z").map_err(|e| e.code), Err("invalid_characters"));
    }

    #[test]
    fn prices_are_positive_and_capped() {
        assert!(Price::parse(0).is_err());
        assert!(Price::parse(-5).is_err());
        assert_eq!(Price::parse(1).map(Price::minor_units), Ok(1));
        assert!(Price::parse(PRICE_MAX_MINOR).is_ok());
        assert!(Price::parse(PRICE_MAX_MINOR + 1).is_err());
    }

    #[test]
    fn prices_below_stripes_minimum_charge_are_refused() {
        let cad = Currency::parse("CAD").expect("cad");
        let gbp = Currency::parse("GBP").expect("gbp");
        let price = |minor| Price::parse(minor).expect("price");
        assert_eq!(chargeable(price(49), &cad).map_err(|e| e.code), Err("below_minimum_charge"));
        assert!(chargeable(price(50), &cad).is_ok());
        assert!(chargeable(price(30), &gbp).is_ok());
        assert!(chargeable(price(29), &gbp).is_err());
    }

    #[test]
    fn currencies_come_from_the_supported_list() {
        assert_eq!(Currency::parse("cad").map(|c| c.code()), Ok("CAD"));
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("").is_err());
    }
}
