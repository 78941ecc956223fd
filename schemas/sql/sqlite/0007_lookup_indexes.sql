-- Lookups by alias search their own index. A product or entitlement is found by its code case-
-- insensitively (`lower(code) = $n`), which an index on `code` cannot serve. Each lookup takes
-- the oldest match: with `created_at` last in the index, SQLite searches the key or code instead
-- of walking the account's rows in `created_at` order (without statistics it preferred the walk,
-- which made a validation cost as much as the account was large).
drop index licenses_account_key;
create index licenses_account_key on licenses (account_id, key, created_at);
drop index products_account_code;
create index products_account_code on products (account_id, lower(code), created_at);
drop index entitlements_account_code;
create index entitlements_account_code on entitlements (account_id, lower(code), created_at);
