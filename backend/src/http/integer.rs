//! [`Integer`]: a JSON integer whose schema states the range the handler's rules enforce.
//!
//! The rules answer a value out of range with a 422 naming the field (so a client learns which field
//! and why), which a parse-time validator would turn into a bare 400. The spec still states the
//! range, so generated clients and fuzzers send realistic values.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// An integer field of a request body, `MIN..=MAX` by the rules that check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integer<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> Type for Integer<MIN, MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = i64;
    type RawElementValueType = i64;

    fn name() -> Cow<'static, str> {
        format!("integer_{MIN}_{MAX}").into()
    }

    fn schema_ref() -> MetaSchemaRef {
        #[allow(clippy::cast_precision_loss, reason = "the bounds are small enough to be exact")]
        let (minimum, maximum) = (MIN as f64, MAX as f64);
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("int64"),
            minimum: Some(minimum),
            maximum: Some(maximum),
            ..MetaSchema::new("integer")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<const MIN: i64, const MAX: i64> ParseFromJSON for Integer<MIN, MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Number(number) => {
                number.as_i64().map(Self).ok_or_else(|| ParseError::custom("expected a 64-bit integer"))
            }
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<const MIN: i64, const MAX: i64> ToJSON for Integer<MIN, MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_any_integer_and_states_its_range() {
        type Price = Integer<30, 100>;
        assert_eq!(Price::parse_from_json(Some(Value::from(5))).ok(), Some(Integer(5)));
        assert!(Price::parse_from_json(Some(Value::from(1.5))).is_err());
        assert!(Price::parse_from_json(Some(Value::from("5"))).is_err());
        assert!(Price::parse_from_json(None).is_err());
        let MetaSchemaRef::Inline(schema) = Price::schema_ref() else { panic!("inline schema") };
        assert_eq!((schema.minimum, schema.maximum), (Some(30.0), Some(100.0)));
    }
}
