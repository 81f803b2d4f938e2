//! The crash game (seed 001) at the edge: the chain vault's secrets, the term driver that
//! runs each channel's terms by itself, and the HTTP API.
//!
//! **The driver** (one task per channel, [`drive`]) reads the channel's newest term from the
//! engine and submits the command that moves it on at the moment the journal says it is due:
//! `OpenTerm` at the previous term's end plus the pause, `CloseBets` at the term's
//! `starting_at`, `TakeOff` (with the next game's hash from the vault) `starting_ms` later,
//! `Crash` at take-off plus the flight's `crash_after_ms` (the curve's time to reach the crash
//! point). Every deadline is computed from times the journal holds, never from the sum of
//! earlier sleeps, so nothing drifts; and since the driver keeps no state of its own, a
//! restart simply reads the restored term and goes on: a term that was flying is crashed at
//! the time its journaled flight says, and settles exactly as it would have (every payout is
//! a function of the flight and each bet). A refusal because the engine's clock is a
//! millisecond behind (`CRASH_TERM_NOT_DUE`) is retried. Paused channels stop after their
//! current term; an operator's command wakes the driver at once.
//!
//! **Secrets**: a channel's chain top is drawn here from the OS CSPRNG (`getrandom(2)`) at
//! creation and kept by `croupier_store::crash_chains`; the engine only ever sees the
//! published terminating hash and, at each take-off, the game's hash.

