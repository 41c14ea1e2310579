//! MONITOR: every executed command, streamed to the monitoring clients
//! in Redis's line format.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::pubsub::Subscriber;
use crate::config::BufferLimit;

/// Clients in MONITOR mode.
#[derive(Default)]
pub struct Monitors {
    subs: Mutex<Vec<Arc<Subscriber>>>,
    count: AtomicUsize,
}

/// Appends `arg` quoted like Redis's `sdscatrepr`.
fn push_quoted(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Whether argument `i` is a secret MONITOR and SLOWLOG must not show
/// (AUTH's arguments, HELLO's AUTH credentials, ACL SETUSER's rules).
pub fn redacted(args: &[&[u8]], i: usize) -> bool {
    let name = args[0];
    if name.eq_ignore_ascii_case(b"auth") {
        return i >= 1;
    }
    if name.eq_ignore_ascii_case(b"acl") {
        return i >= 2 && args[1].eq_ignore_ascii_case(b"setuser");
    }
    name.eq_ignore_ascii_case(b"hello")
        && i >= 2
        && (args[i - 1].eq_ignore_ascii_case(b"auth")
            || (i >= 3 && args[i - 2].eq_ignore_ascii_case(b"auth")))
}

impl Monitors {
    /// Adds a monitoring client.
    pub fn add(&self, sub: Arc<Subscriber>) {
        let mut subs = self.subs.lock();
        subs.push(sub);
        self.count.store(subs.len(), Ordering::Relaxed);
    }

    /// Removes a monitoring client.
    pub fn remove(&self, id: u64) {
        let mut subs = self.subs.lock();
        subs.retain(|s| s.id() != id);
        self.count.store(subs.len(), Ordering::Relaxed);
    }

    /// Whether anyone is monitoring (checked per command, so it is cheap).
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Sends one executed command to every monitor.
    pub fn feed(&self, time_us: u64, db: usize, addr: &str, args: &[&[u8]], limit: BufferLimit) {
        let mut line = format!(
            "+{}.{:06} [{db} {addr}]",
            time_us / 1_000_000,
            time_us % 1_000_000
        )
        .into_bytes();
        for (i, arg) in args.iter().enumerate() {
            line.push(b' ');
            if redacted(args, i) {
                line.extend_from_slice(b"\"(redacted)\"");
            } else {
                push_quoted(&mut line, arg);
            }
        }
        line.extend_from_slice(b"\r\n");
        for sub in self.subs.lock().iter() {
            sub.send_raw(line.clone(), limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_redaction_match_redis() {
        let mut out = Vec::new();
        push_quoted(&mut out, b"a\x00b\"x\"\n\\");
        assert_eq!(out, b"\"a\\x00b\\\"x\\\"\\n\\\\\"");
        let args: [&[u8]; 5] = [b"HELLO", b"3", b"AUTH", b"default", b"pw"];
        let hidden: Vec<bool> = (0..5).map(|i| redacted(&args, i)).collect();
        assert_eq!(hidden, [false, false, false, true, true]);
    }
}
