//! Persistence: the append-only file (and, with the other persistence
//! modules, RDB snapshots).

pub mod aof;
