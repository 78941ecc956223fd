-- Machines (read model, rebuilt from events). A machine is activated and deactivated by its
-- license's stream (the license decides on its limits), so the license row counts its machines
-- and their sizes, and a machine row lives from machine.created to machine.deleted.
alter table licenses add column machines_count bigint not null default 0;
alter table licenses add column machines_cores bigint not null default 0;
alter table licenses add column machines_memory bigint not null default 0;
alter table licenses add column machines_disk bigint not null default 0;

create table machines (
    id            text primary key,
    account_id    text not null,
    license_id    text not null,
    fingerprint   text not null,
    cores         bigint,
    memory        bigint,
    disk          bigint,
    name          text,
    ip            text,
    hostname      text,
    platform      text,
    metadata      text not null,
    created_at    bigint not null,
    updated_at    bigint not null,
    last_sequence bigint not null
);
create index machines_account_created on machines (account_id, created_at);
create index machines_license on machines (license_id, created_at);
create index machines_account_fingerprint on machines (account_id, fingerprint, created_at);
