-- Claims on client-chosen text (license and pool keys, product and entitlement codes, user
-- emails, account slugs) hold the SHA-256 of the text, not the text: a license key may be
-- 16 KiB, more than a btree index row takes (2704 bytes), and a unique violation is logged with
-- the value it hit. The store rewrites the claims it already holds when it starts
-- (`Database::migrate`, the same code as on SQLite); this row says the rewrite is due, and the
-- store deletes it in the rewrite's transaction.
create table claim_digests_due (due bigint not null);
insert into claim_digests_due (due) values (1);

-- The same limit holds for the read model's index on license keys: a hash index stores only
-- the hash of the key, so it takes keys of any length and still serves lookups by key.
drop index licenses_account_key;
create index licenses_key on licenses using hash (key);
