//! [`Text`]: a JSON string that is only ever a string.
//!
//! poem-openapi's `String` quietly accepts numbers and booleans (`{"title": 12}` becomes `"12"`). Request
//! fields use `Text` instead, so a value of the wrong JSON type is a 400, as the spec says. A NUL
//! character, which PostgreSQL cannot store in text, is a 400 too, wherever it comes.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// What a client is told of a NUL character in its input.
pub const NUL_MESSAGE: &str = "Text must not contain NUL characters.";

/// Whether `text` holds a character no text column can store.
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// A string field of a request body. The spec states `MAX` as its `maxLength`: the length the
/// handler's own rules allow (they answer a longer value with a 422 naming the field), so clients and
/// fuzzers know it; parsing itself does not refuse a longer string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<const MAX: usize = 1000>(pub String);

impl<const MAX: usize> Text<MAX> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> Type for Text<MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        format!("string_max_{MAX}").into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema { max_length: Some(MAX), ..MetaSchema::new("string") }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<const MAX: usize> ParseFromJSON for Text<MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) if text.contains('\0') => Err(ParseError::custom(NUL_MESSAGE)),
            Value::String(text) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<const MAX: usize> ToJSON for Text<MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// An email address field: a [`Text`] whose schema says `format: email`, so clients and fuzzers send
/// addresses; the accounts rules still check it and answer a bad one with a 422 on the field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailText(pub Text<254>);

impl EmailText {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Type for EmailText {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string_email".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("email"),
            max_length: Some(254),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_raw_value()
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        self.0.raw_element_iter()
    }
}

impl ParseFromJSON for EmailText {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Text::parse_from_json(value).map(Self).map_err(ParseError::propagate)
    }
}

impl ToJSON for EmailText {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_strings() {
        assert_eq!(Text::<10>::parse_from_json(Some(Value::from("a"))).ok(), Some(Text("a".into())));
        assert!(Text::<10>::parse_from_json(Some(Value::from(12))).is_err());
        assert!(Text::<10>::parse_from_json(Some(Value::from(true))).is_err());
        assert!(Text::<10>::parse_from_json(Some(Value::Null)).is_err());
        assert!(Text::<10>::parse_from_json(None).is_err());
        assert!(Text::<10>::parse_from_json(Some(Value::from("a\u{0}b"))).is_err());
        let long = Text::<3>::parse_from_json(Some(Value::from("longer"))).ok();
        assert_eq!(long.map(|text| text.0), Some("longer".to_owned()), "the rules, not parsing, refuse it");
        assert!(matches!(Text::<3>::schema_ref(), MetaSchemaRef::Inline(schema) if schema.max_length == Some(3)));
    }
}
