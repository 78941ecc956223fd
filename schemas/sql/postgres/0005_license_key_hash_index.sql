-- A license key may be 16 KiB, more than a btree index row takes (2704 bytes): the read model's
-- index on keys becomes a hash index, which stores only the hash of the key, so it takes keys of
-- any length and still serves lookups by key. (Uniqueness claims hold digests of keys; see
-- `aggregates::claims::digest`.)
drop index licenses_account_key;
create index licenses_key on licenses using hash (key);
