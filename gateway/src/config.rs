//! What the gateway needs to know besides the runtime: currencies (for decimal amounts),
//! token lifetime, signature window, push buffer sizes, the limits it holds every client to,
//! and the configuration it applies to a new data folder.

use croupier_domain::command::{GameDef, Settings};
use croupier_domain::{Code, Command};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Currencies and their minor-unit exponents; the first is the default of requests that
    /// name none.
    pub currencies: Vec<(String, u8)>,
    /// Games defined at start if the data folder does not have them.
    pub games: Vec<GameDef>,
    /// Lifetime of a player token issued by `POST /api/sessions`.
    pub token_ttl_ms: u64,
    /// Push messages kept per shard for clients that resume.
    pub push_buffer: usize,
    /// Messages queued per WebSocket client before it is dropped as too slow.
    pub ws_queue: usize,
    /// Platform recorded on bets that name none.
    pub default_platform: String,
    /// How far, either way, an operator request's `X-Croupier-Timestamp` may be from the
    /// server clock (`STALE_TIMESTAMP` beyond): the replay window of a captured request.
    pub signature_window_ms: u64,
    /// How long a WebSocket without an `Authorization` header has to send its `auth` message.
    pub ws_auth_timeout_ms: u64,
    /// What one client may cost the server: timeouts, connections, sizes.
    pub limits: Limits,
    /// The lobby's live bet feed: sampling, big wins, batches, history.
    pub activity: crate::activity::ActivityConfig,
}

/// Every limit a client meets, each answered with a JSON error (see `ARCHITECTURE.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A request head must arrive whole within this time (slowloris). hyper runs this timer
    /// whenever it waits for a head, so it also ends a kept-alive connection that sends no
    /// next request. The connection is closed (no answer: there is no request to answer).
    pub header_timeout: Duration,
    /// A request body must arrive whole within this time: 408 `REQUEST_TIMEOUT`.
    pub body_timeout: Duration,
    /// A connection on which no byte moved either way for this long is closed (a client that
    /// stopped reading its answers, a stalled exchange). Upgraded WebSockets are exempt.
    pub idle_timeout: Duration,
    /// Connections served at once, WebSockets included; one more is answered 503
    /// `TOO_MANY_CONNECTIONS` and closed. `croupier serve` keeps it below the descriptor limit.
    pub max_connections: usize,
    /// Largest request body: 413 `BODY_TOO_LARGE`.
    pub max_body_bytes: usize,
    /// Largest WebSocket frame and message a client may send: `MESSAGE_TOO_LARGE`, then close.
    pub ws_max_frame_bytes: usize,
    pub ws_max_message_bytes: usize,
    /// Topics in one subscribe, and on one connection in all: `TOO_MANY_TOPICS`.
    pub ws_max_topics: usize,
    /// Most buffered messages one resume replays per shard; a client further behind is told
    /// to `reload`.
    pub ws_max_replay: usize,
    /// Game actions one WebSocket may have in flight at once; one more is answered
    /// `TOO_MANY_IN_FLIGHT` with its `request_id` and not played.
    pub ws_max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_body_bytes: 1 << 20,
            ws_max_frame_bytes: 64 << 10,
            ws_max_message_bytes: 64 << 10,
            ws_max_topics: 64,
            ws_max_replay: 8_192,
            ws_max_in_flight: 256,
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            currencies: vec![("CNY".into(), 2)],
            games: vec![baccarat()],
            token_ttl_ms: 24 * 3_600_000,
            push_buffer: 65_536,
            ws_queue: 4_096,
            default_platform: "web".into(),
            signature_window_ms: crate::auth::DEFAULT_SIGNATURE_WINDOW_MS,
            ws_auth_timeout_ms: 10_000,
            limits: Limits::default(),
            activity: Default::default(),
        }
    }
}

impl GatewayConfig {
    /// The exponent of `code`, if the gateway knows the currency.
    pub fn exponent(&self, code: &str) -> Option<u8> {
        self.currencies.iter().find(|(c, _)| c == code).map(|(_, e)| *e)
    }

    pub fn default_currency(&self) -> &str {
        self.currencies.first().map_or("CNY", |(c, _)| c.as_str())
    }

    /// The commands that configure a new data folder: settings, currencies, games.
    pub fn setup_commands(&self) -> Vec<Command> {
        let mut v = vec![Command::Configure(Settings::default())];
        for (code, exponent) in &self.currencies {
            if let Ok(code) = Code::new(code) {
                v.push(Command::DefineCurrency { code, exponent: *exponent });
            }
        }
        v.extend(self.games.iter().cloned().map(Command::DefineGame));
        let instant = crate::instant::default_config(&self.currencies);
        v.push(Command::Instant(croupier_domain::instant::InstantCommand::Configure(Box::new(instant))));
        v
    }
}

/// Seed 000's baccarat: banker 1.95, player 2.00, tie 8.00 (selections 0, 1, 2); stakes 1.00
/// to 10,000.00 CNY; a 15 s betting window.
pub fn baccarat() -> GameDef {
    croupier_domain::games::baccarat(croupier_domain::games::default_limits())
}
