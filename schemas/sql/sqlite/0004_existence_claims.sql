-- What exists and who depends on it, as claims: a license requires its policy's `policy.live`
-- claim and joins `policy.licenses:<policy>`, a policy requires its product's `product.live`
-- and joins `product.policies:<product>`, all in the transaction that commits its events. Stores
-- made before this migration get the claims of what they hold now (from the read models, which
-- the store is current with when migrations run at start).
insert into claims (scope, value, aggregate_type, aggregate_id)
    select 'product.live', id, 'product', id from products where deleted_at is null
    on conflict do nothing;
insert into claims (scope, value, aggregate_type, aggregate_id)
    select 'policy.live', id, 'policy', id from policies where deleted_at is null
    on conflict do nothing;
insert into claims (scope, value, aggregate_type, aggregate_id)
    select 'product.policies:' || product_id, id, 'policy', id from policies where deleted_at is null
    on conflict do nothing;
insert into claims (scope, value, aggregate_type, aggregate_id)
    select 'policy.licenses:' || policy_id, id, 'license', id from licenses where deleted_at is null
    on conflict do nothing;