use crate::error::{quote, ApiError, ErrorResponses};
use crate::extract::Path;
use crate::instant::os_random;
use crate::{amount, ext_id, now_ms, parse_body, AppState, Signed};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use croupier_domain::crash::command::{ChannelConfig, CrashLimits, CreateChannel, PlaceCrashBet};
use croupier_domain::crash::fair::{format_multiplier, to_hex};
use croupier_domain::crash::{curve, CrashBetState, CrashCommand, Salt, TermStatus};
use croupier_domain::{Command, ExtId, Reply, UserId};
use croupier_store::crash_chains::{CrashChain, VaultError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use utoipa::ToSchema;

/// Most terms `GET /api/crash/channels/{channel}/terms` lists.
pub const HISTORY: usize = 100;

/// The edge's part of the crash game: the chains (loaded once per channel) and the drivers.
pub struct CrashEdge {
    data_dir: PathBuf,
    chains: Mutex<HashMap<ExtId, Arc<CrashChain>>>,
    /// Per channel with a running driver: what wakes it.
    drivers: Mutex<HashMap<ExtId, Arc<Notify>>>,
    /// Channel creations one at a time: a chain file and its channel are made together.
    creating: tokio::sync::Mutex<()>,
}

impl CrashEdge {
    pub fn new(data_dir: PathBuf) -> CrashEdge {
        CrashEdge {
            data_dir,
            chains: Mutex::default(),
            drivers: Mutex::default(),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    /// Wakes `channel`'s driver, if it runs, to read the channel again.
    fn wake(&self, channel: &ExtId) {
        if let Some(n) = self.drivers.lock().expect("drivers").get(channel) {
            n.notify_one();
        }
    }

    /// The chain of `channel` (read from the vault once, in a blocking task: rebuilding a
    /// long chain takes seconds).
    async fn chain(&self, channel: ExtId) -> Result<Arc<CrashChain>, VaultError> {
        if let Some(c) = self.chains.lock().expect("chains").get(&channel) {
            return Ok(c.clone());
        }
        let dir = self.data_dir.clone();
        let opened = tokio::task::spawn_blocking(move || CrashChain::open(&dir, channel.as_str()))
            .await
            .map_err(|e| VaultError::Io { path: PathBuf::new(), source: std::io::Error::other(e.to_string()) })??;
        let chain = Arc::new(opened.ok_or_else(|| VaultError::Io {
            path: croupier_store::layout::crash_chain_file(&self.data_dir, channel.as_str()).unwrap_or_default(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no chain file for this channel"),
        })?);
        self.chains.lock().expect("chains").insert(channel, chain.clone());
        Ok(chain)
    }
}

fn vault_error(e: VaultError) -> ApiError {
    match e {
        VaultError::InvalidName(_) => ApiError::unprocessable("INVALID_ID", e.to_string()),
        VaultError::InvalidLength(_) | VaultError::InvalidSalt => {
            ApiError::unprocessable("CRASH_INVALID_CHANNEL", e.to_string())
        }
        VaultError::Exists(_) => ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "IDEMPOTENCY_CONFLICT",
            "a chain for this channel already exists",
        ),
        VaultError::Exhausted { .. } => {
            ApiError::new(axum::http::StatusCode::CONFLICT, "CRASH_CHAIN_EXHAUSTED", e.to_string())
        }
        VaultError::Damaged { .. } | VaultError::Io { .. } => {
            eprintln!("crash chain vault: {e}");
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "CHAIN_UNAVAILABLE",
                "the channel's chain cannot be read",
            )
        }
    }
}

// ---- the driver ----

/// What the driver needs to know of a channel's newest term.
#[derive(Debug)]
struct Step {
    cmd: Option<CrashCommand>,
    /// When `cmd` is due (ms since the epoch).
    at: u64,
    /// Game to reveal with a take-off.
    game: u64,
}

/// The next command for `channel` and when it is due; `cmd: None` when nothing is due
/// (paused, chain used up, or no such channel yet).
fn next_step(s: &croupier_domain::state::State, channel: ExtId, now: u64) -> Step {
    let idle = Step { cmd: None, at: 0, game: 0 };
    let crash = s.crash();
    let Some(no) = crash.channel_by_id(&channel) else { return idle };
    let ch = crash.channel(no);
    let number = ch.terms;
    let current = ch.current.map(|t| crash.term(t));
    match current {
        Some(t) if t.status == TermStatus::PreStart => {
            Step { cmd: Some(CrashCommand::CloseBets { channel, number }), at: t.starting_at.0, ..idle }
        }
        // The hash is filled in by the caller, from the vault.
        Some(t) if t.status == TermStatus::Starting => Step {
            cmd: Some(CrashCommand::TakeOff { channel, number, hash: [0; 32] }),
            at: t.takeoff_at(&ch.config).0,
            game: ch.revealed + 1,
        },
        // `evolve` sets the flight with the status; without one there is nothing to wait for.
        Some(t) if t.status == TermStatus::Flying => match &t.flight {
            Some(f) => {
                Step { cmd: Some(CrashCommand::Crash { channel, number }), at: f.at.0 + f.crash_after_ms, ..idle }
            }
            None => idle,
        },
        _ if ch.paused || ch.revealed >= ch.length => idle,
        last => {
            let at = last.and_then(|t| t.ended_at).map_or(now, |e| e.0 + ch.config.pause_ms);
            Step { cmd: Some(CrashCommand::OpenTerm { channel, number: number + 1 }), at, ..idle }
        }
    }
}

/// Starts a driver for every channel the engine knows (at start-up, after restore).
pub(crate) async fn start_drivers(app: AppState) {
    let channels = app.engine.read(0, |s| s.crash().channels().iter().map(|c| c.id).collect::<Vec<_>>()).await;
    for channel in channels.unwrap_or_default() {
        ensure_driver(&app, channel);
    }
}

/// Starts `channel`'s driver unless it runs.
fn ensure_driver(app: &AppState, channel: ExtId) {
    let notify = {
        let mut drivers = app.crash.drivers.lock().expect("drivers");
        if drivers.contains_key(&channel) {
            return;
        }
        let n = Arc::new(Notify::new());
        drivers.insert(channel, n.clone());
        n
    };
    tokio::spawn(drive(app.clone(), channel, notify));
}

/// Runs `channel`'s terms until the server stops (see the module's documentation).
async fn drive(app: AppState, channel: ExtId, wake: Arc<Notify>) {
    // Load the chain now (a long one takes seconds to rebuild), not at the first take-off.
    if let Err(e) = app.crash.chain(channel).await {
        eprintln!("crash channel {channel}: {e}");
    }
    let mut shutdown = app.shutdown.clone();
    // Sleeps until `ms` from now, a wake-up or the stop; false on the stop.
    let mut pause = async |ms: Option<u64>, wake: &Notify| -> bool {
        let sleep = async {
            match ms {
                Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = wake.notified() => {}
            _ = crate::until_set(&mut shutdown) => return false,
        }
        !*app.shutdown.borrow()
    };
    loop {
        if *app.shutdown.borrow() {
            return;
        }
        let now = now_ms();
        let step = match app.engine.read(0, move |s| next_step(s, channel, now)).await {
            Ok(s) => s,
            Err(e) => {
                if !pause(Some(e.retry_after_ms.unwrap_or(1_000)), &wake).await {
                    return;
                }
                continue;
            }
        };
        let Some(mut cmd) = step.cmd else {
            // Paused, used up or not created yet: an operator's command wakes us.
            if !pause(None, &wake).await {
                return;
            }
            continue;
        };
        let now = now_ms();
        if step.at > now {
            // Woken early (an operator moved the term on): read it again.
            if !pause(Some(step.at - now), &wake).await {
                return;
            }
            continue;
        }
        if let CrashCommand::TakeOff { hash, number, .. } = &mut cmd {
            match app.crash.chain(channel).await.and_then(|c| c.game(step.game)) {
                Ok(h) => *hash = h,
                Err(e) => {
                    // Without its chain the term cannot fly: refund it rather than hold
                    // every stake forever. The stop pauses the channel.
                    eprintln!("crash channel {channel}: term {number} cannot take off: {e}; stopping it");
                    cmd = CrashCommand::EmergencyStop { channel, number: *number };
                }
            }
        }
        match app.engine.call(Command::Crash(cmd)).await {
            Ok(_) => {}
            // A millisecond between our clock and the engine's stamp: try again at once.
            Err(e) if e.code == "CRASH_TERM_NOT_DUE" => {
                if !pause(Some(2), &wake).await {
                    return;
                }
            }
            Err(e) => {
                // An operator moved the term on meanwhile (it is read again), or the engine
                // is busy or failing: retry without spinning.
                if e.code != "CRASH_INVALID_TERM_TRANSITION" && e.code != "CRASH_CHANNEL_PAUSED" {
                    eprintln!("crash channel {channel}: {} {}", e.code, e.message);
                }
                if !pause(Some(e.retry_after_ms.unwrap_or(200)), &wake).await {
                    return;
                }
            }
        }
    }
}

// ---- views ----

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitsView {
    pub currency: String,
    pub min_stake: String,
    pub max_stake: String,
    /// Most one bet may win beyond its stake.
    pub max_profit_per_bet: String,
    /// Most the bets of one term may win beyond their stakes together (published cap).
    pub max_profit_per_term: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TermView {
    /// The term's number in its channel, from 1.
    pub number: u64,
    /// `pre_start` (bets open), `starting` (bets closed), `flying`, `closed`, `cancelled`.
    pub status: String,
    pub opened_at: u64,
    /// When bets close (or closed).
    pub starting_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_off_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    /// While flying: the multiplier now ("1.53"). Once crashed: the crash point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<String>,
    /// Before take-off: ms until the next phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countdown_ms: Option<u64>,
    /// Once crashed: the crash point ("2.53"), the game's chain index and hash (hex), which
    /// anyone can check with bustabit's verifier and the channel's salt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_point: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub game: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    pub channel: String,
    pub paused: bool,
    pub pre_start_ms: u64,
    pub starting_ms: u64,
    pub pause_ms: u64,
    pub limits: Vec<LimitsView>,
    /// Game 0's hash, published before the first term: every revealed game hashes down to it.
    pub terminating_hash: String,
    /// The HMAC key of every crash point (bustabit v2).
    pub salt: String,
    pub chain_length: u64,
    /// Games revealed so far.
    pub games_revealed: u64,
    /// The newest term, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<TermView>,
    /// When the channel is between terms and not paused: ms until the next opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_term_in_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TermsView {
    pub channel: String,
    pub salt: String,
    pub terminating_hash: String,
    /// Newest first, at most 100.
    pub terms: Vec<TermView>,
}

fn term_view(t: &croupier_domain::crash::Term, ch: &croupier_domain::crash::Channel, now: u64) -> TermView {
    let mut v = TermView {
        number: t.number,
        status: t.status.name().to_string(),
        opened_at: t.opened_at.0,
        starting_at: t.starting_at.0,
        took_off_at: t.flight.as_ref().map(|f| f.at.0),
        ended_at: t.ended_at.map(|e| e.0),
        multiplier: None,
        countdown_ms: None,
        crash_point: None,
        game: None,
        hash: None,
    };
    match t.status {
        TermStatus::PreStart => v.countdown_ms = Some(t.starting_at.0.saturating_sub(now)),
        TermStatus::Starting => v.countdown_ms = Some(t.takeoff_at(&ch.config).0.saturating_sub(now)),
        TermStatus::Flying => {
            // Never past the crash point: the secret is public only from the crash on, and
            // the multiplier stops there anyway.
            if let Some(f) = &t.flight {
                let elapsed = now.saturating_sub(f.at.0).min(f.crash_after_ms);
                v.multiplier = Some(format_multiplier(curve::multiplier_at(elapsed).min(f.crash_point)));
            }
        }
        TermStatus::Closed | TermStatus::Cancelled => {}
    }
    // A term that is over shows its game: crashed, or cancelled in flight (the game is spent;
    // its hash only tells games already played).
    if let Some(f) = t.revealed() {
        v.crash_point = Some(format_multiplier(f.crash_point));
        if t.status == TermStatus::Closed {
            v.multiplier = v.crash_point.clone();
        }
        v.game = Some(f.game);
        v.hash = Some(to_hex(&f.hash));
    }
    v
}

fn limits_view(app: &AppState, l: &CrashLimits) -> LimitsView {
    let exp = app.cfg.exponent(l.currency.as_str()).unwrap_or(2);
    LimitsView {
        currency: l.currency.as_str().to_string(),
        min_stake: amount::format(l.min_stake, exp),
        max_stake: amount::format(l.max_stake, exp),
        max_profit_per_bet: amount::format(l.max_profit_per_bet, exp),
        max_profit_per_term: amount::format(l.max_profit_per_term, exp),
    }
}

fn channel_id(raw: &str) -> Result<ExtId, ApiError> {
    let id = ext_id("channel", raw)?;
    if !croupier_store::layout::is_file_safe_name(raw) {
        return Err(ApiError::unprocessable(
            "INVALID_ID",
            format!("channel {}: letters, digits, '-' and '_' only", quote(raw)),
        ));
    }
    Ok(id)
}

async fn channel_view(app: &AppState, channel: ExtId) -> Result<ChannelView, ApiError> {
    let now = now_ms();
    let app2 = app.clone();
    app.engine
        .read(0, move |s| {
            let crash = s.crash();
            let no = crash.channel_by_id(&channel)?;
            let ch = crash.channel(no);
            let term = ch.current.map(|t| crash.term(t));
            let next_term_in_ms = match term {
                _ if ch.paused || ch.revealed >= ch.length => None,
                None => Some(0),
                Some(t) if t.status.is_over() => {
                    Some(t.ended_at.map_or(0, |e| (e.0 + ch.config.pause_ms).saturating_sub(now)))
                }
                Some(_) => None,
            };
            Some(ChannelView {
                channel: ch.id.as_str().to_string(),
                paused: ch.paused,
                pre_start_ms: ch.config.pre_start_ms,
                starting_ms: ch.config.starting_ms,
                pause_ms: ch.config.pause_ms,
                limits: ch.config.limits.iter().map(|l| limits_view(&app2, l)).collect(),
                terminating_hash: to_hex(&ch.terminating_hash),
                salt: ch.salt.as_str().to_string(),
                chain_length: ch.length,
                games_revealed: ch.revealed,
                term: term.map(|t| term_view(t, ch, now)),
                next_term_in_ms,
            })
        })
        .await?
        .ok_or_else(|| ApiError::not_found("CRASH_CHANNEL_NOT_FOUND", "unknown crash channel"))
}

// ---- operators ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelLimitsRequest {
    /// Default: the server's first currency.
    #[serde(default)]
    pub currency: Option<String>,
    pub min_stake: String,
    pub max_stake: String,
    pub max_profit_per_bet: String,
    pub max_profit_per_term: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannelRequest {
    /// The channel's id: letters, digits, '-' and '_', at most 39.
    pub channel: String,
    /// Bets open (default 8000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 86400000)]
    pub pre_start_ms: Option<u64>,
    /// Bets closed before take-off (default 2000).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 86400000)]
    pub starting_ms: Option<u64>,
    /// Between a term's end and the next one's opening (default 3000).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 86400000)]
    pub pause_ms: Option<u64>,
    /// Per accepted currency.
    pub limits: Vec<ChannelLimitsRequest>,
    /// Games on the hash chain drawn for the channel: one per term.
    #[schema(minimum = 1, maximum = 10000000)]
    pub chain_length: u64,
    /// The HMAC key of the crash points (printable ASCII, no spaces, at most 64); drawn when
    /// absent. bustabit uses a block hash chosen after the chain was published.
    #[serde(default)]
    pub salt: Option<String>,
}

/// Creates a crash channel: draws its secret chain, keeps it in the vault and publishes its
/// terminating hash and salt. The channel's terms then run by themselves. A repeat with the
/// same settings answers the channel as it is.
#[utoipa::path(post, path = "/api/crash/channels", tag = "crash", request_body = CreateChannelRequest,
    security(("operator_signature" = []), ("operator_timestamp" = [])),
    responses((status = 200, description = "The channel", body = ChannelView), ErrorResponses))]
pub async fn create_channel(
    State(app): State<AppState>,
    Signed(req): Signed<CreateChannelRequest>,
) -> Result<Json<ChannelView>, ApiError> {
    let channel = channel_id(&req.channel)?;
    let mut limits = Vec::with_capacity(req.limits.len());
    for l in &req.limits {
        let cur = l.currency.as_deref();
        let (currency, min_stake) = app.money(cur, &l.min_stake)?;
        let max_stake = app.money(cur, &l.max_stake)?.1;
        let max_profit_per_bet = app.money(cur, &l.max_profit_per_bet)?.1;
        let max_profit_per_term = app.money(cur, &l.max_profit_per_term)?.1;
        limits.push(CrashLimits { currency, min_stake, max_stake, max_profit_per_bet, max_profit_per_term });
    }
    let config = ChannelConfig {
        pre_start_ms: req.pre_start_ms.unwrap_or(8_000),
        starting_ms: req.starting_ms.unwrap_or(2_000),
        pause_ms: req.pause_ms.unwrap_or(3_000),
        limits,
    };
    if let Some(s) = &req.salt {
        Salt::new(s).map_err(|e| ApiError::unprocessable("CRASH_INVALID_CHANNEL", format!("salt: {e}")))?;
    }
    let _one_at_a_time = app.crash.creating.lock().await;
    let exists = app.engine.read(0, move |s| s.crash().channel_by_id(&channel).is_some()).await?;
    let dir = app.crash.data_dir.clone();
    let (length, salt) = (req.chain_length, req.salt.clone());
    let (chain, drawn) = tokio::task::spawn_blocking(move || -> Result<(CrashChain, bool), ApiError> {
        if let Some(c) = CrashChain::open(&dir, channel.as_str()).map_err(vault_error)? {
            return Ok((c, false));
        }
        if exists {
            return Err(vault_error(VaultError::Io {
                path: PathBuf::new(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "the channel exists but its chain is gone"),
            }));
        }
        let top = os_random::<32>()?;
        let salt = match salt {
            Some(s) => s,
            None => to_hex(&os_random::<32>()?),
        };
        Ok((CrashChain::create(&dir, channel.as_str(), top, length, &salt).map_err(vault_error)?, true))
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("chain task: {e}")))??;
    if !drawn && (chain.length() != req.chain_length || req.salt.as_deref().is_some_and(|s| s != chain.salt())) {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "IDEMPOTENCY_CONFLICT",
            "the channel's chain was made with another length or salt",
        ));
    }
    let def = CreateChannel {
        channel,
        config,
        terminating_hash: chain.terminating_hash(),
        salt: Salt::new(chain.salt()).map_err(|e| ApiError::unprocessable("CRASH_INVALID_CHANNEL", e.to_string()))?,
        length: chain.length(),
    };
    if let Err(e) = app.engine.call(Command::Crash(CrashCommand::CreateChannel(Box::new(def)))).await {
        if !exists {
            // No channel was made with this chain: drop it, so a corrected retry draws anew.
            let dir = app.crash.data_dir.clone();
            let _ = tokio::task::spawn_blocking(move || CrashChain::discard_unused(&dir, channel.as_str())).await;
        }
        return Err(e);
    }
    app.crash.chains.lock().expect("chains").insert(channel, Arc::new(chain));
    ensure_driver(&app, channel);
    app.crash.wake(&channel);
    Ok(Json(channel_view(&app, channel).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    pub channel: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    pub channel: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartTermRequest {
    pub channel: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyStopRequest {
    pub channel: String,
}

async fn set_paused(app: &AppState, raw: &str, paused: bool) -> Result<Json<ChannelView>, ApiError> {
    let channel = channel_id(raw)?;
    app.engine.call(Command::Crash(CrashCommand::SetPaused { channel, paused })).await?;
    app.crash.wake(&channel);
    Ok(Json(channel_view(app, channel).await?))
}

/// Pauses a channel: its current term runs to its end, no new term opens.
#[utoipa::path(post, path = "/api/crash/pause", tag = "crash", request_body = PauseRequest,
    security(("operator_signature" = []), ("operator_timestamp" = [])),
    responses((status = 200, description = "The channel", body = ChannelView), ErrorResponses))]
pub async fn pause(
    State(app): State<AppState>,
    Signed(req): Signed<PauseRequest>,
) -> Result<Json<ChannelView>, ApiError> {
    set_paused(&app, &req.channel, true).await
}

/// Resumes a paused channel (also after an emergency stop): the next term opens.
#[utoipa::path(post, path = "/api/crash/resume", tag = "crash", request_body = ResumeRequest,
    security(("operator_signature" = []), ("operator_timestamp" = [])),
    responses((status = 200, description = "The channel", body = ChannelView), ErrorResponses))]
