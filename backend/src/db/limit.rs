//! [`LimitInText`]: a query's LIMIT written into its text rather than bound.
//!
//! PostgreSQL estimates a bound LIMIT as a tenth of the rows, so the one plan it could keep for a
//! prepared statement always looks dearer than planning afresh with the values, and it plans the
//! statement again at every run: for a page of listings that took four times as long as running it.
//! Written in, the plan is made once per connection and kept. The limit is rounded up to one of a few
//! sizes (the caller keeps the rows it asked for), so a query has few texts, and so few prepared
//! statements.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// The sizes a limit is rounded up to: pages of 20 and 24 with one row more to tell whether a next
/// page follows, then the halfway and the largest page.
const SIZES: [i64; 4] = [21, 25, 51, 101];

/// `query` followed by `LIMIT n`, with `n` one of [`SIZES`] (or `at_least` itself, past them).
pub struct LimitInText<Q> {
    query: Q,
    rows: i64,
}

impl<Q> LimitInText<Q> {
    /// At least `at_least` rows of `query`, when it has them; perhaps more.
    pub fn new(query: Q, at_least: i64) -> Self {
        let rows = SIZES.iter().copied().find(|size| *size >= at_least).unwrap_or(at_least);
        Self { query, rows }
    }
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for LimitInText<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.rows.to_string());
        Ok(())
    }
}

impl<Q: Query> Query for LimitInText<Q> {
    type SqlType = Q::SqlType;
}

/// Named in diesel's statement cache by its text, like any query whose text varies.
impl<Q> QueryId for LimitInText<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

#[cfg(test)]
mod tests {
    use super::LimitInText;

    #[test]
    fn a_limit_is_rounded_up_to_one_of_a_few_sizes() {
        let rows = |at_least| LimitInText::new((), at_least).rows;
        assert_eq!(
            [rows(1), rows(21), rows(22), rows(25), rows(26), rows(51), rows(101)],
            [21, 21, 25, 25, 51, 51, 101]
        );
        assert_eq!(rows(102), 102);
    }
}
