//! Hand-written statements that run as prepared statements, parsed and planned once per connection.
//!
//! diesel treats `sql_query` text as dynamic and prepares it anew on every call (a parse, a plan and an
//! extra round trip). A statement whose text is a constant implements [`Statement`]; wrapped in
//! [`Prepared`], its type names it in diesel's statement cache, so it is prepared once per connection.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Untyped;

/// A statement of constant text: `walk_ast` pushes the same SQL every time, with its binds.
pub trait Statement: Send + 'static {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

/// A [`Statement`] diesel may cache; its rows load into `QueryableByName` types.
pub struct Prepared<S>(pub S);

impl<S: Statement> QueryId for Prepared<S> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: Statement> Query for Prepared<S> {
    type SqlType = Untyped;
}

impl<S: Statement> QueryFragment<Pg> for Prepared<S> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}