pub async fn resume(
    State(app): State<AppState>,
    Signed(req): Signed<ResumeRequest>,
) -> Result<Json<ChannelView>, ApiError> {
    set_paused(&app, &req.channel, false).await
}

/// Starts a term early: closes the bets of the term in `pre_start` now, or, between terms,
/// opens the next one now.
#[utoipa::path(post, path = "/api/crash/start", tag = "crash", request_body = StartTermRequest,
    security(("operator_signature" = []), ("operator_timestamp" = [])),
    responses((status = 200, description = "The channel", body = ChannelView), ErrorResponses))]
pub async fn start_term(
    State(app): State<AppState>,
    Signed(req): Signed<StartTermRequest>,
) -> Result<Json<ChannelView>, ApiError> {
    let channel = channel_id(&req.channel)?;
    let current = app
        .engine
        .read(0, move |s| {
            let no = s.crash().channel_by_id(&channel)?;
            let ch = s.crash().channel(no);
            Some((ch.terms, ch.current.map(|t| s.crash().term(t).status)))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("CRASH_CHANNEL_NOT_FOUND", "unknown crash channel"))?;
    let cmd = match current {
        (number, Some(TermStatus::PreStart)) => CrashCommand::CloseBets { channel, number },
        (number, None) => CrashCommand::OpenTerm { channel, number: number + 1 },
        (number, Some(status)) if status.is_over() => CrashCommand::OpenTerm { channel, number: number + 1 },
        (_, Some(status)) => {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "CRASH_INVALID_TERM_TRANSITION",
                format!("the term is {} already", status.name()),
            ))
        }
    };
    app.engine.call(Command::Crash(cmd)).await?;
    app.crash.wake(&channel);
    Ok(Json(channel_view(&app, channel).await?))
}

