//! [`TextConstant`]: a text the code names, written into a statement rather than bound.
//!
//! A bound value is unknown when PostgreSQL makes the one plan it keeps for a prepared statement, so
//! that plan cannot use a partial index whose condition names the value (`status <> 'sold'`), and
//! PostgreSQL plans such a statement anew at every run instead. Unlike diesel's `sql` fragments, a
//! constant leaves the statement in diesel's cache.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Text;

/// A constant of the code's own, such as a status; never anything a request brought.
#[derive(Debug, Clone, Copy)]
pub struct TextConstant(&'static str);

impl TextConstant {
    /// Panics on a quote, which no constant of the code's has (and which would end the literal).
    pub const fn new(text: &'static str) -> Self {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(bytes[i] != b'\'' && bytes[i] != b'\\', "a text constant holds no quote or backslash");
            i += 1;
        }
        Self(text)
    }
}

impl Expression for TextConstant {
    type SqlType = Text;
}

impl<QS> AppearsOnTable<QS> for TextConstant {}

impl<QS> SelectableExpression<QS> for TextConstant {}

impl<GB> ValidGrouping<GB> for TextConstant {
    type IsAggregate = is_aggregate::Never;
}

impl QueryFragment<Pg> for TextConstant {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("'");
        out.push_sql(self.0);
        out.push_sql("'");
        Ok(())
    }
}

/// Named in diesel's statement cache by the statement's text, which holds the constant.
impl QueryId for TextConstant {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;

    use super::TextConstant;

    #[test]
    fn a_constant_is_written_quoted_into_the_statement() {
        let sql = diesel::debug_query::<Pg, _>(&TextConstant::new("sold")).to_string();
        assert!(sql.starts_with("'sold'"), "{sql}");
    }

    #[test]
    #[should_panic(expected = "no quote")]
    fn a_constant_cannot_end_its_literal() {
        let _ = TextConstant::new("it's");
    }
}
