//! The propagation stream: the commands that reproduce every change to the
//! keyspace, in the order the changes were applied, encoded as RESP for
//! the append-only file.
//!
//! Commands run on several threads at once, so the order in which they
//! finish is not the order in which they changed a key. A write command
//! therefore reserves its sequence number while it holds its shard locks
//! (when `Ctx::lock`/`Ctx::lock_command_keys` return, or at its first
//! `Ctx::modified_in`), and publishes its commands under that number
//! when it ends; the stream
//! parks entries that arrive early and encodes them strictly in sequence
//! order. Two writes to one key can't reserve out of order, because the
//! second can't lock the key before the first released it.
//!
//! Nothing here runs unless a consumer (the AOF) enabled the stream: the
//! write path only tests one relaxed atomic flag.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::Server;
use crate::command::ClientState;
use crate::replication::Replication;

/// One command to propagate, with the database it applies to.
pub type Item = (usize, Vec<Vec<u8>>);

/// Commands published together, and whether they form one transaction
/// (wrapped in MULTI … EXEC when there are several).
type Segment = (Vec<Item>, bool);

/// Per-client propagation state of the command being run.
#[derive(Default, Debug)]
pub struct ClientProp {
    /// Sequence number reserved by the running command (or transaction),
    /// 0 = none. Atomic only so that it can be reserved through a shared
    /// reference (`Ctx::lock` takes `&self`); one thread uses it.
    seq: AtomicU64,
    /// Commands collected so far (several inside EXEC).
    pub items: Vec<Item>,
    /// What the running command asked to propagate instead of its argv.
    pub custom: Option<Vec<Vec<Vec<u8>>>>,
    /// Commands propagated after the running command's own (pops of the
    /// blocked clients it served).
    pub after: Vec<Item>,
    /// The running command propagates even without changes.
    pub force: bool,
    /// Highest sequence this client published: its replies wait until the
    /// consumer made it durable.
    pub wait: Option<u64>,
}

impl ClientProp {
    /// The sequence number the running command reserved.
    #[inline]
    pub fn seq(&self) -> Option<u64> {
        match self.seq.load(Ordering::Relaxed) {
            0 => None,
            seq => Some(seq),
        }
    }

    /// Reserves the running command's sequence number.
    pub fn reserve(&self, propagation: &Propagation) {
        self.seq.store(propagation.reserve(), Ordering::Relaxed);
    }

    fn take_seq(&mut self) -> Option<u64> {
        match std::mem::take(self.seq.get_mut()) {
            0 => None,
            seq => Some(seq),
        }
    }
}

/// Encoded commands not yet taken by the consumer.
#[derive(Default)]
struct Stream {
    /// Next sequence number to encode.
    next_out: u64,
    /// Entries published ahead of an earlier, still running command.
    parked: BTreeMap<u64, Vec<Segment>>,
    /// RESP bytes waiting for the consumer.
    buf: Vec<u8>,
    /// Highest sequence number encoded into `buf` so far.
    last: u64,
    /// Database selected by the last encoded command (`None` at the start
    /// of a file: the first command is preceded by SELECT).
    db: Option<usize>,
    /// The AOF consumes `buf`.
    aof: bool,
    /// Replication consumes the stream (encoded with its own SELECTs into
    /// the backlog and the replicas' queues).
    repl: bool,
    /// Database selected by the last command of the replication stream.
    repl_db: Option<usize>,
}

/// The stream shared by every connection and the consumer.
pub struct Propagation {
    enabled: AtomicBool,
    replication: Arc<Replication>,
    next_seq: AtomicU64,
    stream: Mutex<Stream>,
    ready: Condvar,
    durable: watch::Sender<u64>,
}

impl Default for Propagation {
    fn default() -> Self {
        Self::new(Arc::default())
    }
}

impl Propagation {
    /// A stream that also feeds `replication` once replicas attach.
    pub fn new(replication: Arc<Replication>) -> Self {
        Self {
            enabled: AtomicBool::new(false),
            replication,
            next_seq: AtomicU64::new(1),
            stream: Mutex::new(Stream {
                next_out: 1,
                ..Stream::default()
            }),
            ready: Condvar::new(),
            durable: watch::Sender::new(0),
        }
    }
}

