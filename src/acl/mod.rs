//! Users, authentication and permission checks (Redis ACLs).
//!
//! Every connection runs as a user (the `default` user until AUTH). A user
//! is shared by all its connections, so `ACL SETUSER` takes effect at once;
//! the per-command check costs one atomic load for users allowed
//! everything (the common `default` user).

pub mod catalog;
pub mod file;
pub mod log;
pub mod rules;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use crate::command::{ClientState, CmdError, Command};
use crate::config::Config;
use crate::server::Server;
use crate::util::glob::glob_match;
use log::{Context, Reason};
use rules::{Rules, KEY_READ, KEY_WRITE};

/// The text AUTH and HELLO answer for a wrong user or password.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// A user: its name and its (replaceable) rules.
pub struct User {
    /// The user name.
    pub name: Vec<u8>,
    rules: RwLock<Rules>,
    unrestricted: AtomicBool,
}

impl User {
    fn new(name: &[u8], rules: Rules) -> User {
        let unrestricted = AtomicBool::new(rules.unrestricted());
        User {
            name: name.to_vec(),
            rules: RwLock::new(rules),
            unrestricted,
        }
    }

    /// The current rules.
    pub fn rules(&self) -> RwLockReadGuard<'_, Rules> {
        self.rules.read()
    }

    /// Replaces the rules.
    pub fn set_rules(&self, rules: Rules) {
        let mut current = self.rules.write();
        self.unrestricted
            .store(rules.unrestricted(), Ordering::Release);
        *current = rules;
    }

    /// Whether the user may run anything: no check needed.
    pub fn unrestricted(&self) -> bool {
        self.unrestricted.load(Ordering::Acquire)
    }
}

/// The server's users and ACL log.
pub struct Acl {
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    /// The `default` user (kept across ACL LOAD, as in Redis).
    pub default: Arc<User>,
    /// Recent denials.
    pub log: log::AclLog,
    /// The `requirepass` last applied to the default user.
    applied_requirepass: Mutex<String>,
}

impl Default for Acl {
    fn default() -> Self {
        let default = Arc::new(User::new(b"default", Rules::default_user()));
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), default.clone());
        Acl {
            users: RwLock::new(users),
            default,
            log: log::AclLog::default(),
            applied_requirepass: Mutex::new(String::new()),
        }
    }
}

impl Acl {
    /// Applies a changed `requirepass` to the default user, as Redis does
    /// when the directive is set (an empty one makes it `nopass`).
    pub fn sync_requirepass(&self, config: &Config) {
        let mut applied = self.applied_requirepass.lock();
        if *applied == config.requirepass {
            return;
        }
        applied.clone_from(&config.requirepass);
        let mut rules = self.default.rules().clone();
        let pass_op = format!(">{}", config.requirepass);
        let ops: [&[u8]; 2] = if config.requirepass.is_empty() {
            [b"resetpass", b"nopass"]
        } else {
            [b"resetpass", pass_op.as_bytes()]
        };
        for op in ops {
            // Both operations always apply.
            let _ = rules.apply(op);
        }
        self.default.set_rules(rules);
    }

    /// Whether a new connection starts authenticated (default user `nopass`).
    pub fn default_needs_no_auth(&self, server: &Server) -> bool {
        self.sync_requirepass(&server.config.read());
        let rules = self.default.rules();
        rules.nopass() && rules.enabled()
    }

    /// A user by name.
    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Creates or updates a user with already validated rules; returns the
    /// user and its previous rules when it existed.
    pub fn set_user(&self, name: &[u8], rules: Rules) -> (Arc<User>, Option<Rules>) {
        let mut users = self.users.write();
        if let Some(u) = users.get(name) {
            let old = u.rules().clone();
            u.set_rules(rules);
            return (u.clone(), Some(old));
        }
        let u = Arc::new(User::new(name, rules));
        users.insert(name.to_vec(), u.clone());
        (u, None)
    }