/// Emergency stop: the current term is cancelled, every open bet refunded, the channel
/// paused (resume it to go on).
#[utoipa::path(post, path = "/api/crash/stop", tag = "crash", request_body = EmergencyStopRequest,
    security(("operator_signature" = []), ("operator_timestamp" = [])),
    responses((status = 200, description = "The channel", body = ChannelView), ErrorResponses))]
pub async fn emergency_stop(
    State(app): State<AppState>,
    Signed(req): Signed<EmergencyStopRequest>,
) -> Result<Json<ChannelView>, ApiError> {
    let channel = channel_id(&req.channel)?;
    let number = app
        .engine
        .read(0, move |s| s.crash().channel_by_id(&channel).map(|no| s.crash().channel(no).terms))
        .await?
        .ok_or_else(|| ApiError::not_found("CRASH_CHANNEL_NOT_FOUND", "unknown crash channel"))?;
    app.engine.call(Command::Crash(CrashCommand::EmergencyStop { channel, number })).await?;
    app.crash.wake(&channel);
    Ok(Json(channel_view(&app, channel).await?))
}

// ---- public views ----

/// A channel: its settings, published commitment (terminating hash, salt) and current term
/// (state, multiplier now, countdown). No token needed.
#[utoipa::path(get, path = "/api/crash/channels/{channel}", tag = "crash",
    params(("channel" = String, Path, description = "The channel's id")),
    responses((status = 200, description = "The channel", body = ChannelView), ErrorResponses))]
