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

/// A string field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) if text.contains('\0') => Err(ParseError::custom(NUL_MESSAGE)),
            Value::String(text) => Ok(Self(text)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_strings() {
        assert_eq!(Text::parse_from_json(Some(Value::from("a"))).ok(), Some(Text("a".into())));
        assert!(Text::parse_from_json(Some(Value::from(12))).is_err());
        assert!(Text::parse_from_json(Some(Value::from(true))).is_err());
        assert!(Text::parse_from_json(Some(Value::Null)).is_err());
        assert!(Text::parse_from_json(None).is_err());
        assert!(Text::parse_from_json(Some(Value::from("a\u{0}b"))).is_err());
    }
}
