//! Standard output for one log line per request, without a system call or a thread
//! wake-up on the request's thread.
//!
//! Writing each line to stdout makes a `write` per request, and handing each line to a
//! writer thread (`tracing-appender`) makes a wake-up per request: on two cores either one
//! costs as much CPU as the rest of a `/healthz` request (docs/performance.md). Here a
//! request only appends its line to a shared buffer under a short lock; a background
//! thread writes whatever has gathered every [`FLUSH_EVERY`], in one `write`, or sooner
//! when [`WAKE_AT`] bytes are waiting: one wake-up per few dozen requests under load.
//!
//! The writes themselves stay on that thread. A request thread writing a batch into a pipe
//! (stdout in a container) blocks whenever the reader is behind, and a tokio worker that
//! blocks stalls every connection it serves.
//!
//! Nothing is dropped: a request that finds [`FLUSH_AT`] bytes waiting, because the
//! output is slower than the lines coming in, writes them itself (the same back-pressure
//! as writing directly), and dropping the [`FlushGuard`] writes what is left. Batches are
//! written under the output's lock in the order they were taken, so lines keep their
//! order.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// This much waiting wakes the flushing thread before its time: half a pipe's default
/// capacity, so that a batch usually fits in the pipe in one `write`.
pub const WAKE_AT: usize = 32 * 1024;
/// A request that finds this much waiting writes it out itself: the flushing thread is
/// behind, because the output is.
pub const FLUSH_AT: usize = 256 * 1024;

/// What the buffer starts with, and what a spare keeps between flushes.
const INITIAL_CAPACITY: usize = 64 * 1024;

struct Shared {
    buffer: Mutex<Vec<u8>>,
    out: Mutex<Output>,
    stopping: AtomicBool,
    /// The flushing thread, to wake early (set once it is spawned).
    flusher: OnceLock<Thread>,
}

/// The output, and the buffer that takes the place of the one being written: the two
/// buffers swap at every flush, so a steady stream of lines allocates nothing. (Taking the
/// buffer and starting an empty one made the next 20 ms of lines grow a new one by
/// doubling, and the old one freed after the write: a few hundred KiB allocated and freed
/// 50 times a second, which showed as RSS swinging by a third under a steady load.)
struct Output {
    sink: Box<dyn Write + Send>,
    spare: Vec<u8>,
}

/// A poisoned lock only means a thread panicked mid-log: the bytes are still usable.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Writes out everything gathered so far. Write errors are ignored, as the `tracing`
    /// writers do: a log reader going away must not stop the service.
    fn flush(&self) {
        let mut out = lock(&self.out);
        let Output { sink, spare } = &mut *out;
        debug_assert!(spare.is_empty());
        std::mem::swap(spare, &mut *lock(&self.buffer));
        if !spare.is_empty() {
            let _ = sink.write_all(spare);
            let _ = sink.flush();
        }
        spare.clear();
        // A burst may have grown it far beyond a steady 20 ms of lines: give that back.
        if spare.capacity() > 4 * FLUSH_AT {
            spare.shrink_to(INITIAL_CAPACITY);
        }
    }

    fn append(&self, line: &[u8]) {
        let (before, after) = {
            let mut buffer = lock(&self.buffer);
            let before = buffer.len();
            buffer.extend_from_slice(line);
            (before, buffer.len())
        };
        if after >= FLUSH_AT {
            self.flush();
        } else if before < WAKE_AT && after >= WAKE_AT {
            // Only the line that crosses the mark wakes it. (`unpark` is never lost: a
            // thread not yet parked returns from its next park at once.)
            if let Some(flusher) = self.flusher.get() {
                flusher.unpark();
            }
        }
    }
}

/// The `MakeWriter` to give [`super::init`]. Cheap to clone.
#[derive(Clone)]
pub struct BatchedWriter(Arc<Shared>);

