//! Per-connection deadlines: the IO wrapper that records progress, and the watchdog that
//! closes a connection idle beyond the deadline of its current state.
//!
//! hyper bounds the request head of HTTP/1 (`header_read_timeout`), but nothing in hyper or
//! hyper-util bounds a connection that sends nothing (the auto builder's protocol detection
//! waits forever), part of the HTTP/2 preface, an idle HTTP/2 connection, or a client that
//! stops reading. The states and their deadlines:
//!
//! - nothing read yet: `first_byte` from the start (after the TLS handshake, if any);
//! - bytes read but no request yet (a partial preface or head): `header` from the first byte;
//! - no request in flight after one: `idle` from the end of the last one;
//! - a write that makes no progress: `write`, whatever the state.
//!
//! A request in flight is bounded by `server.request_timeout_ms` in the router.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Marks an instant not reached yet.
const NEVER: u64 = u64::MAX;

/// The deadlines of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub first_byte: Duration,
    pub header: Duration,
    pub idle: Duration,
    pub write: Duration,
}

impl Deadlines {
    /// How often the watchdog looks again: state changes can bring a deadline closer.
    fn tick(&self) -> Duration {
        let shortest = self
            .first_byte
            .min(self.header)
            .min(self.idle)
            .min(self.write);
        (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    FirstByte,
    Header,
    Idle,
    Write,
}

impl Expired {
    /// The `reason` label of `vodsign_connections_closed_total`.
    pub fn label(self) -> &'static str {
        match self {
            Self::FirstByte => "first_byte",
            Self::Header => "header",
            Self::Idle => "idle",
            Self::Write => "write",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstByte => "no first byte",
            Self::Header => "no complete request",
            Self::Idle => "idle",
            Self::Write => "client not reading",
        }
    }
}

/// What the connection did, in milliseconds since `start`; shared by the IO wrapper, the
/// service (requests in flight) and the watchdog.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    first_byte: AtomicU64,
    requests_seen: AtomicU64,
    in_flight: AtomicUsize,
    last_request_end: AtomicU64,
    write_blocked_since: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            first_byte: AtomicU64::new(NEVER),
            requests_seen: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_request_end: AtomicU64::new(0),
            write_blocked_since: AtomicU64::new(NEVER),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    /// Marks a request started; the guard marks it finished when dropped.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.requests_seen.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard(self.clone())
    }

    /// The deadline of the current state, in ms since `start`.
    fn deadline(&self, limits: &Deadlines) -> Option<(u64, Expired)> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NEVER / 2);
        let mut next: Option<(u64, Expired)> = None;
        let mut consider = |at: u64, why: Expired| {
            if next.is_none_or(|(current, _)| at < current) {
                next = Some((at, why));
            }
        };
        let blocked = self.write_blocked_since.load(Ordering::Acquire);
        if blocked != NEVER {
            consider(blocked.saturating_add(ms(limits.write)), Expired::Write);
        }
        if self.in_flight.load(Ordering::Acquire) == 0 {
            if self.requests_seen.load(Ordering::Relaxed) == 0 {
                let first = self.first_byte.load(Ordering::Acquire);
                if first == NEVER {
                    consider(ms(limits.first_byte), Expired::FirstByte);
                } else {
                    consider(first.saturating_add(ms(limits.header)), Expired::Header);
                }
            } else {
                let end = self.last_request_end.load(Ordering::Acquire);
                consider(end.saturating_add(ms(limits.idle)), Expired::Idle);
            }
        }
        next
    }

    /// Resolves when the connection has passed the deadline of its state.
    pub async fn expired(&self, limits: Deadlines) -> Expired {
        let tick = limits.tick();
        loop {
            let now = self.now_ms();
            let wake = match self.deadline(&limits) {
                Some((at, why)) if now >= at => return why,
                Some((at, _)) => Duration::from_millis(at - now).min(tick),
                None => tick,
            };
            tokio::time::sleep(wake).await;
        }
    }

    fn read_progress(&self) {
        if self.first_byte.load(Ordering::Relaxed) == NEVER {
            self.first_byte.store(self.now_ms(), Ordering::Release);
        }
    }

    fn write_pending(&self) {
        if self.write_blocked_since.load(Ordering::Relaxed) == NEVER {
            self.write_blocked_since
                .store(self.now_ms(), Ordering::Release);
        }
    }

    fn write_progress(&self) {
        self.write_blocked_since.store(NEVER, Ordering::Release);
    }
}

/// Held while a request is served; its drop (response ready, or the request cancelled)
/// starts the idle deadline.
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0
            .last_request_end
            .store(self.0.now_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The connection's IO, recording the first byte read and writes that wait.
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_progress();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> Watched<S> {
    fn track<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match &polled {
            Poll::Pending => self.activity.write_pending(),
            Poll::Ready(_) => self.activity.write_progress(),
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.track(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.track(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.track(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.track(polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn limits(ms: u64) -> Deadlines {
        let d = Duration::from_millis(ms);
        Deadlines {
            first_byte: d,
            header: d,
            idle: Duration::from_secs(3600),
            write: d,
        }
    }

    #[tokio::test]
    async fn a_writer_whose_peer_stops_reading_expires() {
        let (ours, _theirs) = tokio::io::duplex(1024);
        let activity = Activity::new();
        let _request = activity.request(); // in flight: only the write deadline applies
        let mut io = Watched::new(ours, activity.clone());
        let writing = async {
            loop {
                io.write_all(&[0u8; 4096]).await.expect("duplex open");
            }
        };
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::select! {
                () = writing => unreachable!("the peer never reads"),
                why = activity.expired(limits(200)) => why,
            }
        })
        .await
        .expect("the watchdog fires");
        assert_eq!(outcome, Expired::Write);
    }

    #[tokio::test]
    async fn a_reading_peer_keeps_the_writer_alive() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let activity = Activity::new();
        let _request = activity.request();
        let mut io = Watched::new(ours, activity.clone());
        let drain = tokio::spawn(async move {
            let mut sink = vec![0u8; 4096];
            while theirs.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
        let writing = async {
            for _ in 0..200 {
                io.write_all(&[0u8; 4096]).await.expect("duplex open");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        tokio::select! {
            () = writing => {}
            why = activity.expired(limits(200)) => panic!("expired while the peer read: {why:?}"),
        }
        drop(io);
        drain.await.expect("drained");
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_expires_then_one_idle_after_a_request() {
        let activity = Activity::new();
        let why = tokio::time::timeout(Duration::from_secs(5), activity.expired(limits(100)))
            .await
            .expect("fires");
        assert_eq!(why, Expired::FirstByte);
        let activity = Activity::new();
        drop(activity.request());
        let mut short = limits(100);
        short.idle = Duration::from_millis(100);
        let why = tokio::time::timeout(Duration::from_secs(5), activity.expired(short))
            .await
            .expect("fires");
        assert_eq!(why, Expired::Idle);
    }
}
