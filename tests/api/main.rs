//! Black-box tests over HTTP: one binary, every test on its own server and store. Run on
//! SQLite by default and on PostgreSQL when `KEYLEDGER_TEST_DATABASE_URL` is set.

mod accounts;
mod concurrency;
mod cross_account;
mod feed;
mod helpers;
mod malformed;
mod products;
mod projections;
mod signatures;
mod tokens;
