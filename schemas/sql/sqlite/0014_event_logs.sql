-- Event logs (read model): every Keygen-named event and observation, built by the catch-up
-- runner from the feed and the observation log; a rebuild empties and replays it.
create table event_logs (
    id             text primary key,
    account_id     text not null,
    event          text not null,
    resource_type  text not null,
    resource_id    text not null,
    whodunnit_type text,
    whodunnit_id   text,
    request_id     text,
    metadata       text,
    created_at     bigint not null
);
create index event_logs_account_created on event_logs (account_id, created_at);
create index event_logs_account_resource on event_logs (account_id, resource_type, resource_id);
