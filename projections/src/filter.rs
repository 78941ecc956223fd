//! A `where` clause built one condition at a time, with numbered parameters that work on both
//! backends, and the paged query (items plus total count) every list endpoint runs.

use crate::{Page, PageRequest, ProjectionError};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use store::{on_pool, Backend, Database};

/// The table a list reads and the name its columns go by in the query (alias or table name).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub table: &'a str,
    pub alias: &'a str,
}

impl<'a> Source<'a> {
    /// A table queried under its own name.
    pub fn table(table: &'a str) -> Self {
        Source { table, alias: table }
    }
}

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

    /// Adds `metadata[key] = value` on the JSON text in `column` (Keygen compares the value as
    /// text; `true` and `false` match booleans).
    pub fn metadata(&mut self, backend: Backend, column: &str, key: &str, value: &str) {
        let k = self.param(Bind::Text(key.to_string()));
        let v = self.param(Bind::Text(value.to_string()));
        self.push(match backend {
            Backend::Postgres => format!("(cast({column} as jsonb) ->> cast({k} as text)) = cast({v} as text)"),
            Backend::Sqlite => {
                let path = format!("'$.\"' || {k} || '\"'");
                format!(
                    "(case json_type({column}, {path}) when 'true' then 'true' when 'false' then 'false' \
                     else cast(json_extract({column}, {path}) as text) end) = {v}"
                )
            }
        });
    }

    fn clause(&self) -> String {
        if self.conditions.is_empty() {
            "1 = 1".into()
        } else {
            self.conditions.join(" and ")
        }
    }

    fn bind_all<'q, DB, O>(
        binds: &'q [Bind],
        mut query: sqlx::query::QueryAs<'q, DB, O, DB::Arguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, DB, O, DB::Arguments<'q>>
    where
        DB: sqlx::Database,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        for bind in binds {
            query = match bind {
                Bind::Text(t) => query.bind(t.as_str()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        query
    }

    /// One page of `select {select} {from} where …` in `page.order` over `source`, and the total
    /// number of matching rows. With a cursor, the page holds the rows after the cursor's row
    /// in that order (keyset paging).
    pub async fn page<T>(
        mut self,
        db: &Database,
        select: &str,
        from: &str,
        source: Source<'_>,
        page: PageRequest,
    ) -> Result<Page<T>, ProjectionError>
    where
        T: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
    {
        let count_sql = format!("select count(*) {from} where {}", self.clause());
        let total: (i64,) = on_pool!(db, |pool| {
            Self::bind_all(&self.binds, sqlx::query_as(&count_sql))
                .fetch_one(pool)
                .await?
        });
        let Source { table, alias } = source;
        if let Some(Some(cursor)) = page.cursor {
            let c = self.param(Bind::Text(cursor.to_string()));
            let (cmp, at) = (
                page.order.comparison(),
                format!("(select created_at from {table} where id = {c})"),
            );
            self.push(format!(
                "({alias}.created_at {cmp} {at} or ({alias}.created_at = {at} and {alias}.id {cmp} {c}))"
            ));
        }
        let clause = self.clause();
        let limit = self.param(Bind::Int(page.size));
        let offset = self.param(Bind::Int(page.offset()));
        let order = page.order.sql_prefixed(alias);
        let sql = format!("select {select} {from} where {clause} {order} limit {limit} offset {offset}");
        let items = on_pool!(db, |pool| {
            Self::bind_all(&self.binds, sqlx::query_as(&sql))
                .fetch_all(pool)
                .await?
        });
        Ok(Page { items, total: total.0 })
    }

    /// The first row in `order` (a lookup by id or alias through the list's conditions).
    pub async fn first<T>(
        self,
        db: &Database,
        select: &str,
        from: &str,
        source: Source<'_>,
        order: crate::ListOrder,
    ) -> Result<Option<T>, ProjectionError>
    where
        T: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
    {
        let page = PageRequest {
            number: None,
            size: 1,
            order,
            cursor: None,
        };
        Ok(self
            .page(db, select, from, source, page)
            .await?
            .items
            .into_iter()
            .next())
    }
}
