-- Request logs: one row per API request (operational state like observations, written by the
-- observation writer off the request path; NOT rebuilt). Secrets in bodies are masked before
-- they are stored; headers are Keygen's short lists.
create table request_logs (
    id                 text primary key,
    account_id         text not null,
    method             text not null,
    url                text not null,
    status             text not null,
    ip                 text,
    user_agent         text,
    requestor_type     text,
    requestor_id       text,
    request_headers    text,
    request_body       text,
    response_headers   text,
    response_body      text,
    response_signature text,
    run_time           bigint not null,
    created_at         bigint not null
);
create index request_logs_account_created on request_logs (account_id, created_at);
