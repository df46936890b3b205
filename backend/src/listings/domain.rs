//! Listing rules: what an event name, a price, a face value and a currency may be, how far above face
//! value a ticket may be resold, and the states a listing moves through.

use crate::validation::FieldError;

/// Longest event name, in characters, after trimming.
pub const EVENT_NAME_MAX_CHARS: usize = 120;
/// Highest price in minor units: 1,000,000.00.
pub const PRICE_MAX_MINOR: i64 = 100_000_000;
/// Currencies a listing may be priced in; all have two decimal places.
pub const CURRENCIES: &[&str] = &["CAD", "USD", "EUR", "GBP"];
/// The currency used when a listing does not name one.
pub const DEFAULT_CURRENCY: &str = "CAD";

/// A trimmed event name of 1 to 120 characters with no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventName(String);

impl EventName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(FieldError::new("eventName", "required", "Event name is required."));
        }
        if name.chars().count() > EVENT_NAME_MAX_CHARS {
            return Err(FieldError::new(
                "eventName",
                "too_long",
                format!("Event name must be at most {EVENT_NAME_MAX_CHARS} characters."),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new(
                "eventName",
                "invalid_characters",
                "Event name cannot contain control characters.",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An amount in integer minor units (cents), above zero and at most [`PRICE_MAX_MINOR`]: a price, or
/// the face value printed on the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(i64);

impl Price {
    pub fn parse(minor: i64) -> Result<Self, FieldError> {
        Self::parse_field("price", "Price", minor)
    }

    pub fn parse_face_value(minor: i64) -> Result<Self, FieldError> {
        Self::parse_field("faceValue", "Face value", minor)
    }

    fn parse_field(field: &'static str, label: &str, minor: i64) -> Result<Self, FieldError> {
        if minor <= 0 {
            return Err(FieldError::new(field, "not_positive", format!("{label} must be greater than zero.")));
        }
        if minor > PRICE_MAX_MINOR {
            return Err(FieldError::new(field, "too_high", format!("{label} must be at most 1,000,000.00.")));
        }
        Ok(Self(minor))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}

/// How far above its face value a ticket may be resold, in whole percent (`PRICE_CAP_PERCENT`; 0: at
/// most face value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PriceCap {
    pub percent: u32,
}

impl PriceCap {
    /// The highest price allowed for `face_value`, rounded down to a whole minor unit (exact: the
    /// comparison is `price * 100 <= face_value * (100 + percent)` in integers).
    pub fn highest_price(self, face_value: Price) -> i64 {
        face_value.minor_units() * (100 + i64::from(self.percent)) / 100
    }

    /// Refuses a price above the cap, naming it.
    pub fn check(self, price: Price, face_value: Price, currency: &Currency) -> Result<(), FieldError> {
        if price.minor_units() * 100 <= face_value.minor_units() * (100 + i64::from(self.percent)) {
            return Ok(());
        }
        let highest = crate::money::Money { minor: self.highest_price(face_value), currency: currency.code() };
        let message = if self.percent == 0 {
            format!("Price may not be above the ticket's face value: at most {highest}.")
        } else {
            format!("Price may be at most {}% above the ticket's face value: at most {highest}.", self.percent)
        };
        Err(FieldError::new("price", "above_price_cap", message))
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
    pub const fn as_str(self) -> &'static str {
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
    fn event_names_are_trimmed_and_bounded() {
        assert_eq!(EventName::parse("  Concert  ").map(|t| t.as_str().to_owned()), Ok("Concert".into()));
        assert_eq!(EventName::parse("   ").map_err(|e| e.code), Err("required"));
        assert!(EventName::parse(&"é".repeat(120)).is_ok());
        assert_eq!(EventName::parse(&"a".repeat(121)).map_err(|e| e.code), Err("too_long"));
        assert_eq!(EventName::parse("a\r\nBcc: x@y.z").map_err(|e| e.code), Err("invalid_characters"));
    }

    #[test]
    fn the_price_cap_is_exact_in_minor_units() {
        let cad = Currency::parse("CAD").expect("cad");
        let price = |minor| Price::parse(minor).expect("price");
        let face = Price::parse_face_value(4_999).expect("face value");
        let at_face = PriceCap { percent: 0 };
        assert!(at_face.check(price(4_999), face, &cad).is_ok());
        let refused = at_face.check(price(5_000), face, &cad).expect_err("above face value");
        assert_eq!((refused.field, refused.code), ("price", "above_price_cap"));
        assert!(refused.message.contains("$49.99 CAD"), "{}", refused.message);
        // 10% over 49.99 is 54.989: 54.98 is allowed, 54.99 is not.
        let ten = PriceCap { percent: 10 };
        assert_eq!(ten.highest_price(face), 5_498);
        assert!(ten.check(price(5_498), face, &cad).is_ok());
        assert!(ten.check(price(5_499), face, &cad).expect_err("above").message.contains("10%"));
        assert_eq!(Price::parse_face_value(0).map_err(|e| (e.field, e.code)), Err(("faceValue", "not_positive")));
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
