//! A user's rules: flags, password hashes and selectors, how `ACL SETUSER`
//! operations change them and how `ACL LIST`/`GETUSER` describe them.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::catalog::{catalog, category, Entry, CATEGORIES, COMMAND_BITS, FUTURE_BIT};

/// Key pattern permission: the key may be read.
pub const KEY_READ: u8 = 1;
/// Key pattern permission: the key may be written.
pub const KEY_WRITE: u8 = 2;
const KEY_ALL: u8 = KEY_READ | KEY_WRITE;

/// User flags, in the order Redis describes them.
const FLAG_NAMES: [(u8, &str); 5] = [
    (ENABLED, "on"),
    (DISABLED, "off"),
    (NOPASS, "nopass"),
    (SKIP_SANITIZE, "skip-sanitize-payload"),
    (SANITIZE, "sanitize-payload"),
];
const ENABLED: u8 = 1;
const DISABLED: u8 = 2;
const NOPASS: u8 = 4;
const SKIP_SANITIZE: u8 = 8;
const SANITIZE: u8 = 16;

const WORDS: usize = COMMAND_BITS / 64;

/// Why an ACL operation was refused (Redis's errno cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// Unknown command or category.
    Unknown,
    /// Malformed operation.
    Syntax,
    /// A key pattern after `allkeys`.
    KeysAfterAll,
    /// A channel pattern after `allchannels`.
    ChannelsAfterAll,
    /// Removing a password the user does not have.
    NoSuchPassword,
    /// A `#`/`!` hash that is not 64 lower-case hex digits.
    BadHash,
    /// `+cmd|sub|arg`.
    FirstArgOfSub,
}

