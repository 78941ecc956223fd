-- Claims on client-chosen text (license and pool keys, product and entitlement codes, user
-- emails, account slugs) hold the SHA-256 of the text, not the text: a license key may be
-- 16 KiB, and a claim is part of a unique index. SQL alone cannot hash on SQLite, so the store
-- rewrites the claims it already holds when it starts (`Database::migrate`); this row says the
-- rewrite is due, and the store deletes it in the rewrite's transaction.
create table claim_digests_due (due integer not null);
insert into claim_digests_due (due) values (1);
