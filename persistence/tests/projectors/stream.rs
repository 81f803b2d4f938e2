//! The JetStream projector against the real NATS server (`CROUPIER_TEST_NATS`): every event
//! lands in the stream exactly once across aborted runs, a restart and a full re-send.

use crate::common;

use common::*;
use croupier_persistence::stream::position_file;
use croupier_persistence::{StreamConfig, StreamProjector};
use std::time::Duration;

async fn stream_messages(url: &str, stream: &str) -> u64 {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.get_stream(stream).await.unwrap().get_info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_receives_every_event_once_across_restarts() {
    let url = common::service("CROUPIER_TEST_NATS");
    let dir = tempfile::tempdir().unwrap();
    let history = build_history(dir.path(), 2, 2_000, 21);
    let name = format!(
        "TEST_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000
    );
    let mut cfg = StreamConfig::new(dir.path(), url.clone());
    cfg.stream = name.clone();
    cfg.subject_prefix = format!("ct{}", name.to_lowercase());
    cfg.batch_events = 200;
    cfg.idle_poll = Duration::from_millis(2);

    // Runs dropped at arbitrary points: some messages published, their positions not stored.
    for ms in [5u64, 15, 30] {
        let h = StreamProjector::spawn(cfg.clone());
        tokio::time::sleep(Duration::from_millis(ms)).await;
        h.abort();
    }
    // A restart that follows to the end and stops cleanly.
    let h = StreamProjector::spawn(cfg.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let lag = h.lag();
        if !lag.is_empty() && lag.iter().all(|l| l.records_behind == 0) {
            break;
        }
        assert!(!h.is_finished(), "stream projector stopped: {:?}", h.errors());
        assert!(std::time::Instant::now() < deadline, "stream projector catches up: {lag:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.stop().await.unwrap();
    assert_eq!(stream_messages(&url, &name).await, history.events, "every event once");

    // Positions lost (a crash before the files were written): everything is re-sent, and
    // JetStream drops every re-send as a duplicate.
    for shard in 0..2 {
        std::fs::remove_file(position_file(dir.path(), &name, shard)).unwrap();
    }
    let r = StreamProjector::publish_all(cfg.clone()).await.unwrap();
    assert_eq!(r.published, history.events);
    assert_eq!(r.duplicates, history.events, "every re-send was recognised");
    assert_eq!(stream_messages(&url, &name).await, history.events, "still every event once");

    let client = async_nats::connect(&url).await.unwrap();
    async_nats::jetstream::new(client).delete_stream(&name).await.unwrap();
}
