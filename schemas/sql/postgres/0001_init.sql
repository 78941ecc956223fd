-- The event store. The first seven columns are what postgres-es reads; the last three give
-- the global feed its order: readers take only rows whose transaction is older than every
-- open one (pg_snapshot_xmin), so a late commit is never skipped.
create table events (
    aggregate_type  text                         not null,
    aggregate_id    text                         not null,
    sequence        bigint check (sequence >= 0) not null,
    event_type      text                         not null,
    event_version   text                         not null,
    payload         json                         not null,
    metadata        json                         not null,
    global_position bigint generated always as identity,
    transaction_id  xid8        not null default pg_current_xact_id(),
    recorded_at     timestamptz not null default now(),
    primary key (aggregate_type, aggregate_id, sequence)
);
create unique index events_global_position on events (global_position);
create index events_feed on events (transaction_id, global_position);

-- Read models. Every table here is derived from the events table and can be truncated and
-- rebuilt (`keyledger projections rebuild`). Timestamps are microseconds since the epoch;
-- rows carry the last applied sequence of their aggregate so replays change nothing.
create table claims (
    scope          text not null,
    value          text not null,
    aggregate_type text not null,
    aggregate_id   text not null,
    primary key (scope, value)
);
create index claims_owner on claims (aggregate_type, aggregate_id);

create table projection_checkpoints (
    name          text primary key,
    last_xid      bigint not null default 0,
    last_position bigint not null default 0
);

create table accounts (
    id                         text primary key,
    slug                       text not null,
    name                       text not null,
    protected                  bigint not null default 0,
    ed25519_public_key         text not null,
    ed25519_private_key_sealed text not null,
    token_secret_sealed        text not null,
    created_at                 bigint not null,
    updated_at                 bigint not null,
    last_sequence              bigint not null
);
create index accounts_slug on accounts (slug);

create table users (
    id              text primary key,
    account_id      text not null,
    email           text not null,
    role            text not null,
    first_name      text,
    last_name       text,
    password_digest text,
    created_at      bigint not null,
    updated_at      bigint not null,
    last_sequence   bigint not null
);
create index users_account_email on users (account_id, email);

create table tokens (
    id            text primary key,
    account_id    text not null,
    bearer_type   text not null,
    bearer_id     text not null,
    kind          text not null,
    digest        text not null,
    name          text,
    expiry        bigint,
    permissions   text not null,
    created_at    bigint not null,
    updated_at    bigint not null,
    revoked_at    bigint,
    last_sequence bigint not null
);
create index tokens_account_digest on tokens (account_id, digest);
create index tokens_account_created on tokens (account_id, created_at);

create table products (
    id                    text primary key,
    account_id            text not null,
    name                  text not null,
    code                  text,
    distribution_strategy text not null,
    url                   text,
    platforms             text,
    permissions           text not null,
    metadata              text not null,
    created_at            bigint not null,
    updated_at            bigint not null,
    deleted_at            bigint,
    last_sequence         bigint not null
);
create index products_account_created on products (account_id, created_at);
create index products_account_code on products (account_id, code);