    /// Removes users; returns those that existed.
    pub fn delete_users(&self, names: &[&[u8]]) -> Vec<Arc<User>> {
        let mut users = self.users.write();
        names.iter().filter_map(|n| users.remove(*n)).collect()
    }

    /// Replaces every user but `default` (whose rules are copied into the
    /// existing object); returns the users replaced.
    pub fn replace_all(&self, mut new: BTreeMap<Vec<u8>, Rules>) -> Vec<Arc<User>> {
        let default_rules = new
            .remove(b"default".as_slice())
            .unwrap_or_else(Rules::default_user);
        self.default.set_rules(default_rules);
        let mut users = self.users.write();
        let old: Vec<Arc<User>> = std::mem::take(&mut *users)
            .into_values()
            .filter(|u| !Arc::ptr_eq(u, &self.default))
            .collect();
        users.insert(b"default".to_vec(), self.default.clone());
        for (name, rules) in new {
            users.insert(name.clone(), Arc::new(User::new(&name, rules)));
        }
        old
    }

    /// Checks credentials; the user on success.
    pub fn authenticate(&self, name: &[u8], pass: &[u8]) -> Option<Arc<User>> {
        let user = self.user(name)?;
        let ok = {
            let rules = user.rules();
            rules.enabled() && rules.password_matches(pass)
        };
        ok.then_some(user)
    }
}

/// `acllog-max-len`.
fn max_len(server: &Server) -> usize {
    server.config.read().acllog_max_len
}

/// The user a client runs as.
pub fn client_user<'a>(server: &'a Server, client: &'a ClientState) -> &'a Arc<User> {
    client.user.as_ref().unwrap_or(&server.acl.default)
}

/// Makes `user` the client's user (AUTH, HELLO AUTH, RESET).
pub fn set_client_user(client: &mut ClientState, user: Option<Arc<User>>) {
    client.handle.info.lock().user = user.as_ref().map(|u| u.name.clone());
    client.user = user;
}

/// Attempts AUTH for `client`: on success switches its user, on failure
/// logs the denial (as `object`, the command name as sent) and returns
/// the WRONGPASS error.
pub fn auth(
    server: &Server,
    client: &mut ClientState,
    name: &[u8],
    pass: &[u8],
    object: &[u8],
) -> Result<(), CmdError> {
    server.acl.sync_requirepass(&server.config.read());
    match server.acl.authenticate(name, pass) {
        Some(user) => {
            client.authenticated = true;
            let user = (!Arc::ptr_eq(&user, &server.acl.default)).then_some(user);
            set_client_user(client, user);
            Ok(())
        }
        None => {
            // The entry's client info names the failing command, as Redis's.
            client.handle.info.lock().last_cmd =
                String::from_utf8_lossy(object).to_ascii_lowercase();
            let context = Context::of(client);
            server
                .acl
                .log
                .add(client, Reason::Auth, context, object, name, max_len(server));
            Err(CmdError::err(WRONGPASS))
        }
    }
}

/// Why a check failed, with the position of the offending argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    /// The command itself.
    Command,
    /// A key argument.
    Key(usize),
    /// A channel argument.
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }
}

/// Argument positions holding channels, and whether they are matched
/// literally (PSUBSCRIBE patterns must be granted as written).
fn channel_args(cmd: &Command, argc: usize) -> Option<(std::ops::Range<usize>, bool)> {
    match cmd.name.as_str() {
        "publish" | "spublish" => Some((1..2.min(argc), false)),
        "subscribe" | "ssubscribe" => Some((1..argc, false)),
        "psubscribe" => Some((1..argc, true)),
        _ => None,
    }
}

fn channel_allowed(patterns: &[Vec<u8>], channel: &[u8], literal: bool) -> bool {
    patterns.iter().any(|p| {
        if literal {
            p == channel
        } else {
            glob_match(p, channel, false)
        }
    })
}

