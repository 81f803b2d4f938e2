//! Accepting and serving connections under [`Limits`]: a cap on live connections (one more is
//! answered a minimal 503 `TOO_MANY_CONNECTIONS` and closed, never left unanswered), hyper's
//! header read timeout, an idle watchdog, and an accept loop that backs off when the process
//! is out of descriptors instead of dying or spinning.

use crate::config::Limits;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Counts live connections against a cap.
pub(crate) struct Slots {
    live: AtomicUsize,
    cap: usize,
}

/// One taken place in [`Slots`], given back when dropped.
pub(crate) struct Slot(Arc<Slots>);

impl Slots {
    pub(crate) fn new(cap: usize) -> Arc<Slots> {
        Arc::new(Slots { live: AtomicUsize::new(0), cap })
    }

    pub(crate) fn try_take(self: &Arc<Self>) -> Option<Slot> {
        self.live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.cap).then_some(n + 1)).ok()?;
        Some(Slot(self.clone()))
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Milliseconds since the process's first use of it: a clock an atomic can hold.
fn now_ms() -> u64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    START.elapsed().as_millis() as u64
}

/// A served socket. It keeps its [`Slot`] for as long as it lives, which after a WebSocket
/// upgrade is the session's lifetime (hyper hands this very socket to the upgrade), and
/// stamps every read or write that moved bytes for the idle watchdog.
struct Tracked {
    tcp: TcpStream,
    last_io_ms: Arc<AtomicU64>,
    _slot: Slot,
}

impl Tracked {
    fn moved(&self, bytes: usize) {
        if bytes > 0 {
            self.last_io_ms.store(now_ms(), Ordering::Relaxed);
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.tcp).poll_read(cx, buf);
        self.moved(buf.filled().len() - before);
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = r {
            self.moved(n);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.moved(n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Serves one connection until it ends, stays idle too long, or the server stops.
pub(crate) async fn serve(tcp: TcpStream, slot: Slot, router: Router, limits: Limits, mut stop: watch::Receiver<bool>) {
    // Answers are small and latency matters: no Nagle delay (with pipelined requests it
    // would hold each answer until the previous one is acked).
    let _ = tcp.set_nodelay(true);
    let last_io_ms = Arc::new(AtomicU64::new(now_ms()));
    let io = Tracked { tcp, last_io_ms: last_io_ms.clone(), _slot: slot };
    let service = hyper_util::service::TowerToHyperService::new(router);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .pipeline_flush(true)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        // Dropping the connection closes its socket, whatever it was waiting for.
        _ = idle(&last_io_ms, limits.idle_timeout) => {}
        _ = crate::until_set(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once no byte has moved for `timeout`.
async fn idle(last_io_ms: &AtomicU64, timeout: Duration) {
    let timeout_ms = timeout.as_millis() as u64;
    loop {
        let quiet = now_ms().saturating_sub(last_io_ms.load(Ordering::Relaxed));
        if quiet >= timeout_ms {
            return;
        }
        tokio::time::sleep(Duration::from_millis(timeout_ms - quiet)).await;
    }
}

/// The whole answer to a connection over the cap, written before any request is read.
static TOO_MANY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body =
        r#"{"code":"TOO_MANY_CONNECTIONS","message":"the server serves as many connections as it may; retry later"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// Refusals being written at once: each holds a descriptor for up to [`REFUSAL_TIME`].
pub(crate) const REFUSALS_AT_ONCE: usize = 64;

/// How long a refusal may take: writing the answer, then reading what the client sent until
/// it closes, so that closing does not reset the connection before the answer is read.
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// Answers a connection over the cap with 503 `TOO_MANY_CONNECTIONS` and closes it.
pub(crate) fn refuse(tcp: TcpStream, refusals: &Arc<Slots>) {
    let Some(slot) = refusals.try_take() else {
        // Already refusing many: a fresh socket's send buffer takes the answer at once; the
        // descriptor is freed now rather than held for a graceful close.
        let _ = tcp.try_write(&TOO_MANY);
        return;
    };
    tokio::spawn(async move {
        let _slot = slot;
        let _ = tokio::time::timeout(REFUSAL_TIME, answer_and_drain(tcp)).await;
    });
}

async fn answer_and_drain(mut tcp: TcpStream) -> io::Result<()> {
    tcp.write_all(&TOO_MANY).await?;
    tcp.shutdown().await?;
    let mut sink = [0u8; 1024];
    while tcp.read(&mut sink).await? > 0 {}
    Ok(())
}

/// Whether an accept error means the process (or system) is out of a resource that frees up
/// as connections close: worth a pause before the next accept, which would fail alike.
pub(crate) fn is_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// Pause after an accept failed for want of descriptors or memory.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
