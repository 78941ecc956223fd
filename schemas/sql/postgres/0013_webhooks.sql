-- Webhook endpoints (read model of the WebhookEndpoint aggregate, rebuilt from events).
create table webhook_endpoints (
    id                  text primary key,
    account_id          text not null,
    url                 text not null,
    subscriptions       text not null,
    signature_algorithm text not null,
    api_version         text not null,
    product_id          text,
    created_at          bigint not null,
    updated_at          bigint not null,
    deleted_at          bigint,
    last_sequence       bigint not null
);
create index webhook_endpoints_account_created on webhook_endpoints (account_id, created_at);

-- Webhook events: one delivery of one event to one endpoint. Operational state like
-- observations (deliveries are not decisions, and Keygen prunes them), NOT rebuilt. `source`
-- is the bus message the event came from (unique per endpoint: a message delivered twice
-- fans out once) or `retry:<id>` for a manual retry. A row is due while its status is
-- DELIVERING or FAILING and `next_attempt_at` has passed; `claimed_until` is a worker's lease.
create table webhook_events (
    id                 text primary key,
    account_id         text not null,
    endpoint_id        text not null,
    endpoint_url       text not null,
    source             text not null,
    event              text not null,
    api_version        text not null,
    payload            text not null,
    idempotency_token  text not null,
    status             text not null,
    last_response_code bigint,
    last_response_body text,
    attempts           bigint not null,
    next_attempt_at    bigint,
    claimed_until      bigint,
    created_at         bigint not null,
    updated_at         bigint not null,
    unique (endpoint_id, source)
);
create index webhook_events_account_created on webhook_events (account_id, created_at);
create index webhook_events_due on webhook_events (next_attempt_at) where next_attempt_at is not null;

-- Observations in commit order, for the relay: a position given at insert and the writing
-- transaction, read below the oldest open transaction as the event feed is.
alter table observations add column position bigint generated always as identity;
alter table observations add column transaction_id xid8 not null default pg_current_xact_id();
create index observations_feed on observations (transaction_id, position);
