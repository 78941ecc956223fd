//! Black-box tests over HTTP: one binary, every test on its own server and store. Run on
//! SQLite by default and on PostgreSQL when `KEYLEDGER_TEST_DATABASE_URL` is set.

mod accounts;
mod activation_rules;
mod activation_tokens;
mod components;
mod concurrency;
mod crash;
mod cross_account;
mod dependents;
mod entitlements;
mod feed;
mod heartbeats;
mod helpers;
mod layout;
mod license_actions;
mod licenses;
mod machine_limits;
mod machine_validation;
mod machines;
mod malformed;
mod max_machines;
mod nodes;
mod operator;
mod policies;
mod processes;
mod products;
mod profile;
mod projections;
mod sdk;
mod signatures;
mod snapshots;
mod tokens;
mod validation;
mod webhook_endpoints;
mod webhook_harness;
mod webhooks;
