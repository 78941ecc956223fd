-- The state of an aggregate after its last_sequence-th event, written in the transaction of
-- that event every so many events (store/src/snapshots.rs). A row whose shape differs from
-- the aggregate's current one is ignored, and replaced by the next snapshot.
create table snapshots (
    aggregate_type text   not null,
    aggregate_id   text   not null,
    shape          bigint not null,
    last_sequence  bigint not null,
    payload        text   not null,
    primary key (aggregate_type, aggregate_id)
);
