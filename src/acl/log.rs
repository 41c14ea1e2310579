//! The ACL log: recent denied commands, keys, channels and failed AUTHs,
//! similar ones grouped (`ACL LOG`).

use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::command::ClientState;
use crate::util::time::now_ms;

/// Entries closer in time than this are grouped when otherwise equal.
const GROUPING_MS: u64 = 60_000;
/// How many recent entries are searched for a group.
const GROUP_SCAN: usize = 10;

/// Why something was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The command is not allowed.
    Command,
    /// A key is not allowed.
    Key,
    /// A channel is not allowed.
    Channel,
    /// Wrong user or password.
    Auth,
}

impl Reason {
    /// The name `ACL LOG` shows.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the denied command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Sent by the client.
    Toplevel,
    /// Queued inside MULTI.
    Multi,
    /// Called from a script.
    Lua,
}

impl Context {
    /// The context of a command the client sends now.
    pub fn of(client: &ClientState) -> Context {
        if client.multi.is_some() {
            Context::Multi
        } else {
            Context::Toplevel
        }
    }

    /// The name `ACL LOG` shows.
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One log entry.
#[derive(Clone)]
pub struct Entry {
    /// Times it happened (grouped).
    pub count: u64,
    /// Why.
    pub reason: Reason,
    /// Where.
    pub context: Context,
    /// The command, key or channel name.
    pub object: Vec<u8>,
    /// The user.
    pub username: Vec<u8>,
    /// Unix ms of the last occurrence.
    pub time_ms: u64,
    /// `CLIENT INFO` of the last client.
    pub client_info: String,
}

/// The log, newest first.
#[derive(Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<Entry>>,
}

impl AclLog {
    /// Records a denial for `client`, keeping at most `max_len` entries.
    pub fn add(
        &self,
        client: &ClientState,
        reason: Reason,
        context: Context,
        object: &[u8],
        username: &[u8],
        max_len: usize,
    ) {
        let now = now_ms();
        let client_info = client.handle.describe();
        let mut entries = self.entries.lock();
        let found = entries.iter().take(GROUP_SCAN).position(|e| {
            e.reason == reason
                && e.context == context
                && e.time_ms.abs_diff(now) <= GROUPING_MS
                && e.object == object
                && e.username == username
        });
        if let Some(i) = found {
            if let Some(mut e) = entries.remove(i) {
                e.count += 1;
                e.time_ms = now;
                e.client_info = client_info;
                entries.push_front(e);
            }
            return;
        }
        entries.push_front(Entry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            time_ms: now,
            client_info,
        });
        entries.truncate(max_len);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    /// Empties the log (`ACL LOG RESET`).
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}
