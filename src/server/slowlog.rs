//! The slow log (SLOWLOG): commands that ran longer than
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len` entries.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Redis keeps at most this many arguments of a command.
const MAX_ARGC: usize = 32;
/// Redis keeps at most this many bytes of an argument.
const MAX_STRING: usize = 128;

/// One logged command.
pub struct Entry {
    /// Unique, increasing id (not reset by SLOWLOG RESET).
    pub id: u64,
    /// Unix time (seconds) the command was logged.
    pub time: u64,
    /// Execution time in microseconds.
    pub duration_us: u64,
    /// The arguments, truncated as Redis does.
    pub args: Vec<Vec<u8>>,
    /// `ip:port` of the client.
    pub addr: String,
    /// The client's name (empty if none).
    pub name: Vec<u8>,
}

/// The slow log with its settings.
pub struct SlowLog {
    /// `slowlog-log-slower-than` (negative disables logging).
    threshold_us: AtomicI64,
    /// `slowlog-max-len`.
    max_len: AtomicUsize,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for SlowLog {
    fn default() -> Self {
        Self {
            threshold_us: AtomicI64::new(-1),
            max_len: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

/// Copies at most [`MAX_ARGC`] arguments of at most [`MAX_STRING`] bytes,
/// with Redis's "... (N more …)" markers.
fn truncated_args(args: &[&[u8]]) -> Vec<Vec<u8>> {
    let kept = args.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(kept);
    for (i, arg) in args[..kept].iter().enumerate() {
        if super::monitor::redacted(args, i) {
            out.push(b"(redacted)".to_vec());
        } else if kept != args.len() && i == kept - 1 {
            let more = args.len() - kept + 1;
            out.push(format!("... ({more} more arguments)").into_bytes());
        } else if arg.len() > MAX_STRING {
            let mut a = arg[..MAX_STRING].to_vec();
            a.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_STRING).as_bytes());
            out.push(a);
        } else {
            out.push(arg.to_vec());
        }
    }
    out
}

impl SlowLog {
    /// Applies `slowlog-log-slower-than` and `slowlog-max-len`.
    pub fn configure(&self, threshold_us: i64, max_len: usize) {
        self.threshold_us.store(threshold_us, Ordering::Relaxed);
        self.max_len.store(max_len, Ordering::Relaxed);
        self.entries.lock().truncate(max_len);
    }

    /// Whether a command that took `duration_us` goes to the log (cheap:
    /// two relaxed loads).
    pub fn wants(&self, duration_us: u64) -> bool {
        let threshold = self.threshold_us.load(Ordering::Relaxed);
        threshold >= 0
            && duration_us >= threshold as u64
            && self.max_len.load(Ordering::Relaxed) > 0
    }

    /// Logs a command.
    pub fn push(&self, args: &[&[u8]], duration_us: u64, time: u64, addr: &str, name: &[u8]) {
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time,
            duration_us,
            args: truncated_args(args),
            addr: addr.to_string(),
            name: name.to_vec(),
        };
        let max_len = self.max_len.load(Ordering::Relaxed);
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(max_len);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn reset(&self) {
        self.entries.lock().clear();
    }

    /// Calls `f` with the newest `count` entries, newest first.
    pub fn with_newest<R>(&self, count: usize, f: impl FnOnce(&[&Entry]) -> R) -> R {
        let entries = self.entries.lock();
        let newest: Vec<&Entry> = entries.iter().take(count).collect();
        f(&newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_arguments_and_lists_are_truncated_like_redis() {
        let long = vec![b'x'; 130];
        let args = truncated_args(&[b"set", &long]);
        assert_eq!(args[1].len(), 128 + "... (2 more bytes)".len());
        assert!(args[1].ends_with(b"... (2 more bytes)"));
        let many: Vec<&[u8]> = (0..40).map(|_| &b"a"[..]).collect();
        let args = truncated_args(&many);
        assert_eq!(args.len(), 32);
        assert_eq!(args[31], b"... (9 more arguments)");
    }

    #[test]
    fn threshold_and_max_len() {
        let log = SlowLog::default();
        assert!(!log.wants(1_000_000));
        log.configure(10, 2);
        assert!(!log.wants(9));
        assert!(log.wants(10));
        for i in 0..3u64 {
            log.push(&[b"ping"], i, 0, "a", b"");
        }
        assert_eq!(log.len(), 2);
        let ids: Vec<u64> = log.with_newest(10, |e| e.iter().map(|e| e.id).collect());
        assert_eq!(ids, vec![2, 1]);
    }
}
