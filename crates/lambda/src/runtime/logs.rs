//! An environment's log: the lines its process writes to stdout and stderr (one log event per
//! `\n`-terminated line) and the platform's lines, in order, with this invocation's part kept for
//! `LogType=Tail`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use lb_core::Clock;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::sync::{mpsc, oneshot};

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub timestamp_millis: u64,
    pub message: String,
}

/// Where an environment's log events go (its log stream).
pub type LogFn = Arc<dyn Fn(LogLine) + Send + Sync>;

/// A line longer than this is cut into several events (CloudWatch Logs' event limit is 256 KB;
/// Lambda cuts long lines too).
const MAX_LINE: usize = 256 * 1024 - 26;

/// The most of one invocation's log kept for `LogType=Tail` (AWS returns its last 4 KB).
const TAIL_KEEP: usize = 64 * 1024;

struct Inner {
    sink: LogFn,
    clock: Arc<dyn Clock>,
    /// This invocation's log so far, while one is open.
    tail: Mutex<Option<String>>,
}

impl Inner {
    fn line(&self, text: &str) {
        if let Some(t) = self.tail.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            t.push_str(text);
            t.push('\n');
            if t.len() > TAIL_KEEP * 2 {
                let mut cut = t.len() - TAIL_KEEP;
                while !t.is_char_boundary(cut) {
                    cut += 1;
                }
                t.drain(..cut);
            }
        }
        (self.sink)(LogLine {
            timestamp_millis: self.clock.now_millis(),
            message: text.to_owned(),
        });
    }
}

type Flush = oneshot::Sender<()>;

pub(crate) struct Capture {
    inner: Arc<Inner>,
    flushers: Mutex<Vec<mpsc::Sender<Flush>>>,
}

impl Capture {
    pub fn new(sink: LogFn, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                sink,
                clock,
                tail: Mutex::new(None),
            }),
            flushers: Mutex::new(Vec::new()),
        }
    }

    /// A platform line (`INIT_START`, `END`, ...).
    pub fn platform(&self, text: &str) {
        self.inner.line(text);
    }

    /// Opens an invocation's log with its `START` line.
    pub fn begin(&self, start: &str) {
        *self.inner.tail.lock().unwrap_or_else(PoisonError::into_inner) = Some(String::new());
        self.inner.line(start);
    }

    /// Closes the invocation's log with its `REPORT` line; the invocation's log text.
    pub fn end(&self, report: &str) -> String {
        self.inner.line(report);
        self.inner
            .tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }

    /// Reads `reader` (the process's stdout or stderr) into the log until it closes.
    pub fn pump<R: AsyncRead + Unpin + Send + 'static>(&self, reader: R) {
        let (tx, rx) = mpsc::channel(4);
        self.flushers.lock().unwrap_or_else(PoisonError::into_inner).push(tx);
        tokio::spawn(pump(reader, Arc::clone(&self.inner), rx));
    }

    /// Waits until what the process has written so far is in the log (each pipe reads what is
    /// ready and answers). A pipe whose reader has ended answers at once.
    pub async fn drain(&self) {
        let flushers: Vec<_> = self.flushers.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for f in flushers {
            let (ack, done) = oneshot::channel();
            if f.send(ack).await.is_ok() {
                // Bounded: a reader stuck on a huge write must not hold the invocation.
                let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
            }
        }
    }
}

async fn pump<R: AsyncRead + Unpin>(mut reader: R, inner: Arc<Inner>, mut flush: mpsc::Receiver<Flush>) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut open = true;
    while open {
        tokio::select! {
            biased;
            read = reader.read_buf(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => open = false,
                    Ok(_) => emit_lines(&mut buf, &inner),
                }
            }
            Some(ack) = flush.recv() => {
                // Everything the process wrote before it answered is in the pipe already.
                while let Some(Ok(n)) = reader.read_buf(&mut buf).now_or_never() {
                    if n == 0 {
                        open = false;
                        break;
                    }
                    emit_lines(&mut buf, &inner);
                }
                let _ = ack.send(());
            }
        }
    }
    if !buf.is_empty() {
        let rest = String::from_utf8_lossy(&buf).into_owned();
        inner.line(&rest);
    }
    // Later flush requests find the channel closed and do not wait.
    drop(flush);
}

/// Emits every complete line in `buf` (and cuts over-long ones), keeping the incomplete rest.
fn emit_lines(buf: &mut Vec<u8>, inner: &Inner) {
    let mut start = 0;
    while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
        let line = &buf[start..start + pos];
        inner.line(&String::from_utf8_lossy(line));
        start += pos + 1;
    }
    buf.drain(..start);
    while buf.len() > MAX_LINE {
        let head: Vec<u8> = buf.drain(..MAX_LINE).collect();
        inner.line(&String::from_utf8_lossy(&head));
    }
}
