//! The command universe ACL rules speak about: every Redis 7.0 command and
//! subcommand of the reference table (implemented or not, as Redis counts
//! them all when it picks categories to describe a user), each with a
//! bitmap id and its ACL categories.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value as Json;

/// Redis's ACL categories, in the order `ACL CAT` lists them.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Bits available for command ids in a selector bitmap.
pub const COMMAND_BITS: usize = 1024;

/// The bit only `+@all` sets: it tells that a selector also allows future
/// commands, which decides whether its description starts with `+@all`.
pub const FUTURE_BIT: usize = COMMAND_BITS - 1;

/// One command or subcommand.
pub struct Entry {
    /// Bitmap position.
    pub id: usize,
    /// Full lower-case name (`get`, `config|get`).
    pub name: String,
    /// Category bits (indexes into [`CATEGORIES`]).
    pub categories: u32,
    /// Ids of the subcommands.
    pub subs: Vec<usize>,
    /// Whether this is a subcommand.
    pub is_sub: bool,
}

/// All commands by id and by name.
pub struct Catalog {
    /// Entries; an entry's id is its index.
    pub entries: Vec<Entry>,
    /// Top-level command ids in reference order.
    pub top: Vec<usize>,
    by_name: HashMap<String, usize>,
}

/// The category index of `name` (case-insensitive).
pub fn category(name: &str) -> Option<usize> {
    CATEGORIES.iter().position(|c| c.eq_ignore_ascii_case(name))
}

fn category_bits(entry: &Json) -> u32 {
    entry["acl_categories"]
        .as_array()
        .map(|cats| {
            cats.iter()
                .filter_map(Json::as_str)
                .filter_map(|c| category(c.trim_start_matches('@')))
                .fold(0, |bits, i| bits | 1 << i)
        })
        .unwrap_or(0)
}

impl Catalog {
    fn build() -> Catalog {
        let list: Vec<Json> =
            serde_json::from_str(include_str!("../command/redis-7.0-commands.json"))
                .expect("valid reference JSON");
        let mut cat = Catalog {
            entries: Vec::new(),
            top: Vec::new(),
            by_name: HashMap::new(),
        };
        for cmd in &list {
            let id = cat.push(cmd, false);
            cat.top.push(id);
            for sub in cmd["subcommands"].as_array().into_iter().flatten() {
                let sid = cat.push(sub, true);
                cat.entries[id].subs.push(sid);
            }
        }
        cat
    }

    fn push(&mut self, json: &Json, is_sub: bool) -> usize {
        let id = self.entries.len();
        let name = json["name"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.by_name.insert(name.clone(), id);
        self.entries.push(Entry {
            id,
            name,
            categories: category_bits(json),
            subs: Vec::new(),
            is_sub,
        });
        id
    }

    /// Looks a command up as Redis's ACL does: `name` or `name|sub`
    /// (case-insensitive); a `|` form needs a command with subcommands.
    pub fn lookup(&self, name: &[u8]) -> Option<&Entry> {
        let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let mut parts = name.split('|');
        let base = self.by_name.get(parts.next()?)?;
        match (parts.next(), parts.next()) {
            (None, _) => Some(&self.entries[*base]),
            (Some(_), None) if !self.entries[*base].subs.is_empty() => {
                self.by_name.get(&name).map(|&id| &self.entries[id])
            }
            _ => None,
        }
    }

    /// The entry of a table command by its full name.
    pub fn by_full_name(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).map(|&id| &self.entries[id])
    }
}

/// The catalog, built on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_redis_rules() {
        let c = catalog();
        assert!(c.entries.len() < FUTURE_BIT);
        assert_eq!(c.lookup(b"GET").unwrap().name, "get");
        assert_eq!(c.lookup(b"config|GET").unwrap().name, "config|get");
        assert!(c.lookup(b"get|x").is_none());
        assert!(c.lookup(b"config|get|x").is_none());
        assert!(c.lookup(b"config|nosuch").is_none());
        let get = c.lookup(b"get").unwrap();
        assert_ne!(get.categories & (1 << category("read").unwrap()), 0);
    }
}
