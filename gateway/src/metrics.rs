//! Prometheus metrics at `/metrics`: requests and latencies per route and status, rejects by
//! code, ring depth, durable journal position and journal (push) lag per shard, WebSocket
//! sessions and drops.

use crate::error::RejectCode;
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// Latency buckets, seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

/// One route's figures; found by the route's path without allocating.
struct RouteStats {
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_ns: AtomicU64,
    /// Answers by status, 100..=599.
    statuses: Box<[AtomicU64]>,
}

impl Default for RouteStats {
    fn default() -> Self {
        RouteStats {
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            statuses: (100..600).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// Writes more Prometheus text (HELP, TYPE and samples) into `/metrics`: how parts that the
/// gateway does not depend on, such as the projectors, report their figures.
pub type MetricsSource = Box<dyn Fn(&mut String) + Send + Sync>;

#[derive(Default)]
pub struct Metrics {
    routes: RwLock<HashMap<Arc<str>, Arc<RouteStats>>>,
    rejects: RwLock<HashMap<&'static str, Arc<AtomicU64>>>,
    sources: RwLock<Vec<MetricsSource>>,
    /// WebSocket sessions open now (authenticated or not yet).
    pub ws_sessions: AtomicU64,
}

impl Metrics {
    /// Adds a source whose text is appended to every `/metrics` answer.
    pub fn add_source(&self, source: MetricsSource) {
        self.sources.write().unwrap_or_else(|e| e.into_inner()).push(source);
    }

    fn route(&self, route: &str) -> Arc<RouteStats> {
        if let Some(r) = self.routes.read().unwrap_or_else(|e| e.into_inner()).get(route) {
            return r.clone();
        }
        self.routes.write().unwrap_or_else(|e| e.into_inner()).entry(Arc::from(route)).or_default().clone()
    }

    fn record(&self, route: &str, status: u16, seconds: f64, code: Option<&'static str>) {
        let r = self.route(route);
        if let Some(c) = r.statuses.get(status.saturating_sub(100) as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            r.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        r.count.fetch_add(1, Ordering::Relaxed);
        r.sum_ns.fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
        if let Some(code) = code {
            let known = self.rejects.read().unwrap_or_else(|e| e.into_inner()).get(code).cloned();
            let c = known.unwrap_or_else(|| {
                self.rejects.write().unwrap_or_else(|e| e.into_inner()).entry(code).or_default().clone()
            });
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Middleware: times every request and counts it by route and status.
pub async fn track(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let code = resp.extensions().get::<RejectCode>().map(|c| c.0);
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    app.metrics.record(route, resp.status().as_u16(), started.elapsed().as_secs_f64(), code);
    resp
}

/// Prometheus text exposition.
pub async fn render(State(app): State<AppState>) -> Response {
    let m = &app.metrics;
    let mut s = String::new();
    let _ = writeln!(s, "# HELP croupier_http_requests_total HTTP requests by route and status.");
    let _ = writeln!(s, "# TYPE croupier_http_requests_total counter");
    let routes: Vec<(Arc<str>, Arc<RouteStats>)> =
        m.routes.read().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (route, r) in &routes {
        for (i, c) in r.statuses.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            if n > 0 {
                let status = i + 100;
                let _ = writeln!(s, "croupier_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
    }
    let _ = writeln!(s, "# HELP croupier_http_request_duration_seconds HTTP request latency by route.");
    let _ = writeln!(s, "# TYPE croupier_http_request_duration_seconds histogram");
    for (route, h) in &routes {
        let mut cum = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += h.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(s, "croupier_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cum}");
        }
        let count = h.count.load(Ordering::Relaxed);
        let _ = writeln!(s, "croupier_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}");
        let sum = h.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(s, "croupier_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}");
        let _ = writeln!(s, "croupier_http_request_duration_seconds_count{{route=\"{route}\"}} {count}");
    }
    let _ = writeln!(s, "# HELP croupier_rejects_total Error answers by code.");
    let _ = writeln!(s, "# TYPE croupier_rejects_total counter");
    for (code, c) in m.rejects.read().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(s, "croupier_rejects_total{{code=\"{code}\"}} {}", c.load(Ordering::Relaxed));
    }
    let _ = writeln!(s, "# HELP croupier_shard_up 1 while a shard serves, 0 once it failed (see /healthz for why).");
    let _ = writeln!(s, "# TYPE croupier_shard_up gauge");
    for (i, f) in app.engine.runtime().shard_failures().iter().enumerate() {
        let _ = writeln!(s, "croupier_shard_up{{shard=\"{i}\"}} {}", u8::from(f.is_none()));
    }
    let _ = writeln!(s, "# HELP croupier_ring_depth Commands waiting in each shard's ring.");
    let _ = writeln!(s, "# TYPE croupier_ring_depth gauge");
    for (i, d) in app.engine.runtime().ring_depths().iter().enumerate() {
        let _ = writeln!(s, "croupier_ring_depth{{shard=\"{i}\"}} {d}");
    }
    let _ = writeln!(s, "# HELP croupier_journal_lag_records Durable journal records not yet pushed, per shard.");
    let _ = writeln!(s, "# TYPE croupier_journal_lag_records gauge");
    for (i, l) in app.hub.lags().iter().enumerate() {
        let _ = writeln!(s, "croupier_journal_lag_records{{shard=\"{i}\",reader=\"push\"}} {l}");
    }
    let _ = writeln!(s, "# HELP croupier_journal_position Last durable journal record, per shard.");
    let _ = writeln!(s, "# TYPE croupier_journal_position gauge");
    for (i, w) in app.engine.runtime().durable_watches().iter().enumerate() {
        let _ = writeln!(s, "croupier_journal_position{{shard=\"{i}\"}} {}", w.durable_seq());
    }
    let _ = writeln!(s, "# HELP croupier_ws_sessions WebSocket sessions open.");
    let _ = writeln!(s, "# TYPE croupier_ws_sessions gauge");
    let _ = writeln!(s, "croupier_ws_sessions {}", m.ws_sessions.load(Ordering::Relaxed));
    let _ = writeln!(s, "# HELP croupier_ws_dropped_total WebSocket subscribers dropped for being too slow.");
    let _ = writeln!(s, "# TYPE croupier_ws_dropped_total counter");
    let _ = writeln!(s, "croupier_ws_dropped_total {}", app.hub.dropped.load(Ordering::Relaxed));
    for source in m.sources.read().unwrap_or_else(|e| e.into_inner()).iter() {
        source(&mut s);
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], s).into_response()
}
