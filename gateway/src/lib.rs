//! croupier's HTTP and WebSocket API (axum): decoding, authentication, validation, routing
//! to the shards, push fan-out.
//!
//! - [`engine`] is the only module that touches the runtime; nothing here blocks an async
//!   worker (commands are awaited through completions, reads run on the shard's thread).
//! - [`operator`] endpoints are HMAC-signed over method, path, timestamp and body ([`auth`],
//!   checked by the [`Signed`] extractor before the body is parsed); [`player`] endpoints take
//!   a session token, revocable per user ([`revocations`]), and only ever touch its player.
//! - [`push`] tails each shard's journal up to its durable watermark and fans events out to
//!   WebSocket subscribers ([`ws`]), with a bounded buffer for resume.
//! - Every error is `{"code","message"}` ([`error`]), from handlers, extractors ([`extract`])
//!   and layers ([`layers`]); amounts are decimal strings ([`amount`]); `/openapi.json`
//!   ([`openapi`]), `/metrics` ([`metrics`]), `/healthz`.
//! - [`console`] serves the web console at `/` (files embedded at compile time) and, on a
//!   `serve --demo` server only, the demo players' sessions.
//! - Every client is held to [`config::Limits`]: connections ([`conn`]), bodies ([`layers`]),
//!   WebSocket frames, topics and resumes ([`ws`], [`push`]).

pub mod activity;
pub mod amount;
pub mod auth;
pub mod client;
pub mod config;
mod conn;
pub mod console;
pub mod crash;
pub mod engine;
pub mod error;
pub mod extract;
pub mod fields;
pub mod instant;
pub mod layers;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod player;
pub mod push;
pub mod revocations;
pub mod ws;

pub use auth::{load_or_create_key, Auth, KeySource};
pub use config::{GatewayConfig, Limits};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use croupier_domain::{Code, Command, ExtId, Money};
use croupier_runtime::Runtime;
use engine::EngineHandle;
use error::ApiError;
use push::{Hub, Pusher};
use revocations::Revocations;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use utoipa::ToSchema;

/// What every handler shares.
pub struct AppInner {
    pub engine: EngineHandle,
    pub auth: Auth,
    /// Per-user session revocations, kept in `<data>/revoked-sessions`.
    pub revocations: Revocations,
    pub cfg: GatewayConfig,
    pub hub: Arc<Hub>,
    pub metrics: metrics::Metrics,
    /// Turns true when the server stops: WebSocket sessions close.
    pub shutdown: watch::Receiver<bool>,
    /// The web console's state (its demo, if any).
    pub console: console::Console,
    /// The crash game's chains and term drivers.
    pub crash: crash::CrashEdge,
    /// The lobby's live feed of finished instant bets and its history.
    pub activity: Arc<activity::ActivityFeed>,
}

pub type AppState = Arc<AppInner>;

impl AppInner {
    /// The player of a request's `Authorization: Bearer <token>` header.
    pub fn player(&self, headers: &HeaderMap) -> Result<auth::Player, ApiError> {
        self.session(auth::bearer(headers)?)
    }

    /// Checks a player token: mac, expiry, and that its user's sessions were not revoked
    /// after it was issued (401 `TOKEN_REVOKED`).
    pub fn session(&self, token: &str) -> Result<auth::Player, ApiError> {
        let player = self.auth.verify(token, now_ms())?;
        if !self.revocations.allows(&player) {
            return Err(ApiError::unauthorized("TOKEN_REVOKED", "this session was revoked; open a new session"));
        }
        Ok(player)
    }

    /// A currency (the default when none is named) and an amount in it.
    pub fn money(&self, currency: Option<&str>, amount: &str) -> Result<(Code, Money), ApiError> {
        let cur = currency.unwrap_or(self.cfg.default_currency());
        let exponent = self.cfg.exponent(cur).ok_or_else(|| {
            ApiError::unprocessable("UNKNOWN_CURRENCY", format!("unknown currency {}", error::quote(cur)))
        })?;
        Ok((code("currency", cur)?, amount::parse(amount, exponent)?))
    }
}

