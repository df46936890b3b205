//! Billing details: who pays and where they live, as shown on the confirmation page and email.

use serde::{Deserialize, Serialize};

use crate::validation::{Collector, FieldError, Invalid};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

/// Raw billing fields as received.
#[derive(Debug, Default)]
pub struct BillingInput<'a> {
    pub name: &'a str,
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub region: Option<&'a str>,
    pub postal_code: &'a str,
    pub country: &'a str,
}

fn text(field: &'static str, label: &str, raw: &str, max: usize, errors: &mut Collector) -> String {
    let value = raw.trim();
    if value.is_empty() {
        errors.take::<()>(Err(FieldError::new(field, "required", format!("{label} is required."))));
    } else if value.chars().count() > max {
        errors.take::<()>(Err(FieldError::new(
            field,
            "too_long",
            format!("{label} must be at most {max} characters."),
        )));
    } else if value.chars().any(char::is_control) {
        errors.take::<()>(Err(FieldError::new(
            field,
            "invalid_characters",
            format!("{label} cannot contain control characters."),
        )));
    }
    value.to_owned()
}

fn optional(field: &'static str, label: &str, raw: Option<&str>, max: usize, errors: &mut Collector) -> Option<String> {
    raw.map(str::trim).filter(|value| !value.is_empty()).map(|value| text(field, label, value, max, errors))
}

impl Billing {
    pub fn parse(input: &BillingInput<'_>) -> Result<Self, Invalid> {
        let mut errors = Collector::default();
        let name = text("billing.name", "Name", input.name, 100, &mut errors);
        let line1 = text("billing.line1", "Address", input.line1, 200, &mut errors);
        let line2 = optional("billing.line2", "Address line 2", input.line2, 200, &mut errors);
        let city = text("billing.city", "City", input.city, 100, &mut errors);
        let region = optional("billing.region", "Province or state", input.region, 100, &mut errors);
        let postal_code = text("billing.postalCode", "Postal code", input.postal_code, 20, &mut errors);
        let country = input.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            errors.take::<()>(Err(FieldError::new(
                "billing.country",
                "invalid_country",
                "Country must be a two-letter code such as CA.",
            )));
        }
        errors.finish()?;
        Ok(Self { name, line1, line2, city, region, postal_code, country })
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }

    /// The first word of the name, for greetings.
    pub fn first_name(&self) -> &str {
        self.name.split_whitespace().next().unwrap_or(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>() -> BillingInput<'a> {
        BillingInput {
            name: " Ada Lovelace ",
            line1: "1 Main St",
            line2: Some(""),
            city: "Toronto",
            region: Some("ON"),
            postal_code: "M5V 2T6",
            country: "ca",
        }
    }

    #[test]
    fn parses_and_normalises() {
        let billing = Billing::parse(&input()).expect("valid");
        assert_eq!(
            (billing.name.as_str(), billing.country.as_str(), billing.line2.as_deref()),
            ("Ada Lovelace", "CA", None)
        );
        assert_eq!(billing.first_name(), "Ada");
        assert_eq!(Billing::from_json(&billing.to_json()), Some(billing));
    }

    #[test]
    fn names_every_bad_field() {
        let bad = BillingInput { name: "", city: "x\r\ny", country: "Canada", ..input() };
        let fields: Vec<_> = Billing::parse(&bad).expect_err("invalid").0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["billing.name", "billing.city", "billing.country"]);
    }
}