pub async fn channel(State(app): State<AppState>, Path(raw): Path<String>) -> Result<Json<ChannelView>, ApiError> {
    Ok(Json(channel_view(&app, channel_id(&raw)?).await?))
}

/// The channel's last 100 terms, newest first, with crash points and game hashes once
/// crashed. No token needed.
#[utoipa::path(get, path = "/api/crash/channels/{channel}/terms", tag = "crash",
    params(("channel" = String, Path, description = "The channel's id")),
    responses((status = 200, description = "The terms", body = TermsView), ErrorResponses))]
pub async fn terms(State(app): State<AppState>, Path(raw): Path<String>) -> Result<Json<TermsView>, ApiError> {
    let channel = channel_id(&raw)?;
    let now = now_ms();
    app.engine
        .read(0, move |s| {
            let crash = s.crash();
            let no = crash.channel_by_id(&channel)?;
            let ch = crash.channel(no);
            let terms = crash
                .terms()
                .iter()
                .rev()
                .filter(|t| t.channel == no)
                .take(HISTORY)
                .map(|t| term_view(t, ch, now))
                .collect();
            Some(TermsView {
                channel: ch.id.as_str().to_string(),
                salt: ch.salt.as_str().to_string(),
                terminating_hash: to_hex(&ch.terminating_hash),
                terms,
            })
        })
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("CRASH_CHANNEL_NOT_FOUND", "unknown crash channel"))
}

