//! Projectors that tail the journal: SQL (embedded SQLite by default, PostgreSQL) and the event
//! stream (NATS JetStream).
//!
//! The journal is the outbox. A projector follows every shard's journal from its own stored
//! position, never the other way round: shards do not know projectors exist, so a slow or
//! stopped projector costs the hot path nothing (it only falls behind, and catches up in large
//! batches). Exactly once: the SQL projector stores each shard's position in the same
//! transaction as the rows; the stream projector names every message
//! `<shard>:<position>:<index>` so JetStream drops re-sends, and stores its position only after
//! the acknowledgements.

//!
//! Starting the SQL projection next to a runtime (what `croupier serve` does): after
//! `Runtime::start` has created the data folder (it records the shard count the projector
//! reads), on a tokio runtime:
//!
//! ```no_run
//! # async fn serve(data_dir: &std::path::Path, sql: Option<String>) -> Result<(), croupier_persistence::ProjectError> {
//! use croupier_persistence::{ProjectorConfig, SqlProjector};
//! let mut cfg = ProjectorConfig::new(data_dir); // sqlite://<data>/croupier.sqlite
//! if let Some(url) = sql {
//!     cfg.sql_url = url; // e.g. postgres://user@host/db from --sql or the config
//! }
//! let projector = SqlProjector::spawn(cfg);
//! // metrics: projector.lag() -> Vec<ShardLag { records_behind, seconds_behind, .. }>
//! // health: projector.errors(), projector.is_finished()
//! // shutdown: finishes the transaction in progress; the rest is projected at the next start
//! // (or by `croupier project`)
//! projector.stop().await?;
//! # Ok(()) }
//! ```

pub mod db;
pub mod driver;
pub mod lag;
pub mod reconcile;
pub mod rows;
pub mod sql;
pub mod stream;
pub mod test_services;

pub use db::Db;
pub use lag::{status, ShardLag};
pub use sql::{default_sql_url, project, ProjectReport, ProjectorConfig, ProjectorHandle, SqlProjector};
pub use stream::{StreamConfig, StreamHandle, StreamProjector, StreamReport};

use croupier_journal::JournalError;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("journal of shard {shard}: {source}")]
    Journal { shard: u32, source: JournalError },
    #[error(transparent)]
    Feed(#[from] croupier_feed::FeedError),
    #[error(transparent)]
    Layout(#[from] croupier_store::LayoutError),
    /// A command holds a value no column can store exactly (a user id above `i64::MAX`,
    /// journaled before the gateway refused them); the projector stops before it.
    #[error("shard {shard} journal record {seq} cannot be projected: {reason}")]
    Unprojectable { shard: u32, seq: u64, reason: String },
    #[error("sql: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("sql migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("nats: {0}")]
    Nats(String),
    #[error("data folder: {0}")]
    Data(String),
    #[error("sql ledger: {0}")]
    Ledger(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("injected fault (test hook)")]
    Injected,
    #[error("the projector task stopped: {0}")]
    Stopped(String),
}
