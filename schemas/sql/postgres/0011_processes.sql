-- Processes (read model, rebuilt from events: they start and end in their license's stream),
-- and each process's heartbeat (operational state like machine_heartbeats, not rebuilt: pings
-- are observations). A process's heartbeat starts when it does.
create table processes (
    id          text primary key,
    account_id  text not null,
    license_id  text not null,
    machine_id  text not null,
    pid         text not null,
    metadata    text not null,
    created_at  bigint not null,
    updated_at  bigint not null
);
create index processes_account_created on processes (account_id, created_at);
create index processes_machine on processes (machine_id, created_at);
create index processes_license on processes (license_id);

create table process_heartbeats (
    process_id     text primary key,
    account_id     text not null,
    license_id     text not null,
    machine_id     text not null,
    last_heartbeat bigint not null,
    deadline       bigint,
    dead_at        bigint,
    claimed_until  bigint
);
create index process_heartbeats_deadline on process_heartbeats (deadline);
