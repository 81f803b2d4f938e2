//! The projectors over histories written by the real runtime, one test binary for the
//! package: SQL (SQLite and PostgreSQL) and the JetStream stream.

mod common;
mod sql;
mod stream;
