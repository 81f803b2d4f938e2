//! The SQL projector: every shard's journal → batches of rows → one transaction per batch,
//! with each shard's position written in that same transaction.

use crate::db::{Db, Fault};
use crate::driver::{open_sources, Handle, Shared};
use crate::rows::{finish_balances, map_command_with, Batch, ShardBook};
use crate::ProjectError;
use croupier_feed::{shards as shard_ids, ShardFeed};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The embedded default: `sqlite://<data>/croupier.sqlite`.
pub fn default_sql_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("croupier.sqlite").display())
}

#[derive(Clone, Debug)]
pub struct ProjectorConfig {
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; see [`default_sql_url`].
    pub sql_url: String,
    /// Most events per transaction. A projector behind reads whole batches at once, so it
    /// catches up in large transactions; when caught up a batch is whatever arrived.
    pub batch_events: u64,
    /// Sleep when no shard has anything new.
    pub idle_poll: Duration,
    /// Empty the tables first (offline rebuild).
    pub rebuild: bool,
    /// Test hook: a write fails (and rolls back) after this many statements.
    #[doc(hidden)]
    pub fault: Fault,
}

impl ProjectorConfig {
    /// Projects `data_dir` into its default SQLite file.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        ProjectorConfig {
            sql_url: default_sql_url(&data_dir),
            data_dir,
            batch_events: 20_000,
            idle_poll: Duration::from_millis(20),
            rebuild: false,
            fault: Fault::default(),
        }
    }
}

/// What a projector did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ProjectReport {
    pub shards: u32,
    pub events: u64,
    pub commands: u64,
    pub transactions: u64,
    pub seconds: f64,
    pub events_per_sec: f64,
    /// Position per shard at the end.
    pub positions: Vec<(u32, u64)>,
}

/// A running SQL projector (a tokio task).
pub type ProjectorHandle = Handle<ProjectReport>;

pub struct SqlProjector;

impl SqlProjector {
    /// Starts following every shard's journal of `cfg.data_dir` on the current tokio runtime.
    pub fn spawn(cfg: ProjectorConfig) -> ProjectorHandle {
        Handle::spawn(|shared| async move { run(cfg, &shared, true, |_| {}).await })
    }
}

/// Offline: projects everything the journals hold now, then returns. `progress` is called
/// after each transaction with (events projected, events in the journals when it started).
pub async fn project(
    cfg: ProjectorConfig,
    progress: impl FnMut(&ProjectReport),
) -> Result<ProjectReport, ProjectError> {
    run(cfg, &Shared::default(), false, progress).await
}

/// A mapped batch from the reader thread.
struct Mapped {
    batch: Batch,
    commands: u64,
    /// Every shard's journal held nothing more when the batch was cut.
    caught_up: bool,
}

