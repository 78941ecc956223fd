-- Distribution: packages, releases, their entitlement constraints, and the lookup rows
-- (channels, engines, platforms, arches) Keygen creates from the keys releases and packages use.
create table packages (
    id            text primary key,
    account_id    text not null,
    product_id    text not null,
    name          text not null,
    key           text not null,
    engine        text,
    metadata      text not null,
    created_at    bigint not null,
    updated_at    bigint not null,
    deleted_at    bigint,
    last_sequence bigint not null
);
create index packages_account_created on packages (account_id, created_at);
create index packages_account_key on packages (account_id, key);

create table releases (
    id            text primary key,
    account_id    text not null,
    product_id    text not null,
    package_id    text,
    name          text,
    description   text,
    channel       text not null,
    status        text not null,
    tag           text,
    version       text not null,
    backdated_at  bigint,
    yanked_at     bigint,
    metadata      text not null,
    created_at    bigint not null,
    updated_at    bigint not null,
    deleted_at    bigint,
    last_sequence bigint not null
);
create index releases_account_created on releases (account_id, created_at);
create index releases_account_version on releases (account_id, version);
create index releases_account_tag on releases (account_id, tag);
create index releases_product on releases (product_id, package_id);

create table release_constraints (
    id             text primary key,
    account_id     text not null,
    release_id     text not null,
    entitlement_id text not null,
    created_at     bigint not null,
    updated_at     bigint not null
);
create index release_constraints_release on release_constraints (release_id);

create table release_lookups (
    id         text primary key,
    account_id text not null,
    kind       text not null,
    key        text not null,
    created_at bigint not null,
    updated_at bigint not null,
    unique (account_id, kind, key)
);
