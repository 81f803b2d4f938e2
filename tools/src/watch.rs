//! `croupier watch`: a minimal WebSocket client for /ws that prints every message as one
//! JSON line, so a fresh machine needs no other tool to see push.

use anyhow::{Context, Result};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Subscribe to push topics on a running `croupier serve` and print each message.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The server [default: ws://127.0.0.1:8080]
    #[arg(long, env = "CROUPIER_URL", value_name = "URL", default_value = "ws://127.0.0.1:8080")]
    pub url: String,

    /// Topics, comma-separated: bets, balance, activity (the instant games' live bet feed),
    /// round:<round_id>, packet:<sender>:<packet_id>, crash:<channel>
    #[arg(long, value_delimiter = ',', required = true)]
    pub topics: Vec<String>,

    /// A player's session token (from POST /api/sessions): sent as `Authorization: Bearer`
    /// when connecting, never in the URL
    #[arg(long, env = "CROUPIER_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: String,

    /// Resume after these positions, as SHARD=POSITION pairs, comma-separated (from the
    /// `shard` and `position` of the last message seen)
    #[arg(long, value_delimiter = ',', value_name = "SHARD=POS")]
    pub resume: Vec<String>,

    /// Stop after this many event messages [default: run until interrupted]
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

pub fn run(args: &WatchArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(watch(args))
}

async fn watch(args: &WatchArgs) -> Result<()> {
    let base = args.url.trim_end_matches('/').replacen("http://", "ws://", 1);
    let url = format!("{base}/ws");
    let mut req = url.as_str().into_client_request().with_context(|| format!("bad URL {url}"))?;
    let bearer = format!("Bearer {}", args.token.trim());
    req.headers_mut().insert("authorization", bearer.parse().context("the token is not a valid header value")?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(refused)
        .with_context(|| format!("cannot connect to {url}"))?;
    let mut resume = serde_json::Map::new();
    for r in &args.resume {
        let (shard, pos) = r.split_once('=').with_context(|| format!("--resume takes SHARD=POSITION, not {r:?}"))?;
        let pos: u64 = pos.parse().with_context(|| format!("position {pos:?}"))?;
        resume.insert(shard.to_string(), pos.into());
    }
    let sub = serde_json::json!({"op": "subscribe", "topics": args.topics, "resume": resume});
    ws.send(Message::Text(sub.to_string().into())).await?;
    let mut events = 0u64;
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg? {
            println!("{t}");
            if t.contains("\"type\":\"event\"") {
                events += 1;
                if args.count.is_some_and(|c| events >= c) {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// A refused upgrade (bad, expired or revoked token) carries the server's JSON error: show it.
fn refused(e: WsError) -> anyhow::Error {
    match e {
        WsError::Http(resp) => {
            let body = resp.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            anyhow::anyhow!("the server refused the WebSocket: {} {body}", resp.status())
        }
        other => other.into(),
    }
}