/// Key positions and the permissions they need. SET and BITFIELD declare
/// `variable_flags`: as Redis's key extraction, the arguments decide
/// whether the key is read (SET ... GET; BITFIELD always) or written
/// (BITFIELD only with SET/INCRBY).
fn key_access(cmd: &Command, args: &[&[u8]]) -> Vec<(usize, u8)> {
    let mut keys = cmd.key_access(args);
    let has = |from: usize, words: &[&str]| {
        args.iter()
            .skip(from)
            .any(|a| words.iter().any(|w| a.eq_ignore_ascii_case(w.as_bytes())))
    };
    let variable = match cmd.name.as_str() {
        "set" if has(3, &["get"]) => Some(KEY_READ | KEY_WRITE),
        "set" => Some(KEY_WRITE),
        "bitfield" if has(2, &["set", "incrby"]) => Some(KEY_READ | KEY_WRITE),
        "bitfield" => Some(KEY_READ),
        _ => None,
    };
    if let Some(perm) = variable {
        for key in &mut keys {
            key.1 = perm;
        }
    }
    keys
}

/// Checks a command against a user's rules (Redis's
/// `ACLCheckAllUserCommandPerm`): some selector must allow the command,
/// all its keys and channels; otherwise the most relevant denial.
pub fn check_rules(rules: &Rules, cmd: &Command, args: &[&[u8]]) -> Result<(), Denied> {
    let entry = catalog::catalog().by_full_name(&cmd.name);
    let no_auth = cmd.has(crate::command::flags::NO_AUTH);
    let mut keys: Option<Vec<(usize, u8)>> = None;
    let mut worst: Option<Denied> = None;
    for sel in &rules.selectors {
        let result = (|| {
            if !sel.allcommands && !no_auth {
                let id = entry.map(|e| e.id).ok_or(Denied::Command)?;
                if !sel.bit(id) {
                    let idx = if entry.is_some_and(|e| e.is_sub) {
                        2
                    } else {
                        1
                    };
                    let allowed = args.len() >= 2
                        && args.get(idx).is_some_and(|arg| {
                            sel.first_args(id)
                                .unwrap_or_default()
                                .iter()
                                .any(|a| a.eq_ignore_ascii_case(arg))
                        });
                    if !allowed {
                        return Err(Denied::Command);
                    }
                }
            }
            if !sel.allkeys {
                let keys = keys.get_or_insert_with(|| key_access(cmd, args));
                for &(pos, need) in keys.iter() {
                    let ok = sel.patterns.iter().any(|(perm, pat)| {
                        perm & need == need && glob_match(pat, args[pos], false)
                    });
                    if !ok {
                        return Err(Denied::Key(pos));
                    }
                }
            }
            if !sel.allchannels {
                if let Some((range, literal)) = channel_args(cmd, args.len()) {
                    for i in range {
                        if !channel_allowed(&sel.channels, args[i], literal) {
                            return Err(Denied::Channel(i));
                        }
                    }
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => return Ok(()),
            Err(d) => {
                if worst.is_none_or(|w| d.rank() > w.rank()) {
                    worst = Some(d);
                }
            }
        }
    }
    Err(worst.unwrap_or(Denied::Command))
}

/// The NOPERM error of a denial.
pub fn noperm(cmd: &Command, denied: Denied) -> CmdError {
    CmdError::msg(match denied {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            cmd.name
        ),
        Denied::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_string()
        }
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .to_string()
        }
    })
}

/// The error a script gets from `redis.call`/`pcall` for a denial (the
/// script machinery appends where the script failed, as Redis does).
fn script_error(denied: Denied) -> CmdError {
    CmdError::err(match denied {
        Denied::Command => {
            "ERR The user executing the script can't run this command or subcommand"
        }
        Denied::Key(_) => "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments",
        Denied::Channel(_) => {
            "ERR The user executing the script can't publish to the channel mentioned in the command"
        }
    })
}

