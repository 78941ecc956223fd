-- What exists and who depends on it, as claims: a license requires its policy's `policy.live`
-- claim and joins `policy.licenses:<policy>`, a policy requires its product's `product.live`
-- and joins `product.policies:<product>`, all in the transaction that commits its events. Stores
-- made before this migration get the claims of what they hold, read from the event store itself
-- (not the read models, which may lag it).
insert into claims (scope, value, aggregate_type, aggregate_id)
    select 'product.live', c.aggregate_id, 'product', c.aggregate_id from events c
    where c.aggregate_type = 'product' and c.event_type = 'product.created'
      and not exists (select 1 from events d where d.aggregate_type = 'product'
                      and d.aggregate_id = c.aggregate_id and d.event_type = 'product.deleted')
    on conflict do nothing;
insert into claims (scope, value, aggregate_type, aggregate_id)
    select 'policy.live', c.aggregate_id, 'policy', c.aggregate_id from events c
    where c.aggregate_type = 'policy' and c.event_type = 'policy.created'
      and not exists (select 1 from events d where d.aggregate_type = 'policy'
                      and d.aggregate_id = c.aggregate_id and d.event_type = 'policy.deleted')
    on conflict do nothing;
insert into claims (scope, value, aggregate_type, aggregate_id)
    select 'product.policies:' || (json_extract(c.payload, '$."policy.created".product_id')), c.aggregate_id, 'policy', c.aggregate_id from events c
    where c.aggregate_type = 'policy' and c.event_type = 'policy.created'
      and not exists (select 1 from events d where d.aggregate_type = 'policy'
                      and d.aggregate_id = c.aggregate_id and d.event_type = 'policy.deleted')
    on conflict do nothing;
-- A license belongs to the policy of its latest policy change, or the one it was created under.
insert into claims (scope, value, aggregate_type, aggregate_id)
    select 'policy.licenses:' || coalesce(
               (select json_extract(m.payload, '$."license.policy.updated".policy_id') from events m
                where m.aggregate_type = 'license' and m.aggregate_id = c.aggregate_id
                  and m.event_type = 'license.policy.updated'
                order by m.sequence desc limit 1),
               json_extract(c.payload, '$."license.created".policy_id')),
           c.aggregate_id, 'license', c.aggregate_id
    from events c
    where c.aggregate_type = 'license' and c.event_type = 'license.created'
      and not exists (select 1 from events d where d.aggregate_type = 'license'
                      and d.aggregate_id = c.aggregate_id
                      and d.event_type in ('license.deleted', 'license.revoked'))
    on conflict do nothing;