/// An operator request's body, decoded only once its signature (method, path, timestamp,
/// body) checked out: an unsigned or replayed body never reaches the JSON parser.
pub struct Signed<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(mut req: Request, app: &AppState) -> Result<Self, ApiError> {
        let method = req.method().clone();
        let uri = req.uri().clone();
        // Taken, not cloned: reading the body needs none of them.
        let headers = std::mem::take(req.headers_mut());
        let body = Bytes::from_request(req, app).await.map_err(|e| {
            let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE { "PAYLOAD_TOO_LARGE" } else { "BAD_JSON" };
            ApiError::new(e.status(), code, e.body_text())
        })?;
        let line = auth::RequestLine {
            method: method.as_str(),
            path_and_query: uri.path_and_query().map_or(uri.path(), |p| p.as_str()),
        };
        app.auth.check_operator(line, &headers, &body, now_ms())?;
        parse_body(&body).map(Signed)
    }
}

pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(ApiError::from_json)
}

/// A caller's id: printable ASCII, 1 to 39 bytes (422 `INVALID_ID` otherwise).
pub fn ext_id(field: &str, s: &str) -> Result<ExtId, ApiError> {
    ExtId::new(s).map_err(|e| ApiError::unprocessable("INVALID_ID", format!("{field}: {e}")))
}