// ---- players ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrashBetRequest {
    pub channel: String,
    /// The player's order number: a repeat with the same content is answered with the first
    /// answer (`replayed: true`); other content is `IDEMPOTENCY_CONFLICT`.
    pub order_no: String,
    /// Stake, a decimal string such as "10.00".
    pub amount: String,
    #[serde(default)]
    pub currency: Option<String>,
    /// Auto cashout target, a multiplier such as "2.00" (at least "1.01").
    #[serde(default)]
    pub auto_cashout: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CrashBetView {
    pub order_no: String,
    pub channel: String,
    /// The term's number in its channel.
    pub term: u64,
    pub amount: String,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_cashout: Option<String>,
    /// `open`, `cashed_out`, `lost`, `cancelled`, `refunded`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout: Option<String>,
    /// `manual`, `auto` or `cap` (the term's profit cap cashed every flying bet out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashout_kind: Option<String>,
    pub replayed: bool,
}

async fn bet_view(app: &AppState, user: UserId, order_no: ExtId, replayed: bool) -> Result<CrashBetView, ApiError> {
    let found = app
        .engine
        .read(app.engine.shard_of(user), move |s| {
            let crash = s.crash();
            let b = crash.bet(crash.bet_by_order(user, &order_no)?).clone();
            let t = crash.term(b.term);
            let ch = crash.channel(t.channel);
            let currency = ch.config.limits[b.slot as usize].currency;
            Some((b, t.number, ch.id, currency))
        })
        .await?;
    let (b, term, channel, currency) =
        found.ok_or_else(|| ApiError::not_found("BET_NOT_FOUND", "no crash bet with this order number"))?;
    let exp = app.cfg.exponent(currency.as_str()).unwrap_or(2);
    let mut v = CrashBetView {
        order_no: b.order_no.as_str().to_string(),
        channel: channel.as_str().to_string(),
        term,
        amount: amount::format(b.stake, exp),
        currency: currency.as_str().to_string(),
        auto_cashout: b.requested.map(format_multiplier),
        state: b.state.name().to_string(),
        multiplier: None,
        payout: None,
        cashout_kind: None,
        replayed,
    };
    if let CrashBetState::CashedOut { multiplier, payout, kind, .. } = b.state {
        v.multiplier = Some(format_multiplier(multiplier));
        v.payout = Some(amount::format(payout, exp));
        v.cashout_kind = Some(kind.name().to_string());
    }
    Ok(v)
}

