-- Artifacts: the files of a release, recorded in the release's stream.
create table artifacts (
    id          text primary key,
    account_id  text not null,
    release_id  text not null,
    product_id  text not null,
    filename    text not null,
    filetype    text,
    filesize    bigint,
    platform    text,
    arch        text,
    signature   text,
    checksum    text,
    status      text not null,
    metadata    text not null,
    created_at  bigint not null,
    updated_at  bigint not null,
    deleted_at  bigint
);
create index artifacts_account_created on artifacts (account_id, created_at);
create index artifacts_release on artifacts (release_id, filename);
create index artifacts_account_filename on artifacts (account_id, filename);