/// A short code: printable ASCII, 1 to 15 bytes.
pub fn code(field: &str, s: &str) -> Result<Code, ApiError> {
    Code::new(s).map_err(|e| ApiError::unprocessable("INVALID_ID", format!("{field}: {e}")))
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` when every shard serves, `degraded` when some have failed.
    pub status: String,
    pub shards: usize,
    /// With `degraded`: `SHARD_UNAVAILABLE` and a sentence, like every error answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The shards that stopped serving, with why; empty when all serve. Their players are
    /// answered `SHARD_UNAVAILABLE` until the process restarts and restores them.
    #[serde(default)]
    pub failed: Vec<FailedShard>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FailedShard {
    pub shard: usize,
    pub reason: String,
}

/// Health: 200 `ok` when every shard serves; 503 `degraded` naming each failed shard (the
/// others go on serving, so a load balancer or operator sees it at once).
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "Every shard serves", body = Health),
              (status = 503, description = "Some shards failed; the others serve", body = Health)))]
pub async fn healthz(axum::extract::State(app): axum::extract::State<AppState>) -> Response {
    let failed: Vec<FailedShard> = app
        .engine
        .runtime()
        .shard_failures()
        .into_iter()
        .enumerate()
        .filter_map(|(shard, f)| f.map(|reason| FailedShard { shard, reason }))
        .collect();
    let shards = app.engine.shards();
    if failed.is_empty() {
        return Json(Health { status: "ok".into(), shards, code: None, message: None, failed }).into_response();
    }
    let message = format!("{} of {shards} shards stopped serving; restart to restore them", failed.len());
    let code = Some("SHARD_UNAVAILABLE".to_string());
    let health = Health { status: "degraded".into(), shards, code, message: Some(message), failed };
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, Json(health)).into_response();
    // A complete error answer already: the JSON-error layer leaves it as it is.
    resp.extensions_mut().insert(error::RejectCode("SHARD_UNAVAILABLE"));
    resp
}

async fn openapi_json() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi::json()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("NOT_FOUND", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "method not allowed on this endpoint")
}

/// Every route.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/api/game_event", post(operator::game_event))
        .route("/api/drawresult", post(operator::drawresult))
        .route("/api/rounds/cancel", post(operator::cancel))
        .route("/api/rounds/resettle", post(operator::resettle))
        .route("/api/recalculate_bets", post(operator::recalculate_bets))
        .route("/api/deposit", post(operator::deposit))
        .route("/api/withdraw", post(operator::withdraw))
        .route("/api/sessions", post(operator::sessions))
        .route("/api/sessions/revoke", post(operator::revoke))
        .route("/api/check_bet", post(operator::check_bet))
        .route("/api/block_funds", post(operator::block_funds))
        .route("/api/update_bet_status", post(operator::update_bet_status))
        .route("/api/refund", post(operator::refund))
        .route("/api/recalculate_bet", post(operator::recalculate_bet))
        .route("/api/bet", post(player::bet))
        .route("/api/me/balance", get(player::balance))
        .route("/api/me/bets", get(player::my_bets))
        .route("/api/me/bets/{order_no}", get(player::my_bet))
        .route("/api/rounds/{round_id}", get(player::round))
        .route("/api/red_packets", post(player::send_packet))
        .route("/api/red_packets/{sender}/{packet_id}/grab", post(player::grab))
        .route("/api/red_packets/{sender}/{packet_id}", get(player::packet))
        .route("/api/me/instant/seeds", get(instant::seeds))
        .route("/api/me/instant/seeds/rotate", post(instant::rotate))
        .route("/api/me/instant/bets", get(instant::history))
        .route("/api/instant/bets", post(instant::bet))
        .route("/api/instant/bets/{id}/reveal", post(instant::reveal))
        .route("/api/instant/bets/{id}/cashout", post(instant::cash_out))
        .route("/api/instant/bets/{id}/settle", post(instant::settle))
        .route("/api/instant/bets/{id}/hit", post(instant::hit))
        .route("/api/instant/bets/{id}/stand", post(instant::stand))
        .route("/api/instant/bets/{id}/double", post(instant::double))
        .route("/api/instant/bets/{id}/split", post(instant::split))
        .route("/api/instant/bets/{id}/insurance", post(instant::insurance))
        .route("/api/instant/refund", post(instant::refund))
        .route("/api/instant/games", get(instant::games))
        .route("/api/instant/activity", get(activity::recent))
        .route("/api/fair/verify", post(instant::verify))
        .route("/api/crash/channels", post(crash::create_channel))
        .route("/api/crash/pause", post(crash::pause))
        .route("/api/crash/resume", post(crash::resume))
        .route("/api/crash/start", post(crash::start_term))
        .route("/api/crash/stop", post(crash::emergency_stop))
        .route("/api/crash/channels/{channel}", get(crash::channel))
        .route("/api/crash/channels/{channel}/terms", get(crash::terms))
        .route("/api/crash/bets", post(crash::bet))
        .route("/api/crash/bets/{order_no}/cancel", post(crash::cancel))
        .route("/api/crash/bets/{order_no}/cashout", post(crash::cashout))
        .route("/api/me/crash/bets/{order_no}", get(crash::my_bet))
        .route("/ws", get(ws::ws))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi_json))
        .route("/", get(console::index))
        .route("/console/info", get(console::info))
        .route("/console/demo", get(console::demo))
        .route("/console/demo/table", get(console::demo_table))
        .route("/console/{*path}", get(console::file))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Innermost first: bodies are read under their limits, then any codeless error
        // answer becomes JSON, then everything is counted.
        .layer(axum::extract::DefaultBodyLimit::max(app.cfg.limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(app.clone(), layers::limit_body))
        .layer(axum::middleware::from_fn(layers::json_errors))
        .layer(axum::middleware::from_fn_with_state(app.clone(), metrics::track))
        .with_state(app)
}

/// A gateway over a started runtime: configuration applied, push running.
pub struct Gateway {
    app: AppState,
    pusher: Option<Pusher>,
    shutdown: watch::Sender<bool>,
}

impl Gateway {
    /// Applies `cfg`'s settings, currencies and games to a data folder that lacks them, and
    /// starts push over `data_dir`'s journals.
    pub async fn start(
        rt: Arc<Runtime>,
        data_dir: PathBuf,
        cfg: GatewayConfig,
        key: Vec<u8>,
    ) -> Result<Gateway, String> {
        let revocations = Revocations::open(&data_dir)
            .map_err(|e| format!("{}: {e}", data_dir.join(revocations::FILE_NAME).display()))?;
        let hub = Arc::new(Hub::new(rt.shards(), cfg.push_buffer));
        let crash = crash::CrashEdge::new(data_dir.clone());
        let activity = Arc::new(activity::ActivityFeed::new(cfg.activity.clone()));
        let pusher = Pusher::start(data_dir, rt.durable_watches(), hub.clone(), activity.clone())
            .map_err(|e| format!("push: {e}"))?;
        let (tx, rx) = watch::channel(false);
        let app = Arc::new(AppInner {
            engine: EngineHandle::new(rt),
            auth: Auth::new(key).with_window(cfg.signature_window_ms),
            revocations,
            cfg,
            hub,
            metrics: Default::default(),
            shutdown: rx,
            console: Default::default(),
            crash,
            activity,
        });
        let gw = Gateway { app, pusher: Some(pusher), shutdown: tx };
        gw.apply_setup().await?;
        tokio::spawn(instant::sweeper(gw.app.clone()));
        tokio::spawn(crash::start_drivers(gw.app.clone()));
        Ok(gw)
    }

    async fn apply_setup(&self) -> Result<(), String> {
        let games: Vec<ExtId> = self.app.cfg.games.iter().map(|g| g.game).collect();
        let (configured, known, instant_configured) = self
            .app
            .engine
            .read(0, move |s| {
                let known: Vec<bool> = games.iter().map(|g| s.game_by_id(g).is_some()).collect();
                (!s.currencies().is_empty(), known, s.instant().config().is_some())
            })
            .await
            .map_err(|e| e.message)?;
        let mut games_known = known.into_iter();
        for cmd in self.app.cfg.setup_commands() {
            let skip = match &cmd {
                Command::Configure(_) => configured,
                Command::DefineGame(_) => games_known.next().unwrap_or(false),
                Command::Instant(_) => instant_configured,
                _ => false,
            };
            if !skip {
                self.app
                    .engine
                    .call(cmd.clone())
                    .await
                    .map_err(|e| format!("setup {cmd:?}: {} {}", e.code, e.message))?;
            }
        }
        Ok(())
    }

    pub fn app(&self) -> &AppState {
        &self.app
    }

    pub fn router(&self) -> Router {
        router(self.app.clone())
    }

    /// Serves on `listener` until `signal` completes, then stops accepting, closes WebSocket
    /// sessions, lets requests in flight finish (at most 10 s) and stops push. The runtime is
    /// left to the caller (shut it down, with a snapshot, once this returns).
    ///
    /// Connections are served by hyper's HTTP/1.1 server with `pipeline_flush`: the answers to
    /// requests a client pipelined are written together, one syscall for many bets. At most
    /// `limits.max_connections` are served at once; see [`conn`] for the rest.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        let limits = self.app.cfg.limits.clone();
        let slots = conn::Slots::new(limits.max_connections);
        let refusals = conn::Slots::new(conn::REFUSALS_AT_ONCE);
        let mut stop = self.shutdown.subscribe();
        let mut connections = tokio::task::JoinSet::new();
        let mut accept_errors = AcceptErrors::default();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let tcp = match accepted {
                        Ok((tcp, _)) => tcp,
                        Err(e) => {
                            // The listener itself is fine: out of descriptors, a connection
                            // reset before it was accepted. Existing connections go on.
                            if accept_errors.pause(&e, slots.live()) {
                                tokio::time::sleep(conn::ACCEPT_BACKOFF).await;
                            }
                            continue;
                        }
                    };
                    match slots.try_take() {
                        Some(slot) => {
                            connections.spawn(conn::serve(tcp, slot, router.clone(), limits.clone(), stop.clone()));
                        }
                        None => conn::refuse(tcp, &refusals),
                    }
                    // Reap finished connections so the set does not grow without bound.
                    while connections.try_join_next().is_some() {}
                }
                _ = &mut signal => break,
                _ = until_set(&mut stop) => break,
            }
        }
        drop(listener);
        let _ = self.shutdown.send(true);
        let drained = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.abort_all();
        }
        if let Some(p) = self.pusher.take() {
            tokio::task::spawn_blocking(move || p.stop()).await.ok();
        }
        Ok(())
    }
}

/// Accept failures, logged at most once a second so a descriptor shortage does not flood
/// the log.
#[derive(Default)]
struct AcceptErrors {
    last_log: Option<std::time::Instant>,
    since_log: u64,
}

impl AcceptErrors {
    /// Records `e`; whether the accept loop should pause before trying again.
    fn pause(&mut self, e: &std::io::Error, live: usize) -> bool {
        self.since_log += 1;
        if self.last_log.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
            eprintln!("accept failed {} time(s), last: {e} ({live} connections open)", self.since_log);
            self.last_log = Some(std::time::Instant::now());
            self.since_log = 0;
        }
        conn::is_exhaustion(e)
    }
}

/// Resolves once the flag is (or was already) set.
pub(crate) async fn until_set(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(p) = self.pusher.take() {
            p.stop();
        }
    }
}