fn replayed(reply: Reply) -> bool {
    match reply {
        Reply::Crash(croupier_domain::CrashReply::Bet { replayed, .. }) => replayed,
        _ => false,
    }
}

/// A bet on the channel's term while bets are open.
#[utoipa::path(post, path = "/api/crash/bets", tag = "crash", request_body = CrashBetRequest,
    security(("player_token" = [])),
    responses((status = 200, description = "Placed", body = CrashBetView), ErrorResponses))]
pub async fn bet(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Json<CrashBetView>, ApiError> {
    let user = app.player(&headers)?.user;
    let req: CrashBetRequest = parse_body(&body)?;
    let (currency, stake) = app.money(req.currency.as_deref(), &req.amount)?;
    // A multiplier with at most two places, in hundredths; below 1.01 the engine answers
    // `CRASH_TARGET_TOO_LOW`.
    let auto_cashout = match &req.auto_cashout {
        Some(m) => Some(
            amount::parse(m, 2)
                .map_err(|_| {
                    ApiError::unprocessable(
                        "INVALID_MULTIPLIER",
                        format!("auto_cashout {}: a multiplier such as \"2.00\", at least 1.01", quote(m)),
                    )
                })?
                .0 as u64,
        ),
        None => None,
    };
    let order_no = ext_id("order_no", &req.order_no)?;
    let cmd = PlaceCrashBet { channel: channel_id(&req.channel)?, order_no, user, currency, stake, auto_cashout };
    let reply = app.engine.call(Command::Crash(CrashCommand::PlaceBet(cmd))).await?;
    Ok(Json(bet_view(&app, user, order_no, replayed(reply)).await?))
}

/// Takes back a bet before bets close: the stake is returned.
#[utoipa::path(post, path = "/api/crash/bets/{order_no}/cancel", tag = "crash",
    params(("order_no" = String, Path, description = "The bet's order number")), security(("player_token" = [])),
    responses((status = 200, description = "Cancelled", body = CrashBetView), ErrorResponses))]
pub async fn cancel(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_no): Path<String>,
) -> Result<Json<CrashBetView>, ApiError> {
    act_on_bet(&app, &headers, &order_no, |user, order_no| CrashCommand::CancelBet { user, order_no }).await
}

