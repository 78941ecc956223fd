//! Paging and ordering of list queries (Keygen: newest first, `limit` or `page[number]`).

/// Sort direction by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

impl ListOrder {
    /// How a later row compares with an earlier one in this order.
    pub fn comparison(self) -> &'static str {
        match self {
            ListOrder::NewestFirst => "<",
            ListOrder::OldestFirst => ">",
        }
    }

    /// The same clause for a table aliased `alias`.
    pub fn sql_prefixed(self, alias: &str) -> String {
        match self {
            ListOrder::NewestFirst => format!("order by {alias}.created_at desc, {alias}.id desc"),
            ListOrder::OldestFirst => format!("order by {alias}.created_at asc, {alias}.id asc"),
        }
    }
}

/// Which slice of a list is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number; `None` in `limit` mode.
    pub number: Option<i64>,
    pub size: i64,
    pub order: ListOrder,
    /// Keyset paging (`page[cursor]`): `Some(None)` for the first page, `Some(Some(id))` for
    /// the page after that resource.
    pub cursor: Option<Option<uuid::Uuid>>,
}

impl PageRequest {
    /// The whole list in one page, oldest first (for what a document embeds, not for clients).
    pub fn everything() -> Self {
        Self {
            number: None,
            size: 10_000,
            order: crate::ListOrder::OldestFirst,
            cursor: None,
        }
    }

    pub fn offset(&self) -> i64 {
        if self.cursor.is_some() {
            return 0;
        }
        (self.number.unwrap_or(1) - 1) * self.size
    }
}

/// A slice of a list and the total it came from.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}
