-- Every account has an RSA-2048 and an ECDSA P-256 pair besides its ed25519 pair (public halves
-- in SPKI PEM, private halves sealed with the master key). Accounts made before these existed
-- gain them through an `account.keys.added` event on first use; until then the columns are null.
alter table accounts add column rsa2048_public_key text;
alter table accounts add column rsa2048_private_key_sealed text;
alter table accounts add column ecdsa_public_key text;
alter table accounts add column ecdsa_private_key_sealed text;
