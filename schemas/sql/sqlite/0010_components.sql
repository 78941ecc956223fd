-- Components of machines (read model, rebuilt from events): created with their machine's
-- activation in its license's stream, gone with it.
create table components (
    id          text primary key,
    account_id  text not null,
    license_id  text not null,
    machine_id  text not null,
    fingerprint text not null,
    name        text not null,
    metadata    text not null,
    created_at  bigint not null,
    updated_at  bigint not null
);
create index components_account_created on components (account_id, created_at);
create index components_machine on components (machine_id, created_at);
create index components_license on components (license_id);
