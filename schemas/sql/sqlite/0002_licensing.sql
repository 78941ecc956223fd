-- Policies, licenses, entitlements and the key pool (read models, rebuilt from events), plus
-- two tables of operational state that are NOT projections: license_activity (last validated,
-- from observations) and observations (validations and other facts that never enter an
-- aggregate's stream). A rebuild leaves those two alone.
create table entitlements (
    id            text primary key,
    account_id    text not null,
    name          text not null,
    code          text not null,
    metadata      text not null,
    created_at    bigint not null,
    updated_at    bigint not null,
    deleted_at    bigint,
    last_sequence bigint not null
);
create index entitlements_account_created on entitlements (account_id, created_at);
create index entitlements_account_code on entitlements (account_id, code);

create table policies (
    id            text primary key,
    account_id    text not null,
    product_id    text not null,
    name          text not null,
    attributes    text not null,
    created_at    bigint not null,
    updated_at    bigint not null,
    deleted_at    bigint,
    last_sequence bigint not null
);
create index policies_account_created on policies (account_id, created_at);
create index policies_account_product on policies (account_id, product_id);

create table policy_entitlements (
    policy_id      text not null,
    entitlement_id text not null,
    account_id     text not null,
    created_at     bigint not null,
    primary key (policy_id, entitlement_id)
);

create table pool_keys (
    id         text primary key,
    account_id text not null,
    policy_id  text not null,
    product_id text not null,
    key        text not null,
    created_at bigint not null,
    updated_at bigint not null,
    deleted_at bigint
);
create index pool_keys_account_created on pool_keys (account_id, created_at);

create table licenses (
    id            text primary key,
    account_id    text not null,
    product_id    text not null,
    policy_id     text not null,
    key           text not null,
    name          text,
    expiry        bigint,
    suspended     bigint not null,
    protected     bigint,
    limits        text not null,
    metadata      text not null,
    uses          bigint not null,
    last_check_in bigint,
    created_at    bigint not null,
    updated_at    bigint not null,
    deleted_at    bigint,
    last_sequence bigint not null
);
create index licenses_account_created on licenses (account_id, created_at);
create index licenses_account_key on licenses (account_id, key);
create index licenses_account_product on licenses (account_id, product_id);
create index licenses_account_policy on licenses (account_id, policy_id);
create index licenses_account_expiry on licenses (account_id, expiry);

create table license_entitlements (
    license_id     text not null,
    entitlement_id text not null,
    account_id     text not null,
    created_at     bigint not null,
    primary key (license_id, entitlement_id)
);

create table license_activity (
    license_id     text primary key,
    account_id     text not null,
    last_validated bigint
);

create table observations (
    id            text primary key,
    account_id    text not null,
    event_type    text not null,
    resource_type text not null,
    resource_id   text not null,
    payload       text not null,
    metadata      text not null,
    created_at    bigint not null
);
create index observations_account_created on observations (account_id, created_at);
