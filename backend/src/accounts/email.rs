//! [`EmailAddress`]: a syntactically plausible email address.

use crate::validation::FieldError;

/// An email address as the user typed it (trimmed). Uniqueness is case-insensitive; see [`Self::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Accepts `local@domain.tld` with no spaces or control characters, at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = raw.trim();
        let invalid = || FieldError::new("email", "invalid_email", "Enter a valid email address.");
        if email.is_empty() {
            return Err(FieldError::new("email", "required", "Email is required."));
        }
        if email.chars().count() > 254 {
            return Err(FieldError::new("email", "too_long", "Email must be at most 254 characters."));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used to compare addresses: lower case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_trims() {
        assert_eq!(
            EmailAddress::parse("  Ann@Example.com ").map(|e| e.as_str().to_owned()),
            Ok("Ann@Example.com".into())
        );
        assert_eq!(EmailAddress::parse("Ann@Example.com").map(|e| e.key()), Ok("ann@example.com".into()));
    }

    #[test]
    fn rejects_what_cannot_be_an_address() {
        for raw in [
            "",
            "   ",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@.com",
            "a@b@c.com",
            "ann@example.com.",
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "{raw:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long).map_err(|e| e.code), Err("too_long"));
    }
}