/// Reads and maps on its own thread, so the next batch is prepared while the previous one is
/// being written; the channel holds one batch, so the reader is never far ahead of the
/// database.
fn spawn_reader(
    data_dir: std::path::PathBuf,
    mut sources: Vec<ShardFeed>,
    mut books: FxHashMap<u32, ShardBook>,
    batch_events: u64,
    idle_poll: Duration,
    follow: bool,
    tx: tokio::sync::mpsc::Sender<Result<Mapped, ProjectError>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("projector-read".into()).spawn(move || {
        let per_shard = (batch_events.max(1) / sources.len().max(1) as u64).max(1);
        loop {
            let mut batch = Batch::default();
            let mut caught_up = true;
            let mut commands = 0;
            for src in sources.iter_mut() {
                let shard = src.shard();
                let book = books.get_mut(&shard).expect("a book per shard");
                // The first command that cannot be mapped ends the run: the batch holding it
                // is dropped unwritten, so the stored position stays before it.
                let mut unmapped = None;
                // An earlier record read back (a seed committed before this run, revealed now).
                let mut lookup = |shard: u32, position: u64| read_back(&data_dir, shard, position);
                let read = src.read(per_shard, |pos, events| {
                    if unmapped.is_none() {
                        unmapped = map_command_with(book, shard, pos, events, &mut batch, &mut lookup).err();
                    }
                });
                match read.map_err(ProjectError::from).and_then(|r| unmapped.map_or(Ok(r), Err)) {
                    Ok(read) => {
                        caught_up &= read.caught_up;
                        commands += read.commands;
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            if batch.is_empty() {
                if !follow {
                    return; // dropping the sender tells the writer it has everything
                }
                if tx.is_closed() {
                    return;
                }
                std::thread::sleep(idle_poll);
                continue;
            }
            finish_balances(&books, &mut batch);
            if tx.blocking_send(Ok(Mapped { batch, commands, caught_up })).is_err() {
                return;
            }
        }
    })
}

/// The events of journal record `position` of `shard`, if it can be read (it is durable: the
/// projector has already read past it).
fn read_back(data_dir: &std::path::Path, shard: u32, position: u64) -> Option<Vec<croupier_domain::event::Event>> {
    let mut found = None;
    let mut feed = ShardFeed::open(data_dir, shard, position.checked_sub(1)?);
    feed.read(1, |pos, events| {
        if pos == position {
            found = Some(events.to_vec());
        }
    })
    .ok()?;
    found
}

async fn run(
    cfg: ProjectorConfig,
    shared: &Shared<ProjectReport>,
    follow: bool,
    mut progress: impl FnMut(&ProjectReport),
) -> Result<ProjectReport, ProjectError> {
    let shards = shard_ids(&cfg.data_dir)?;
    let db = Db::connect(&cfg.sql_url).await?;
    db.migrate().await?;
    if cfg.rebuild {
        db.reset().await?;
    }
    let positions = db.positions().await?;
    let mut books: FxHashMap<u32, ShardBook> = FxHashMap::default();
    let mut committed: Vec<(u32, u64)> = Vec::new();
    for &shard in &shards {
        books.insert(shard, db.load_book(shard).await?);
        committed.push((shard, positions.get(&shard).map_or(0, |p| p.0)));
    }
    let (sources, mut ends) = open_sources(&cfg.data_dir, committed.iter().copied());
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let reader = spawn_reader(cfg.data_dir.clone(), sources, books, cfg.batch_events, cfg.idle_poll, follow, tx)
        .map_err(|e| ProjectError::Stopped(format!("cannot start the reader thread: {e}")))?;
    let start = Instant::now();
    let mut report = ProjectReport { shards: shards.len() as u32, ..Default::default() };
    let mut last_lag = Instant::now() - Duration::from_secs(1);
    let out = loop {
        if shared.stopping() {
            break Ok(());
        }
        let msg = if follow {
            match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
                Ok(m) => m,
                Err(_) => {
                    shared.update_lag(&mut ends, committed.iter().copied())?;
                    last_lag = Instant::now();
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(msg) = msg else { break Ok(()) };
        let mapped = match msg {
            Ok(m) => m,
            Err(e) => break Err(e),
        };
        if let Err(e) = db.write(&mapped.batch, cfg.fault).await {
            break Err(e);
        }
        for &(shard, position, _) in &mapped.batch.positions {
            if let Some(c) = committed.iter_mut().find(|c| c.0 == shard) {
                c.1 = position;
            }
        }
        report.events += mapped.batch.event_count() as u64;
        report.commands += mapped.commands;
        report.transactions += 1;
        report.seconds = start.elapsed().as_secs_f64();
        report.events_per_sec = report.events as f64 / report.seconds.max(1e-9);
        report.positions = committed.clone();
        shared.set_report(&report);
        progress(&report);
        if follow && (mapped.caught_up || last_lag.elapsed() >= Duration::from_millis(250)) {
            shared.update_lag(&mut ends, committed.iter().copied())?;
            last_lag = Instant::now();
        }
    };
    drop(rx);
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    out?;
    report.seconds = start.elapsed().as_secs_f64();
    report.events_per_sec = report.events as f64 / report.seconds.max(1e-9);
    report.positions = committed;
    db.close().await;
    Ok(report)
}
