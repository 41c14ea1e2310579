//! Persistence: the RDB snapshot format, snapshots and the append-only
//! file.

pub mod aof;
pub mod rdb;
pub mod snapshot;
