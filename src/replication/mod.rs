//! Replication: the state both sides share (replication ids, offsets, the
//! link to our primary when we are a replica).

pub mod replica;

use std::sync::{OnceLock, Weak};

use parking_lot::Mutex;

use crate::server::Server;

/// A fresh random 40-hex-digit replication id.
pub fn new_replid() -> String {
    let mut id = String::with_capacity(48);
    while id.len() < 40 {
        id.push_str(&format!("{:016x}", crate::util::rand::random_u64()));
    }
    id.truncate(40);
    id
}

/// Replication ids and offsets, and the link to the primary if any.
pub struct State {
    /// `master_replid`: the history our data belongs to.
    pub replid: String,
    /// `master_replid2`: the history before the last promotion.
    pub replid2: String,
    /// `master_repl_offset`: bytes of the history our data includes.
    pub offset: i64,
    /// `second_repl_offset`: first offset of `replid` valid for `replid2`
    /// holders too (-1 = none).
    pub second_offset: i64,
    /// Set while we are a replica.
    pub primary: Option<replica::Link>,
}

/// The replication state of the server.
pub struct Replication {
    /// Guarded as one unit: promotion changes ids and offsets together.
    pub state: Mutex<State>,
    /// The server itself, for the link task REPLICAOF spawns from a
    /// handler (which only borrows it); set once it is shared.
    server: OnceLock<Weak<Server>>,
}

impl Default for Replication {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                replid: new_replid(),
                replid2: "0".repeat(40),
                offset: 0,
                second_offset: -1,
                primary: None,
            }),
            server: OnceLock::new(),
        }
    }
}
