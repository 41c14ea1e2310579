//! Keyspace notifications (`notify-keyspace-events`), as Redis 7.0 sends
//! them: `__keyspace@<db>__:<key>` with the event as message (`K`) and
//! `__keyevent@<db>__:<event>` with the key as message (`E`), for the
//! event classes enabled in the directive.

use std::sync::atomic::{AtomicU32, Ordering};

use super::Server;
use crate::keyspace::events::{self, KeyEvent};

/// `K`: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME, …).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted-set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: keys removed because their TTL passed.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: keys evicted for maxmemory.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: lookups of missing keys (not part of `A`).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module key types.
pub const MODULE: u32 = 1 << 12;
/// `n`: keys added to the keyspace (not part of `A`).
pub const NEW: u32 = 1 << 13;
/// `A`: alias for `g$lshzxetd`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The class letters in the order Redis renders them (after `A`).
const CLASSES: [(u32, char); 11] = [
    (GENERIC, 'g'),
    (STRING, '$'),
    (LIST, 'l'),
    (SET, 's'),
    (HASH, 'h'),
    (ZSET, 'z'),
    (EXPIRED, 'x'),
    (EVICTED, 'e'),
    (STREAM, 't'),
    (MODULE, 'd'),
    (NEW, 'n'),
];

/// Parses a `notify-keyspace-events` value (Redis's
/// `keyspaceEventsStringToFlags`, which reads a C string: a NUL ends it).
pub fn parse(value: &str) -> Result<u32, String> {
    let mut flags = 0;
    for c in value.chars().take_while(|&c| c != '\0') {
        flags |= match c {
            'A' => ALL,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            'm' => KEY_MISS,
            c => match CLASSES.iter().find(|(_, l)| *l == c) {
                Some((bit, _)) => *bit,
                None => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
            },
        };
    }
    Ok(flags)
}

/// Renders flags the way `CONFIG GET` shows them (Redis's
/// `keyspaceEventsFlagsToString`): `A` stands for all its classes, and
/// then hides `n`.
pub fn render(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        s.extend(
            CLASSES
                .iter()
                .filter(|(b, _)| flags & b != 0)
                .map(|(_, c)| c),
        );
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The class of a keyspace event name, as Redis's callers of
/// `notifyKeyspaceEvent` pass it.
pub fn class_of(event: &str) -> u32 {
    match event {
        "set" | "setrange" | "incrby" | "incrbyfloat" | "append" | "setbit" | "pfadd" => STRING,
        "lpush" | "rpush" | "lpop" | "rpop" | "linsert" | "lset" | "lrem" | "ltrim"
        | "sortstore" => LIST,
        "sadd" | "srem" | "spop" | "sinterstore" | "sunionstore" | "sdiffstore" => SET,
        "hset" | "hdel" | "hincrby" | "hincrbyfloat" => HASH,
        "zadd" | "zincr" | "zrem" | "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex"
        | "zpopmin" | "zpopmax" | "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" => {
            ZSET
        }
        "expired" => EXPIRED,
        "evicted" => EVICTED,
        "keymiss" => KEY_MISS,
        "new" => NEW,
        e if e.starts_with('x') => STREAM,
        // del, expire, persist, rename_from/to, move_from/to, copy_to,
        // restore.
        _ => GENERIC,
    }
}

/// The enabled event classes, read with one relaxed load on every write.
#[derive(Default)]
pub struct Notifier {
    flags: AtomicU32,
}

impl Notifier {
    /// Applies a (new) `notify-keyspace-events` value.
    pub fn configure(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
        let publishing = flags & (KEYSPACE | KEYEVENT) != 0;
        events::set_recording(
            publishing && flags & EXPIRED != 0,
            publishing && flags & NEW != 0,
        );
    }

    /// The enabled classes, or 0 when nothing would be published.
    fn active(&self) -> u32 {
        let flags = self.flags.load(Ordering::Relaxed);
        if flags & (KEYSPACE | KEYEVENT) == 0 {
            0
        } else {
            flags
        }
    }
}

/// Publishes `event` for `key` of database `db` if its class is enabled
/// (Redis's `notifyKeyspaceEvent`).
pub fn notify(server: &Server, db: usize, key: &[u8], event: &str) {
    let flags = server.notify.active();
    if flags & class_of(event) == 0 {
        return;
    }
    let limit = server.config.read().output_limits.pubsub;
    if flags & KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        server
            .pubsub
            .publish(false, &channel, event.as_bytes(), limit);
    }
    if flags & KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}");
        server.pubsub.publish(false, channel.as_bytes(), key, limit);
    }
}

/// Publishes the events shards recorded on this thread (expired and
/// created keys) for database `db`; expired keys also count as modified
/// for WATCH.
pub fn flush_recorded(server: &Server, db: usize) {
    flush_events(server, db, events::take());
}

/// Publishes events taken from the shards' record earlier.
pub fn flush_events(server: &Server, db: usize, taken: Vec<(KeyEvent, Box<[u8]>)>) {
    for (event, key) in taken {
        match event {
            KeyEvent::Expired => {
                server.watches.touch(db, &key);
                notify(server, db, &key, "expired");
                super::tracking::expired(server, &key);
            }
            KeyEvent::Created => notify(server, db, &key, "new"),
        }
    }
}

/// A command changed `key`: publishes what the shards recorded first
/// (Redis sends `expired` and `new` while looking the key up and adding
/// it, before the command's own event), then `event`.
pub fn modified(server: &Server, db: usize, key: &[u8], event: &str) {
    if events::pending() {
        flush_recorded(server, db);
    }
    if server.notify.active() != 0 {
        notify(server, db, key, event);
    }
}

/// A read lookup of `key` found nothing.
pub fn keymiss(server: &Server, db: usize, key: &[u8]) {
    if events::pending() {
        flush_recorded(server, db);
    }
    if server.notify.active() & KEY_MISS != 0 {
        notify(server, db, key, "keymiss");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render_like_redis() {
        for (given, shown) in [
            ("KEA", "AKE"),
            ("", ""),
            ("g$lshzxetdn", "A"),
            ("g$lshzxetd", "A"),
            ("An", "A"),
            ("g$lshzxet", "g$lshzxet"),
            ("KA", "AK"),
            ("Kz$g", "g$zK"),
            ("gmKEd", "gdKEm"),
            ("nK", "nK"),
            ("gg", "g"),
        ] {
            assert_eq!(render(parse(given).unwrap()), shown, "{given}");
        }
        assert_eq!(
            parse("q").unwrap_err(),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
        assert!(parse("An").unwrap() & NEW != 0);
        assert_eq!(parse("\0K"), Ok(0));
    }

    #[test]
    fn classes() {
        assert_eq!(class_of("del"), GENERIC);
        assert_eq!(class_of("sortstore"), LIST);
        assert_eq!(class_of("zincr"), ZSET);
        assert_eq!(class_of("xadd"), STREAM);
        assert_eq!(class_of("expired"), EXPIRED);
    }
}
