//! A `where` clause built one condition at a time, with numbered parameters that work on both
//! backends, and the paged query (items plus total count) every list endpoint runs.

use crate::{Page, PageRequest, ProjectionError};
use sqlx::any::AnyRow;
use sqlx::AnyPool;

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// Conditions joined by `and`, and the values they bind.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    /// Binds a value, returning its placeholder (`$n`). Bind only values a condition uses:
    /// PostgreSQL refuses unused parameters.
    pub fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.binds.len())
    }

    /// Adds a condition as written.
    pub fn push(&mut self, condition: impl Into<String>) {
        self.conditions.push(condition.into());
    }

    /// Adds `column = <value>`.
    pub fn eq(&mut self, column: &str, value: &str) {
        let p = self.param(Bind::Text(value.to_string()));
        self.push(format!("{column} = {p}"));
    }

    fn clause(&self) -> String {
        if self.conditions.is_empty() {
            "1 = 1".into()
        } else {
            self.conditions.join(" and ")
        }
    }

    fn bind_all<'q, O>(
        binds: &'q [Bind],
        mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        for bind in binds {
            query = match bind {
                Bind::Text(t) => query.bind(t.as_str()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        query
    }

    /// One page of `select {select} {from} where … {order} limit … offset …`, and the total
    /// number of matching rows. `order` is a full `order by` clause.
    pub async fn page<T>(
        mut self,
        pool: &AnyPool,
        select: &str,
        from: &str,
        order: &str,
        page: PageRequest,
    ) -> Result<Page<T>, ProjectionError>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        let clause = self.clause();
        let count_sql = format!("select count(*) {from} where {clause}");
        let total: (i64,) = Self::bind_all(&self.binds, sqlx::query_as(&count_sql))
            .fetch_one(pool)
            .await?;
        let limit = self.param(Bind::Int(page.size));
        let offset = self.param(Bind::Int(page.offset()));
        let sql = format!("select {select} {from} where {clause} {order} limit {limit} offset {offset}");
        let items = Self::bind_all(&self.binds, sqlx::query_as(&sql))
            .fetch_all(pool)
            .await?;
        Ok(Page { items, total: total.0 })
    }
}
