//! Prometheus metrics at `/metrics`: requests and latencies per route and status, rejects by
//! code, ring depth and journal (push) lag per shard, WebSocket drops.

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

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

type Counters<K> = RwLock<HashMap<K, Arc<AtomicU64>>>;

#[derive(Default)]
pub struct Metrics {
    /// (route, status) → count.
    requests: Counters<(Arc<str>, u16)>,
    latency: RwLock<HashMap<Arc<str>, Arc<Histogram>>>,
    rejects: Counters<&'static str>,
}

fn counter<K: std::hash::Hash + Eq + Clone, V: Default>(map: &RwLock<HashMap<K, Arc<V>>>, key: &K) -> Arc<V> {
    if let Some(v) = map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return v.clone();
    }
    map.write().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default().clone()
}

impl Metrics {
    fn record(&self, route: Arc<str>, status: u16, seconds: f64, code: Option<&'static str>) {
        counter(&self.requests, &(route.clone(), status)).fetch_add(1, Ordering::Relaxed);
        let h = counter(&self.latency, &route);
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_ns.fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
        if let Some(code) = code {
            counter(&self.rejects, &code).fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Middleware: times every request and counts it by route and status.
pub async fn track(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route: Arc<str> = match req.extensions().get::<MatchedPath>() {
        Some(p) => Arc::from(p.as_str()),
        None => Arc::from("unmatched"),
    };
    let started = Instant::now();
    let resp = next.run(req).await;
    let code = resp.extensions().get::<RejectCode>().map(|c| c.0);
    app.metrics.record(route, resp.status().as_u16(), started.elapsed().as_secs_f64(), code);
    resp
}

/// Prometheus text exposition.
pub async fn render(State(app): State<AppState>) -> Response {
    let m = &app.metrics;
    let mut s = String::new();
    let _ = writeln!(s, "# HELP croupier_http_requests_total HTTP requests by route and status.");
    let _ = writeln!(s, "# TYPE croupier_http_requests_total counter");
    for ((route, status), c) in m.requests.read().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(
            s,
            "croupier_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {}",
            c.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(s, "# HELP croupier_http_request_duration_seconds HTTP request latency by route.");
    let _ = writeln!(s, "# TYPE croupier_http_request_duration_seconds histogram");
    for (route, h) in m.latency.read().unwrap_or_else(|e| e.into_inner()).iter() {
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
    let _ = writeln!(s, "# HELP croupier_ws_dropped_total WebSocket subscribers dropped for being too slow.");
    let _ = writeln!(s, "# TYPE croupier_ws_dropped_total counter");
    let _ = writeln!(s, "croupier_ws_dropped_total {}", app.hub.dropped.load(Ordering::Relaxed));
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], s).into_response()
}