impl RuleError {
    /// Redis's description of the error.
    pub fn message(self) -> &'static str {
        match self {
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeysAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelsAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSub => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// The lower-case hex SHA256 of a password.
pub fn hash_password(pass: &[u8]) -> String {
    let digest = Sha256::digest(pass);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Compares two strings in time that depends only on their lengths, so a
/// client timing AUTH learns nothing about the stored hash.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as usize;
    }
    diff == 0
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether a name or pattern contains whitespace or NUL, which Redis
/// refuses so rules can be written back as space-separated text.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || c.is_ascii_whitespace() || c == 0x0b)
}

/// A set of permissions: commands, key patterns and channel patterns.
#[derive(Clone)]
pub struct Selector {
    root: bool,
    /// Every key may be used.
    pub allkeys: bool,
    /// Every channel may be used.
    pub allchannels: bool,
    /// Every command may run, present and future (cleared as soon as a
    /// single command is removed).
    pub allcommands: bool,
    bits: [u64; WORDS],
    first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    /// Key patterns with their [`KEY_READ`]/[`KEY_WRITE`] permissions.
    pub patterns: Vec<(u8, Vec<u8>)>,
    /// Channel patterns.
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    fn new(root: bool, allchannels: bool) -> Selector {
        Selector {
            root,
            allkeys: false,
            allchannels,
            allcommands: false,
            bits: [0; WORDS],
            first_args: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// Whether command bit `id` is set.
    pub fn bit(&self, id: usize) -> bool {
        self.bits[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.bits[id / 64] |= 1 << (id % 64);
        } else {
            self.bits[id / 64] &= !(1 << (id % 64));
            self.allcommands = false;
        }
    }

    /// The first arguments allowed for an otherwise denied command.
    pub fn first_args(&self, id: usize) -> Option<&[Vec<u8>]> {
        self.first_args.get(&id).map(Vec::as_slice)
    }

    /// Allows or denies a command; a container takes its subcommands along.
    fn change(&mut self, entry: &Entry, allow: bool) {
        self.set_bit(entry.id, allow);
        self.first_args.remove(&entry.id);
        for &sub in &entry.subs {
            self.set_bit(sub, allow);
        }
    }

    fn change_category(&mut self, cat: usize, allow: bool) {
        let c = catalog();
        for &id in &c.top {
            let cmd = &c.entries[id];
            if cmd.categories & (1 << cat) != 0 {
                self.change(cmd, allow);
            }
            for &sub in &cmd.subs {
                if c.entries[sub].categories & (1 << cat) != 0 {
                    self.change(&c.entries[sub], allow);
                }
            }
        }
    }

    fn all_commands(&mut self, allow: bool) {
        self.bits = [if allow { u64::MAX } else { 0 }; WORDS];
        self.allcommands = allow;
        self.first_args.clear();
    }

    /// Applies one selector operation (Redis's `ACLSetSelector`).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let eq = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if eq("allkeys") || op == b"~*" {
            self.allkeys = true;
            self.patterns.clear();
        } else if eq("resetkeys") {
            self.allkeys = false;
            self.patterns.clear();
        } else if eq("allchannels") || op == b"&*" {
            self.allchannels = true;
            self.channels.clear();
        } else if eq("resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if eq("allcommands") || eq("+@all") {
            self.all_commands(true);
        } else if eq("nocommands") || eq("-@all") {
            self.all_commands(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.allchannels {
                return Err(RuleError::ChannelsAfterAll);
            }
            let pat = &op[1..];
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pat) {
                self.channels.push(pat.to_vec());
            }
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let name = std::str::from_utf8(&op[2..]).map_err(|_| RuleError::Unknown)?;
            let cat = category(name).ok_or(RuleError::Unknown)?;
            self.change_category(cat, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(&op[1..])?;
        } else if op[0] == b'-' {
            let entry = catalog().lookup(&op[1..]).ok_or(RuleError::Unknown)?;
            self.change(entry, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.allkeys {
            return Err(RuleError::KeysAfterAll);
        }
        let mut flags = 0;
        let mut offset = 1;
        if op[0] == b'%' {
            while offset < op.len() {
                match op[offset].to_ascii_uppercase() {
                    b'R' if flags & KEY_READ == 0 => flags |= KEY_READ,
                    b'W' if flags & KEY_WRITE == 0 => flags |= KEY_WRITE,
                    b'~' => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            // `%~pattern` grants nothing: Redis calls it malformed.
            if flags == 0 {
                return Err(RuleError::Syntax);
            }
        } else {
            flags = KEY_ALL;
        }
        let pat = &op[offset..];
        if has_spaces(pat) {
            return Err(RuleError::Syntax);
        }
        match self.patterns.iter_mut().find(|(_, p)| p == pat) {
            Some((f, _)) => *f |= flags,
            None => self.patterns.push((flags, pat.to_vec())),
        }
        Ok(())
    }

    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let c = catalog();
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let entry = c.lookup(name).ok_or(RuleError::Unknown)?;
            self.change(entry, true);
            return Ok(());
        };
        let (base, sub) = (&name[..bar], &name[bar + 1..]);
        let entry = c.lookup(base).ok_or(RuleError::Unknown)?;
        if entry.is_sub {
            return Err(RuleError::FirstArgOfSub);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if entry.subs.is_empty() {
            let args = self.first_args.entry(entry.id).or_default();
            if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                args.push(sub.to_vec());
            }
        } else {
            let sub_entry = c.lookup(name).ok_or(RuleError::Unknown)?;
            self.change(sub_entry, true);
        }
        Ok(())
    }

    /// Commands allowed and denied among those of category `cat`.
    fn count_category(&self, cat: usize) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for e in &catalog().entries {
            if e.categories & (1 << cat) != 0 {
                if self.bit(e.id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// The command rules that rebuild this selector's bitmap, as Redis 7.0
    /// renders them: `+@all`/`-@all`, the best-fitting categories, then the
    /// single commands still differing.
    pub fn describe_commands(&self) -> String {
        let mut rules = String::new();
        let additive = !self.bit(FUTURE_BIT);
        let mut fake = Selector::new(false, false);
        if additive {
            rules.push_str("-@all ");
        } else {
            rules.push_str("+@all ");
            fake.all_commands(true);
        }
        let mut temp = Selector::new(false, false);
        temp.bits = self.bits;
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, done) in applied.iter().enumerate() {
                if *done {
                    continue;
                }
                let (on, off) = temp.count_category(j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(best) = best else { break };
            fake.change_category(best, additive);
            temp.change_category(best, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(CATEGORIES[best]);
            rules.push(' ');
            applied[best] = true;
        }
        let c = catalog();
        for &id in &c.top {
            self.describe_single(&c.entries[id], &mut fake, &mut rules);
        }
        rules.pop();
        rules
    }

    fn describe_single(&self, cmd: &Entry, fake: &mut Selector, rules: &mut String) {
        let userbit = self.bit(cmd.id);
        if userbit != fake.bit(cmd.id) {
            rules.push(if userbit { '+' } else { '-' });
            rules.push_str(&cmd.name);
            rules.push(' ');
            fake.change(cmd, userbit);
        }
        for &sub in &cmd.subs {
            self.describe_single(&catalog().entries[sub], fake, rules);
        }
        if !userbit {
            for arg in self.first_args(cmd.id).unwrap_or_default() {
                rules.push('+');
                rules.push_str(&cmd.name);
                rules.push('|');
                rules.push_str(&String::from_utf8_lossy(arg));
                rules.push(' ');
            }
        }
    }

    /// The key patterns as `ACL GETUSER` shows them.
    pub fn describe_keys(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        let pats: Vec<String> = self.patterns.iter().map(pattern_string).collect();
        pats.join(" ")
    }

    /// The channel patterns as `ACL GETUSER` shows them.
    pub fn describe_channels(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        let pats: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        pats.join(" ")
    }

    /// The whole selector in `ACL LIST` form.
    fn describe(&self) -> String {
        let mut out = String::new();
        if self.allkeys {
            out.push_str("~* ");
        } else {
            for p in &self.patterns {
                out.push_str(&pattern_string(p));
                out.push(' ');
            }
        }
        if self.allchannels {
            out.push_str("&* ");
        } else {
            out.push_str("resetchannels ");
            for c in &self.channels {
                out.push('&');
                out.push_str(&String::from_utf8_lossy(c));
                out.push(' ');
            }
        }
        out.push_str(&self.describe_commands());
        out
    }
}

fn pattern_string((flags, pat): &(u8, Vec<u8>)) -> String {
    let prefix = match *flags {
        KEY_READ => "%R~",
        KEY_WRITE => "%W~",
        _ => "~",
    };
    format!("{prefix}{}", String::from_utf8_lossy(pat))
}

/// Everything that defines a user besides its name.
#[derive(Clone)]
pub struct Rules {
    /// `acl-pubsub-default allchannels` while rules are applied: new
    /// selectors and `reset` then allow every channel.
    pub pubsub_all: bool,
    flags: u8,
    /// SHA256 hex digests of the passwords.
    pub passwords: Vec<String>,
    /// The root selector first, then the `(...)` selectors.
    pub selectors: Vec<Selector>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new(false)
    }
}

impl Rules {
    /// A fresh user's rules (disabled, nothing allowed); `pubsub_all` is
    /// `acl-pubsub-default allchannels`.
    pub fn new(pubsub_all: bool) -> Rules {
        Rules {
            pubsub_all,
            flags: DISABLED,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true, pubsub_all)],
        }
    }

    /// The rules of a fresh `default` user: everything allowed, no password.
    pub fn default_user() -> Rules {
        let mut r = Rules::default();
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let applied = r.apply(op.as_bytes());
            debug_assert!(applied.is_ok());
        }
        r
    }

    /// Whether the user may authenticate.
    pub fn enabled(&self) -> bool {
        self.flags & ENABLED != 0
    }

    /// Whether any password works.
    pub fn nopass(&self) -> bool {
        self.flags & NOPASS != 0
    }

    /// Whether some selector allows everything (the fast path of checks).
    pub fn unrestricted(&self) -> bool {
        self.selectors
            .iter()
            .any(|s| s.allcommands && s.allkeys && s.allchannels)
    }

    /// Whether `pass` is one of the passwords (or none is needed).
    pub fn password_matches(&self, pass: &[u8]) -> bool {
        if self.nopass() {
            return true;
        }
        let hashed = hash_password(pass);
        // Every stored hash is compared so timing does not reveal which matched.
        self.passwords.iter().fold(false, |ok, p| {
            constant_time_eq(hashed.as_bytes(), p.as_bytes()) | ok
        })
    }

    /// Applies one `ACL SETUSER` operation (Redis's `ACLSetUser`).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let eq = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if eq("on") {
            self.flags = (self.flags | ENABLED) & !DISABLED;
        } else if eq("off") {
            self.flags = (self.flags | DISABLED) & !ENABLED;
        } else if eq("skip-sanitize-payload") {
            self.flags = (self.flags | SKIP_SANITIZE) & !SANITIZE;
        } else if eq("sanitize-payload") {
            self.flags = (self.flags | SANITIZE) & !SKIP_SANITIZE;
        } else if eq("nopass") {
            self.flags |= NOPASS;
            self.passwords.clear();
        } else if eq("resetpass") {
            self.flags &= !NOPASS;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.flags &= !NOPASS;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let pos = self
                .passwords
                .iter()
                .position(|p| *p == hash)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(pos);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::new(false, self.pubsub_all);
            let inner = &op[1..op.len() - 1];
            for part in inner.split(|c| c.is_ascii_whitespace()) {
                if !part.is_empty() {
                    selector.apply(part)?;
                }
            }
            self.selectors.push(selector);
        } else if eq("clearselectors") {
            self.selectors.truncate(1);
        } else if eq("reset") {
            for step in [
                "resetpass",
                "resetkeys",
                "resetchannels",
                if self.pubsub_all { "allchannels" } else { "" },
                "off",
                "sanitize-payload",
                "clearselectors",
                "-@all",
            ] {
                self.apply(step.as_bytes())?;
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// The flag names, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        FLAG_NAMES
            .iter()
            .filter(|(f, _)| self.flags & f != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// The user's rules in `ACL LIST` / ACL file form (after the name).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for name in self.flag_names() {
            out.push_str(name);
            out.push(' ');
        }
        for p in &self.passwords {
            out.push('#');
            out.push_str(p);
            out.push(' ');
        }
        for s in &self.selectors {
            if s.root {
                out.push_str(&s.describe());
            } else {
                out.push_str(&format!(" ({})", s.describe()));
            }
        }
        out
    }
}

/// Joins selector definitions split over several arguments (`(+get`
/// `~x)`), as Redis accepts them; on an unclosed `(` returns the index of
/// the argument that opened it.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, &op) in args.iter().enumerate() {
        if let Some((start, mut sel)) = open.take() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(sel);
            } else {
                open = Some((start, sel));
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((i, op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(ops: &[&str]) -> Rules {
        let mut r = Rules::default();
        for op in ops {
            r.apply(op.as_bytes()).unwrap();
        }
        r
    }

    #[test]
    fn constant_time_compare_checks_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn descriptions_match_redis() {
        assert_eq!(Rules::default().describe(), "off resetchannels -@all");
        assert_eq!(Rules::default_user().describe(), "on nopass ~* &* +@all");
        let r = rules(&["on", "~app:*", "%R~r:*", "&ch*", "+@read", "(+get ~x*)"]);
        assert_eq!(
            r.describe(),
            "on ~app:* %R~r:* resetchannels &ch* -@all +@read (~x* resetchannels -@all +get)"
        );
        assert_eq!(
            rules(&["+@all", "-@dangerous"]).describe(),
            "off resetchannels +@all -@dangerous"
        );
        assert_eq!(
            rules(&["reset", "+select|0"]).selectors[0].describe_commands(),
            "-@all +select|0"
        );
    }

    #[test]
    fn rule_errors() {
        let mut r = Rules::default();
        assert_eq!(r.apply(b"+nosuch"), Err(RuleError::Unknown));
        assert_eq!(r.apply(b"foo"), Err(RuleError::Syntax));
        assert_eq!(r.apply(b"#abc"), Err(RuleError::BadHash));
        assert_eq!(r.apply(b"<nope"), Err(RuleError::NoSuchPassword));
        assert_eq!(r.apply(b"+config|get|x"), Err(RuleError::FirstArgOfSub));
        assert_eq!(r.apply(b"+get|"), Err(RuleError::Syntax));
        assert_eq!(r.apply(b"%X~a"), Err(RuleError::Syntax));
        r.apply(b"allkeys").unwrap();
        assert_eq!(r.apply(b"~b"), Err(RuleError::KeysAfterAll));
    }

    #[test]
    fn passwords_are_hashed() {
        let r = rules(&[">pw"]);
        assert_eq!(r.passwords, vec![hash_password(b"pw")]);
        assert!(r.password_matches(b"pw"));
        assert!(!r.password_matches(b"px"));
    }

    #[test]
    fn selector_arguments_merge() {
        let args: Vec<&[u8]> = vec![b"on", b"(+get", b"~x)", b"(+set)"];
        assert_eq!(
            merge_selector_args(&args).unwrap(),
            vec![b"on".to_vec(), b"(+get ~x)".to_vec(), b"(+set)".to_vec()]
        );
        let args: Vec<&[u8]> = vec![b"on", b"(+get"];
        assert_eq!(merge_selector_args(&args), Err(1));
    }
}
