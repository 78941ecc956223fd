-- A product or entitlement is found by its code case-insensitively (`lower(code) = $n`), which
-- an index on `code` cannot serve. (Licenses are found by key through the hash index of 0005.)
drop index products_account_code;
create index products_account_code on products (account_id, lower(code), created_at);
drop index entitlements_account_code;
create index entitlements_account_code on entitlements (account_id, lower(code), created_at);