/// An owned argv from its parts (for [`Ctx::propagate_as`] rewrites).
///
/// [`Ctx::propagate_as`]: crate::command::Ctx::propagate_as
pub fn argv(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// Appends one command in RESP to `out`.
pub fn encode(out: &mut Vec<u8>, argv: &[impl AsRef<[u8]>]) {
    out.push(b'*');
    out.extend_from_slice(argv.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

impl Stream {
    /// Encodes segments for every consumer; returns the replication
    /// stream's bytes (empty when nobody replicates).
    fn append_all(&mut self, segments: Vec<Segment>) -> Vec<u8> {
        let mut repl = Vec::new();
        for (items, transaction) in segments {
            if self.aof {
                append(&mut self.buf, &mut self.db, &items, transaction);
            }
            if self.repl {
                append(&mut repl, &mut self.repl_db, &items, transaction);
            }
        }
        repl
    }
}

fn select(out: &mut Vec<u8>, selected: &mut Option<usize>, db: usize) {
    if *selected != Some(db) {
        let db_arg = db.to_string();
        encode(out, &[b"SELECT".as_slice(), db_arg.as_bytes()]);
        *selected = Some(db);
    }
}

/// Encodes one entry: several commands become one MULTI … EXEC, as
/// Redis 7.0 wraps everything one command propagates.
fn append(out: &mut Vec<u8>, selected: &mut Option<usize>, items: &[Item], transaction: bool) {
    let wrap = transaction && items.len() > 1;
    if wrap {
        select(out, selected, items[0].0);
        encode(out, &[b"MULTI"]);
    }
    for (db, argv) in items {
        select(out, selected, *db);
        encode(out, argv);
    }
    if wrap {
        encode(out, &[b"EXEC"]);
    }
}

impl Propagation {
    /// Whether a consumer wants the stream (the write path's only cost
    /// when nobody does).
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Starts or stops the AOF's consumption of the stream. Call with the
    /// keyspace gate held exclusively, so no command is between reserving
    /// and publishing. Stopping marks everything published as durable, so
    /// no client waits for a consumer that is gone.
    pub fn set_enabled(&self, on: bool) {
        let mut stream = self.stream.lock();
        stream.aof = on;
        stream.db = None;
        if !on {
            stream.buf.clear();
        }
        self.restart(&mut stream);
    }

    /// Starts or stops feeding the replication stream, which restarts
    /// with a SELECT (Redis forgets the replicas' database when a full
    /// resynchronisation starts). Same gate rule as [`set_enabled`].
    ///
    /// [`set_enabled`]: Propagation::set_enabled
    pub fn set_replicating(&self, on: bool) {
        let mut stream = self.stream.lock();
        stream.repl = on;
        stream.repl_db = None;
        self.restart(&mut stream);
    }

    /// Restarts sequencing after a consumer came or went.
    fn restart(&self, stream: &mut Stream) {
        let on = stream.aof || stream.repl;
        self.enabled.store(on, Ordering::Relaxed);
        crate::keyspace::events::set_propagating(on);
        stream.parked.clear();
        let last = self.next_seq.load(Ordering::Relaxed) - 1;
        stream.next_out = last + 1;
        stream.last = last;
        if !stream.aof {
            self.durable.send_replace(last);
        }
        self.ready.notify_all();
    }

    /// Appends raw bytes to the replication stream only (the PING and
    /// REPLCONF GETACK Redis sends its replicas), in stream order.
    pub fn feed_replicas(&self, bytes: &[u8]) {
        let stream = self.stream.lock();
        if stream.repl {
            self.replication.feed(bytes);
        }
    }

    /// Reserves the next sequence number; the caller must [`publish`]
    /// it, even with nothing to propagate.
    ///
    /// [`publish`]: Propagation::publish
    pub fn reserve(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// The newest sequence number reserved so far: a reply that depends on
    /// another client's write (a served blocked pop) waits for it.
    pub fn latest(&self) -> u64 {
        self.next_seq.load(Ordering::Relaxed) - 1
    }

    /// Publishes the commands of sequence number `seq` (several are
    /// wrapped in MULTI … EXEC).
    pub fn publish(&self, seq: u64, items: Vec<Item>) {
        self.publish_segments(seq, vec![(items, true)]);
    }

    /// Publishes independent commands under one sequence number, not
    /// wrapped (the DELs of keys the cron expired).
    pub fn publish_each(&self, seq: u64, items: Vec<Item>) {
        self.publish_segments(seq, vec![(items, false)]);
    }

    fn publish_segments(&self, seq: u64, segments: Vec<Segment>) {
        let mut stream = self.stream.lock();
        if !self.enabled() {
            return;
        }
        if seq != stream.next_out {
            stream.parked.insert(seq, segments);
            return;
        }
        let mut repl = stream.append_all(segments);
        stream.next_out += 1;
        while let Some(segments) = {
            let next = stream.next_out;
            stream.parked.remove(&next)
        } {
            repl.extend(stream.append_all(segments));
            stream.next_out += 1;
        }
        stream.last = stream.next_out - 1;
        if !repl.is_empty() {
            self.replication.feed(&repl);
        }
        if stream.aof {
            self.ready.notify_one();
        } else {
            // Nothing to wait for without an AOF: replicas are asynchronous.
            self.durable.send_replace(stream.last);
        }
    }

    /// Waits up to `timeout` until encoded commands are available.
    pub fn wait_ready(&self, timeout: Duration) {
        let mut stream = self.stream.lock();
        if stream.buf.is_empty() {
            self.ready.wait_for(&mut stream, timeout);
        }
    }

    /// Wakes a consumer waiting in [`Propagation::wait_ready`].
    pub fn wake(&self) {
        self.ready.notify_all();
    }

    /// Takes the encoded commands, with the highest sequence number they
    /// include.
    pub fn take(&self) -> (Vec<u8>, u64) {
        let mut stream = self.stream.lock();
        (std::mem::take(&mut stream.buf), stream.last)
    }

    /// Puts bytes the consumer could not write back in front of the
    /// stream, to be taken again.
    pub fn requeue(&self, mut bytes: Vec<u8>) {
        let mut stream = self.stream.lock();
        bytes.append(&mut stream.buf);
        stream.buf = bytes;
    }

    /// Runs `switch` with the stream locked and whatever is still encoded
    /// (the caller writes it to the old file before opening a new one);
    /// the new file starts with a SELECT.
    pub fn switch_file<R>(&self, switch: impl FnOnce(Vec<u8>, u64) -> R) -> R {
        let mut stream = self.stream.lock();
        let pending = std::mem::take(&mut stream.buf);
        stream.db = None;
        switch(pending, stream.last)
    }

    /// The consumer made everything up to `seq` durable.
    pub fn set_durable(&self, seq: u64) {
        self.durable.send_if_modified(|d| {
            let newer = seq > *d;
            if newer {
                *d = seq;
            }
            newer
        });
    }

    /// Waits until the commands of `seq` are durable (per `appendfsync`)
    /// before a reply that depends on them leaves.
    pub async fn wait_durable(&self, seq: u64) {
        let mut rx = self.durable.subscribe();
        let _ = rx.wait_for(|&d| d >= seq).await;
    }
}

/// After a command that reserved a sequence number: collects what it
/// propagates (its own argv unless it chose otherwise, nothing when it
/// changed nothing) and, unless it runs inside EXEC (which publishes the
/// whole transaction), publishes it.
pub fn after_command(
    server: &Server,
    client: &mut ClientState,
    args: &[&[u8]],
    dirty_before: u64,
    db: usize,
) {
    let prop = &mut client.prop;
    let custom = prop.custom.take();
    let forced = std::mem::take(&mut prop.force);
    if client.stats.dirty != dirty_before || forced {
        match custom {
            Some(commands) => prop.items.extend(commands.into_iter().map(|c| (db, c))),
            None => prop
                .items
                .push((db, args.iter().map(|a| a.to_vec()).collect())),
        }
    }
    if client.in_exec {
        // Inside a transaction everything belongs to it.
        let after = std::mem::take(&mut prop.after);
        prop.items.extend(after);
        return;
    }
    if let Some(seq) = prop.take_seq() {
        // The pops of clients a push served follow the command on their
        // own, as Redis propagates them after the command's own effects.
        let segments = vec![
            (std::mem::take(&mut prop.items), true),
            (std::mem::take(&mut prop.after), false),
        ];
        server.propagation.publish_segments(seq, segments);
        prop.wait = Some(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn entries_are_encoded_in_sequence_order_with_select_and_multi() {
        let p = Propagation::default();
        p.set_enabled(true);
        let (a, b, c) = (p.reserve(), p.reserve(), p.reserve());
        p.publish(b, vec![(1, argv(&["SET", "k", "2"]))]);
        p.publish(c, vec![]);
        assert!(p.take().0.is_empty());
        p.publish(
            a,
            vec![
                (0, argv(&["SREM", "s", "x"])),
                (0, argv(&["SREM", "s", "y"])),
            ],
        );
        let (bytes, last) = p.take();
        assert_eq!(last, 3);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n\
             *3\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\nx\r\n*3\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\ny\r\n\
             *1\r\n$4\r\nEXEC\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n\
             *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n2\r\n"
        );
    }

    #[test]
    fn disabling_releases_waiters() {
        let p = Propagation::default();
        p.set_enabled(true);
        let seq = p.reserve();
        p.publish(seq, vec![(0, argv(&["DEL", "k"]))]);
        p.set_enabled(false);
        assert_eq!(*p.durable.borrow(), seq);
    }
}
