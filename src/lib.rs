//! ferrokv: a Redis-protocol-compatible in-memory data server.
//!
//! The crate is split by responsibility: [`protocol`] (RESP parsing and
//! encoding), [`command`] (table, dispatcher, handler context),
//! [`commands`] (one module per command family), [`keyspace`] (sharded
//! storage and locking), [`server`] (connections, background tasks) and
//! [`config`].

pub mod command;
pub mod commands;
pub mod config;
pub mod keyspace;
pub mod persist;
pub mod protocol;
pub mod replication;
pub mod server;
pub mod types;
pub mod util;
