//! Who is asking for releases, and the SQL of which releases they may see: a product's
//! distribution strategy, a license's entitlements (all of a release's constraints) and the
//! window its policy's expiration strategy leaves.

use crate::filter::{Bind, Filter};

/// Which releases created when a license may get, by its policy's expiration strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Every release (no expiry, or `ALLOW_ACCESS`).
    All,
    /// Those created (or backdated) at or before this time (microseconds): the license's expiry.
    Until(i64),
    /// None (expired under `REVOKE_ACCESS`).
    Nothing,
}

/// Who is asking, for which releases they may see.
#[derive(Debug, Clone)]
pub enum Audience {
    /// Every release of the account (admins).
    Everyone,
    /// One product's releases (its product token).
    Product(String),
    /// A license: its product's published releases whose constraints it meets, within its
    /// window, unless the product's distribution is not `LICENSED`; and published releases of
    /// `OPEN` products whose constraints it meets.
    License {
        product_id: String,
        entitlement_ids: Vec<String>,
        window: Window,
    },
    /// Nobody in particular: published, unconstrained releases of `OPEN` products.
    Anonymous,
}

impl Audience {
    pub(crate) fn restrict(&self, f: &mut Filter) {
        let meets = |f: &mut Filter, held: &[String]| {
            let placeholders: Vec<String> = held.iter().map(|e| f.param(Bind::Text(e.clone()))).collect();
            let outside = match placeholders.is_empty() {
                true => String::new(),
                false => format!(" and c.entitlement_id not in ({})", placeholders.join(", ")),
            };
            format!("not exists (select 1 from release_constraints c where c.release_id = r.id{outside})")
        };
        let strategy =
            |s: &str| format!("r.product_id in (select id from products where distribution_strategy = '{s}')");
        match self {
            Audience::Everyone => {}
            Audience::Product(product) => f.eq("r.product_id", product),
            Audience::License {
                product_id,
                entitlement_ids,
                window,
            } => {
                f.push("r.status = 'PUBLISHED'");
                let meets = meets(f, entitlement_ids);
                f.push(meets);
                let p = f.param(Bind::Text(product_id.clone()));
                let within = match window {
                    Window::All => "1 = 1".to_string(),
                    Window::Nothing => "1 = 0".to_string(),
                    Window::Until(expiry) => {
                        let e = f.param(Bind::Int(*expiry));
                        format!("coalesce(r.backdated_at, r.created_at) <= {e}")
                    }
                };
                f.push(format!(
                    "((r.product_id = {p} and {} and {within}) or {})",
                    strategy("LICENSED"),
                    strategy("OPEN")
                ));
            }
            Audience::Anonymous => {
                f.push("r.status = 'PUBLISHED'");
                let meets = meets(f, &[]);
                f.push(meets);
                f.push(strategy("OPEN"));
            }
        }
    }
}