/// Checks whether `client` may run `cmd` with `args`, logging a denial in
/// the ACL log under `context`. The dispatcher calls it for every command;
/// scripts call it for `redis.call`/`pcall` with [`Context::Lua`] and get
/// Redis's script wording of the error.
pub fn check(
    server: &Server,
    client: &ClientState,
    cmd: &Command,
    args: &[&[u8]],
    context: Context,
) -> Result<(), CmdError> {
    let user = client_user(server, client);
    if user.unrestricted() {
        return Ok(());
    }
    let denied = {
        let rules = user.rules();
        check_rules(&rules, cmd, args)
    };
    denied.map_err(|d| {
        let (reason, object) = match d {
            Denied::Command => (Reason::Command, cmd.name.as_bytes()),
            Denied::Key(i) => (Reason::Key, args[i]),
            Denied::Channel(i) => (Reason::Channel, args[i]),
        };
        client.handle.info.lock().last_cmd.clone_from(&cmd.name);
        server
            .acl
            .log
            .add(client, reason, context, object, &user.name, max_len(server));
        if context == Context::Lua {
            script_error(d)
        } else {
            noperm(cmd, d)
        }
    })
}

/// Checks a queued command again when EXEC runs it, as the rules may have
/// changed since it was queued; the error is Redis's wording for that case.
pub fn check_at_exec(
    server: &Server,
    client: &ClientState,
    cmd: &Command,
    args: &[&[u8]],
) -> Result<(), CmdError> {
    let user = client_user(server, client);
    if user.unrestricted() {
        return Ok(());
    }
    let denied = check_rules(&user.rules(), cmd, args);
    denied.map_err(|d| {
        let (reason, object, why) = match d {
            Denied::Command => (
                Reason::Command,
                cmd.name.as_bytes(),
                "no permission to execute the command or subcommand",
            ),
            Denied::Key(i) => (
                Reason::Key,
                args[i],
                "no permission to touch the specified keys",
            ),
            Denied::Channel(i) => (
                Reason::Channel,
                args[i],
                "no permission to access one of the channels used as arguments",
            ),
        };
        server
            .acl
            .log
            .add(client, reason, Context::Multi, object, &user.name, max_len(server));
        CmdError::msg(format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {why}"))
    })
}

/// Disconnects the clients authenticated as one of `users` (ACL DELUSER,
/// ACL LOAD).
pub fn kill_clients_of(server: &Server, users: &[Arc<User>], except: Option<u64>) {
    if users.is_empty() {
        return;
    }
    for handle in server.clients.all() {
        if Some(handle.id) == except {
            continue;
        }
        let name = handle.info.lock().user.clone();
        if let Some(name) = name {
            if users.iter().any(|u| u.name == name) {
                handle.kill();
            }
        }
    }
}

/// After `user`'s channel permissions changed from `old`, disconnects its
/// subscribers whose subscriptions are no longer allowed (as Redis's
/// `ACLKillPubsubClientsIfNeeded`).
pub fn kill_revoked_subscribers(server: &Server, user: &User, old: &Rules) {
    let new = user.rules().clone();
    if new.selectors.iter().any(|s| s.allchannels) {
        return;
    }
    let upcoming: Vec<Vec<u8>> = new
        .selectors
        .iter()
        .flat_map(|s| s.channels.iter().cloned())
        .collect();
    let kept = old
        .selectors
        .iter()
        .flat_map(|s| s.channels.iter())
        .all(|c| upcoming.contains(c));
    // As in Redis, a user that had every channel has no list to compare:
    // its subscribers are kept.
    if kept {
        return;
    }
    let mut doomed = Vec::new();
    server.pubsub.for_each_subscription(|kind, name, id| {
        let literal = kind == crate::server::pubsub::Kind::Pattern;
        if !channel_allowed(&upcoming, name, literal) {
            doomed.push(id);
        }
    });
    for id in doomed {
        let Some(handle) = server.clients.get(id) else {
            continue;
        };
        let runs_as_user = match handle.info.lock().user.as_deref() {
            Some(name) => name == user.name,
            None => user.name == b"default",
        };
        if runs_as_user {
            handle.kill();
        }
    }
}

/// Redis's protected-mode refusal, sent before closing the connection.
pub const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Whether protected mode refuses a connection from `peer`: it is on, the
/// default user needs no password, and the peer is not the loopback
/// address (Redis accepts exactly 127.0.0.1 and ::1).
pub fn protected_mode_refuses(protected: bool, default_nopass: bool, peer: IpAddr) -> bool {
    let local = match peer {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    };
    protected && default_nopass && !local
}

/// Whether `server` refuses a new connection from `peer` (protected mode).
pub fn refuses_connection(server: &Server, peer: IpAddr) -> bool {
    let protected = server.config.read().protected_mode;
    protected && {
        server.acl.sync_requirepass(&server.config.read());
        let nopass = server.acl.default.rules().nopass();
        protected_mode_refuses(protected, nopass, peer)
    }
}

/// The permission bits the key specs ask for, per key argument.
pub fn key_permissions(read: bool, write: bool) -> u8 {
    (if read { KEY_READ } else { 0 }) | (if write { KEY_WRITE } else { 0 })
}

/// Loads the `aclfile` at start-up, after `requirepass` (so the file has
/// the last word on the default user, as in Redis).
pub fn load_at_startup(server: &Server) -> Result<(), String> {
    server.acl.sync_requirepass(&server.config.read());
    let path = server.config.read().aclfile.clone();
    if path.is_empty() {
        return Ok(());
    }
    let pubsub_all = server.config.read().acl_pubsub_all;
    let users = file::read(&path, pubsub_all)
        .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
    server.acl.replace_all(users);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_get_their_own_wording_and_log_context() {
        let server = Server::new(Config::default());
        let mut rules = Rules::default();
        for op in ["on", "nopass", "+get", "~k*"] {
            rules.apply(op.as_bytes()).unwrap();
        }
        let (user, _) = server.acl.set_user(b"lua-user", rules);
        let handle = server.clients.register("a".into(), "b".into(), 0);
        let mut client = ClientState::new(handle, true);
        set_client_user(&mut client, Some(user));
        let get = server.commands.lookup(b"get").unwrap();
        let set = server.commands.lookup(b"set").unwrap();
        assert!(check(&server, &client, get, &[b"get", b"k1"], Context::Lua).is_ok());
        let err = check(&server, &client, get, &[b"get", b"x"], Context::Lua).unwrap_err();
        assert_eq!(
            err.bytes(),
            b"ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
        );
        let err = check(&server, &client, set, &[b"set", b"k", b"v"], Context::Lua).unwrap_err();
        assert_eq!(
            err.bytes(),
            b"ERR The user executing the script can't run this command or subcommand"
        );
        let err = check(
            &server,
            &client,
            set,
            &[b"set", b"k", b"v"],
            Context::Toplevel,
        )
        .unwrap_err();
        assert_eq!(
            err.bytes(),
            b"NOPERM this user has no permissions to run the 'set' command"
        );
        let log = server.acl.log.newest(10);
        assert_eq!(log.len(), 3);
        assert_eq!(log[1].context, Context::Lua);
        assert_eq!(log[2].reason, Reason::Key);
        assert_eq!(log[2].object, b"x");
    }

    #[test]
    fn protected_mode_decision() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let other_lo: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(!protected_mode_refuses(true, true, lo));
        assert!(!protected_mode_refuses(true, true, lo6));
        assert!(protected_mode_refuses(true, true, other));
        assert!(protected_mode_refuses(true, true, other_lo));
        assert!(!protected_mode_refuses(false, true, other));
        assert!(!protected_mode_refuses(true, false, other));
    }
}