/// Keep until exit: dropping it stops the flushing thread and writes what is left.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A batched writer over `out`, with its flushing thread started.
pub fn batched(out: Box<dyn Write + Send>) -> io::Result<(BatchedWriter, FlushGuard)> {
    let shared = Arc::new(Shared {
        buffer: Mutex::new(Vec::with_capacity(INITIAL_CAPACITY)),
        out: Mutex::new(Output {
            sink: out,
            spare: Vec::with_capacity(INITIAL_CAPACITY),
        }),
        stopping: AtomicBool::new(false),
        flusher: OnceLock::new(),
    });
    let worker = shared.clone();
    let thread = std::thread::Builder::new()
        .name("vodsign-log".to_owned())
        .spawn(move || {
            while !worker.stopping.load(Ordering::Acquire) {
                // Returns after FLUSH_EVERY, when woken, or (rarely) for no reason: each
                // only means an early flush.
                std::thread::park_timeout(FLUSH_EVERY);
                worker.flush();
            }
        })?;
    let _ = shared.flusher.set(thread.thread().clone());
    Ok((
        BatchedWriter(shared.clone()),
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// Standard output, batched. Falls back to `std::io::stdout()` off Unix.
pub fn stdout() -> io::Result<(BatchedWriter, FlushGuard)> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        // Our own handle on descriptor 1: `std::io::stdout()` would add a line buffer
        // that flushes on every newline.
        let fd = io::stdout().as_fd().try_clone_to_owned()?;
        batched(Box::new(std::fs::File::from(fd)))
    }
    #[cfg(not(unix))]
    batched(Box::new(io::stdout()))
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        self.shared.flush();
    }
}

/// One event's writer: `tracing` formats a whole line, then writes it in one call.
pub struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.append(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn written(sink: &Sink) -> String {
        String::from_utf8_lossy(&lock(&sink.0)).into_owned()
    }

    #[test]
    fn lines_arrive_in_order_and_all_are_written_by_the_guard() {
        let sink = Sink::default();
        let (writer, guard) = batched(Box::new(sink.clone())).expect("thread starts");
        for i in 0..1000 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .expect("append");
        }
        drop(guard);
        let text = written(&sink);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(i, l)| *l == format!("line {i}"))
        );
    }

    #[test]
    fn the_thread_writes_without_being_asked() {
        let sink = Sink::default();
        let (writer, _guard) = batched(Box::new(sink.clone())).expect("thread starts");
        writer.make_writer().write_all(b"hello\n").expect("append");
        for _ in 0..100 {
            if written(&sink) == "hello\n" {
                return;
            }
            std::thread::sleep(FLUSH_EVERY);
        }
        panic!("the line was not written within 100 flush periods");
    }

    #[test]
    fn flushing_swaps_the_two_buffers_instead_of_allocating_new_ones() {
        let sink = Sink::default();
        let (writer, guard) = batched(Box::new(sink.clone())).expect("thread starts");
        let line = vec![b'x'; 1000];
        for round in 0..5 {
            for _ in 0..100 {
                writer.make_writer().write_all(&line).expect("append");
            }
            guard.shared.flush();
            let out = lock(&guard.shared.out);
            assert!(
                out.spare.is_empty(),
                "round {round}: the written batch is cleared"
            );
            // (The flushing thread may have taken part of the round: each buffer then held
            // only part of it, but neither was ever replaced by a new, empty one.)
            assert!(
                out.spare.capacity() >= INITIAL_CAPACITY,
                "round {round}: the written batch keeps its capacity as the spare"
            );
            assert!(
                lock(&guard.shared.buffer).capacity() >= INITIAL_CAPACITY,
                "round {round}: the buffer taking lines is the old spare, not a new one"
            );
        }
        drop(guard);
        assert_eq!(
            lock(&sink.0).len(),
            5 * 100 * line.len(),
            "every byte written once"
        );
    }

    /// An output that records which thread wrote each batch.
    #[derive(Clone, Default)]
    struct Writers(Arc<Mutex<Vec<(String, usize)>>>);

    impl Write for Writers {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            lock(&self.0).push((name, data.len()));
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn batches_below_the_cap_are_written_by_the_flushing_thread() {
        let sink = Writers::default();
        let (writer, _guard) = batched(Box::new(sink.clone())).expect("thread starts");
        let line = vec![b'x'; 1024];
        // Past the wake-up mark, below the cap: the request only appends.
        for _ in 0..(WAKE_AT / line.len() + 8) {
            writer.make_writer().write_all(&line).expect("append");
        }
        for _ in 0..100 {
            let batches = lock(&sink.0).clone();
            if batches.iter().map(|(_, n)| n).sum::<usize>() == WAKE_AT + 8 * line.len() {
                assert!(
                    batches.iter().all(|(name, _)| name == "vodsign-log"),
                    "written by {batches:?}"
                );
                return;
            }
            std::thread::sleep(FLUSH_EVERY);
        }
        panic!("the lines were not written within 100 flush periods");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_request_itself() {
        let sink = Sink::default();
        let (writer, _guard) = batched(Box::new(sink.clone())).expect("thread starts");
        let big = vec![b'x'; FLUSH_AT];
        writer.make_writer().write_all(&big).expect("append");
        assert_eq!(lock(&sink.0).len(), FLUSH_AT, "written at once, not later");
    }
}