/// Cashes out at the multiplier of the moment the server takes the request: wins
/// `floor(stake × multiplier)`; at or after the crash, `CRASH_TOO_LATE`.
#[utoipa::path(post, path = "/api/crash/bets/{order_no}/cashout", tag = "crash",
    params(("order_no" = String, Path, description = "The bet's order number")), security(("player_token" = [])),
    responses((status = 200, description = "Cashed out", body = CrashBetView), ErrorResponses))]
pub async fn cashout(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_no): Path<String>,
) -> Result<Json<CrashBetView>, ApiError> {
    act_on_bet(&app, &headers, &order_no, |user, order_no| CrashCommand::Cashout { user, order_no }).await
}

/// A player's command on their own bet by order number, answered with the bet as it stands.
async fn act_on_bet(
    app: &AppState,
    headers: &HeaderMap,
    order_no: &str,
    command: impl FnOnce(UserId, ExtId) -> CrashCommand,
) -> Result<Json<CrashBetView>, ApiError> {
    let user = app.player(headers)?.user;
    let order_no = ext_id("order_no", order_no)?;
    let reply = app.engine.call(Command::Crash(command(user, order_no))).await?;
    Ok(Json(bet_view(app, user, order_no, replayed(reply)).await?))
}

/// The player's crash bet with this order number, as it stands.
#[utoipa::path(get, path = "/api/me/crash/bets/{order_no}", tag = "crash",
    params(("order_no" = String, Path, description = "The bet's order number")), security(("player_token" = [])),
    responses((status = 200, description = "The bet", body = CrashBetView), ErrorResponses))]
pub async fn my_bet(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_no): Path<String>,
) -> Result<Json<CrashBetView>, ApiError> {
    let user = app.player(&headers)?.user;
    let order_no = ext_id("order_no", &order_no)?;
    Ok(Json(bet_view(&app, user, order_no, false).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::crash::testkit;
    use croupier_domain::ids::Timestamp;
    use croupier_domain::testkit::{id, must, setup_commands};
    use croupier_domain::Engine;

    /// The driver's plan comes from the journaled times alone: each step is due when the
    /// state says, whatever time the driver reads it, so a restarted driver resumes a term
    /// where it stood (a flight crashes at take-off plus its `crash_after_ms`).
    #[test]
    fn the_driver_plans_each_step_from_the_terms_own_times() {
        let mut e = Engine::default();
        for c in setup_commands(croupier_domain::testkit::default_limits()) {
            must(&mut e, &c, Timestamp(0));
        }
        let chain = testkit::chain("driver", 10);
        let config =
            ChannelConfig { pre_start_ms: 500, starting_ms: 200, pause_ms: 300, limits: vec![testkit::limits()] };
        must(&mut e, &testkit::create_channel(&chain, config), Timestamp(0));
        let ch = id(testkit::CHANNEL);
        let step = next_step(e.state(), ch, 1_000);
        assert_eq!((step.cmd, step.at), (Some(CrashCommand::OpenTerm { channel: ch, number: 1 }), 1_000));
        must(&mut e, &testkit::open(1), Timestamp(1_000));
        let step = next_step(e.state(), ch, 1_234);
        assert_eq!((step.cmd, step.at), (Some(CrashCommand::CloseBets { channel: ch, number: 1 }), 1_500));
        must(&mut e, &testkit::close_bets(1), Timestamp(1_500));
        let step = next_step(e.state(), ch, 9_999);
        assert_eq!((step.at, step.game), (1_700, 1));
        assert!(matches!(step.cmd, Some(CrashCommand::TakeOff { number: 1, .. })));
        must(&mut e, &testkit::take_off(1, chain.game(1).unwrap()), Timestamp(1_700));
        let f = e.state().crash().term(croupier_domain::crash::TermNo(0)).flight.clone().unwrap();
        // Read long after: still due at the flight's own time.
        let step = next_step(e.state(), ch, 50_000);
        assert_eq!(
            (step.cmd, step.at),
            (Some(CrashCommand::Crash { channel: ch, number: 1 }), 1_700 + f.crash_after_ms)
        );
        must(&mut e, &testkit::crash(1), Timestamp(1_700 + f.crash_after_ms));
        let step = next_step(e.state(), ch, 99_999);
        assert_eq!(
            (step.cmd, step.at),
            (Some(CrashCommand::OpenTerm { channel: ch, number: 2 }), 1_700 + f.crash_after_ms + 300)
        );
        // Paused: nothing is due after the current term.
        must(&mut e, &Command::Crash(CrashCommand::SetPaused { channel: ch, paused: true }), Timestamp(0));
        assert_eq!(next_step(e.state(), ch, 99_999).cmd, None);
        assert_eq!(next_step(e.state(), id("nope"), 0).cmd, None);
    }
}
