//! The RDB snapshot format, both ways, and DUMP/RESTORE payloads.
//!
//! Loading accepts every file Redis (and Valkey) wrote up to Redis 7.4,
//! RDB versions 1 to 12; saving writes version 10 exactly as Redis 7.0
//! does, so Redis 7.0 loads our dumps. The whole input is read into
//! memory first and parsed from the buffer: that is the fastest way to
//! load, and it lets every length be checked against the bytes actually
//! present before anything is allocated.

mod crc64;
mod input;
mod load;
mod lzf;
mod packed;
mod save;
mod stream;

use std::fmt;

pub use crc64::crc64;
pub use load::{load, load_bytes, restore_value};
pub use save::{dump_value, save};

use crate::config::Encodings;

/// The version we write (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;
/// The newest version we read (Redis 7.4's).
pub const MAX_LOAD_VERSION: u16 = 12;

/// Why an RDB file or DUMP payload could not be read.
#[derive(Debug)]
pub enum RdbError {
    /// Reading the input failed.
    Io(std::io::Error),
    /// The input ends in the middle of a record.
    Truncated,
    /// The input is malformed.
    Corrupt(String),
    /// The input is valid but uses a feature we do not load.
    Unsupported(String),
    /// The CRC64 trailer does not match the content.
    Checksum {
        /// The checksum in the file.
        stored: u64,
        /// The checksum of the content.
        computed: u64,
    },
    /// The header's version is not one we read.
    Version(u32),
    /// A collection value without elements (Redis skips such keys).
    EmptyValue,
}

impl RdbError {
    pub(crate) fn corrupt(msg: impl Into<String>) -> Self {
        RdbError::Corrupt(msg.into())
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdbError::Io(e) => write!(f, "read error: {e}"),
            RdbError::Truncated => f.write_str("unexpected end of RDB data"),
            RdbError::Corrupt(m) => write!(f, "corrupt RDB data: {m}"),
            RdbError::Unsupported(m) => write!(f, "unsupported RDB content: {m}"),
            RdbError::Checksum { stored, computed } => write!(
                f,
                "wrong RDB checksum: expected {computed:#018x}, got {stored:#018x}"
            ),
            RdbError::Version(v) => write!(f, "can't handle RDB format version {v}"),
            RdbError::EmptyValue => f.write_str("empty collection value"),
        }
    }
}

impl std::error::Error for RdbError {}

impl From<std::io::Error> for RdbError {
    fn from(e: std::io::Error) -> Self {
        RdbError::Io(e)
    }
}

/// How to write a file.
#[derive(Clone, Debug)]
pub struct SaveOptions {
    /// `rdbcompression`: LZF-compress long strings.
    pub compression: bool,
    /// `rdbchecksum`: write the CRC64 trailer (zero otherwise).
    pub checksum: bool,
    /// Function library codes, written as `FUNCTION2` records.
    pub functions: Vec<String>,
    /// Written as the `aof-base` aux field (1 for an AOF base file).
    pub aof_base: bool,
    /// Written as the `used-mem` aux field.
    pub used_mem: u64,
    /// Unix time in ms of the snapshot: the `ctime` aux field, and keys
    /// whose TTL has passed by then are left out.
    pub now_ms: u64,
    /// `list-max-listpack-size`: how list elements are grouped into
    /// listpack nodes.
    pub list_max_listpack_size: i64,
}

impl Default for SaveOptions {
    fn default() -> Self {
        Self {
            compression: true,
            checksum: true,
            functions: Vec::new(),
            aof_base: false,
            used_mem: 0,
            now_ms: crate::util::time::now_ms(),
            list_max_listpack_size: -2,
        }
    }
}

/// How to load a file.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Encoding thresholds: loaded values take the encoding Redis would
    /// give them under this configuration.
    pub encodings: Encodings,
    /// Skip keys whose TTL passed before `now_ms` (Redis does so when
    /// loading a snapshot as a master, but not an AOF preamble).
    pub skip_expired: bool,
    /// Unix time in ms used for `skip_expired`.
    pub now_ms: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            encodings: crate::config::Config::default().encodings,
            skip_expired: true,
            now_ms: crate::util::time::now_ms(),
        }
    }
}

/// What a load found.
#[derive(Clone, Debug, Default)]
pub struct LoadStats {
    /// The file's RDB version.
    pub version: u16,
    /// Keys added to the keyspace.
    pub keys: u64,
    /// Keys left out because their TTL had passed.
    pub expired_skipped: u64,
    /// Keys left out because they held an empty collection.
    pub empty_skipped: u64,
    /// Function library codes (`FUNCTION2` records), in file order.
    pub functions: Vec<String>,
    /// Every aux field (`redis-ver`, `ctime`, `aof-base`, `repl-id`, …).
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes the RDB part took (checksum included): an AOF with an RDB
    /// preamble continues there.
    pub consumed: usize,
}

impl LoadStats {
    /// The value of aux field `name`, if the file had it.
    pub fn aux_field(&self, name: &str) -> Option<&[u8]> {
        self.aux
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }
}

/// Value type bytes.
mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    pub const HASH_LISTPACK_EX: u8 = 25;
}

/// Record opcodes between keys.
mod opcodes {
    pub const SLOT_INFO: u8 = 244;
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Quicklist 2 node containers.
mod container {
    pub const PLAIN: u64 = 1;
    pub const PACKED: u64 = 2;
}

#[cfg(test)]
mod tests;
