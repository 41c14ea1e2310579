//! Persistence: RDB snapshots and the append-only file.

pub mod rdb;
pub mod snapshot;
