//! Command families: one module per group of the Redis command table,
//! each registering its handlers.

pub mod acl;
pub mod aof;
pub mod args;
pub mod bitmap;
pub mod client;
pub mod connection;
pub mod db;
pub mod dump;
pub mod expire;
pub mod function;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod info;
pub mod introspect;
pub mod keys;
pub mod list;
pub mod lolwut;
pub mod memory;
pub mod ops;
pub mod persistence;
pub mod pubsub;
pub mod replicaof;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod transaction;
pub mod zset;

use crate::command::TableBuilder;

/// Registers every implemented command.
pub fn register_all(t: &mut TableBuilder) {
    acl::register(t);
    aof::register(t);
    bitmap::register(t);
    client::register(t);
    connection::register(t);
    db::register(t);
    dump::register(t);
    expire::register(t);
    function::register(t);
    geo::register(t);
    hash::register(t);
    hll::register(t);
    keys::register(t);
    memory::register(t);
    list::register(t);
    lolwut::register(t);
    info::register(t);
    ops::register(t);
    introspect::register(t);
    server::register(t);
    pubsub::register(t);
    replicaof::register(t);
    replication::register(t);
    scripting::register(t);
    set::register(t);
    sort::register(t);
    stream::register(t);
    string::register(t);
    transaction::register(t);
    zset::register(t);
    // After `server`: marks DEBUG (registered there) exclusive.
    persistence::register(t);
}
