//! Command families: one module per group of the Redis command table,
//! each registering its handlers.

pub mod args;
pub mod client;
pub mod connection;
pub mod db;
pub mod expire;
pub mod info;
pub mod introspect;
pub mod keys;
pub mod server;
pub mod string;
pub mod zset;

use crate::command::TableBuilder;

/// Registers every implemented command.
pub fn register_all(t: &mut TableBuilder) {
    client::register(t);
    connection::register(t);
    db::register(t);
    expire::register(t);
    keys::register(t);
    info::register(t);
    introspect::register(t);
    server::register(t);
    string::register(t);
    zset::register(t);
}
