//! The ACL file (`aclfile`): loaded at start-up and by `ACL LOAD`, written
//! by `ACL SAVE`, one `user <name> <rules...>` line per user.

use std::collections::BTreeMap;
use std::io::Write;

use super::rules::{has_spaces, merge_selector_args, RuleError, Rules};
use super::Acl;

/// The C library's text for an I/O error (without Rust's "(os error N)").
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Parses an ACL file's text into users, or Redis's one-line description
/// of every problem found (`file` names the file in messages);
/// `pubsub_all` is `acl-pubsub-default allchannels`.
pub fn parse(
    text: &[u8],
    file: &str,
    pubsub_all: bool,
) -> Result<BTreeMap<Vec<u8>, Rules>, String> {
    let mut users: BTreeMap<Vec<u8>, Rules> = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{file}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{file}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut rules = Rules::new(pubsub_all);
        match merge_selector_args(&argv[2..]) {
            Ok(ops) => {
                for op in ops {
                    let op = op.trim_ascii();
                    match rules.apply(op) {
                        Ok(()) => {}
                        // Unknown names are safe to echo (no passwords).
                        Err(e @ RuleError::Unknown) => errors.push_str(&format!(
                            "{file}:{linenum}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(op),
                            e.message()
                        )),
                        Err(e) => errors.push_str(&format!("{file}:{linenum}: {}. ", e.message())),
                    }
                }
            }
            Err(_) => errors.push_str(&format!(
                "{file}:{linenum}: Unmatched parenthesis in selector definition."
            )),
        }
        users.insert(name.to_vec(), rules);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        Err(errors)
    }
}

/// Reads and parses the ACL file at `path`.
pub fn read(path: &str, pubsub_all: bool) -> Result<BTreeMap<Vec<u8>, Rules>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            strerror(&e)
        )
    })?;
    parse(&text, path, pubsub_all)
}

/// The file's content for the current users.
pub fn render(acl: &Acl) -> Vec<u8> {
    let mut out = Vec::new();
    for user in acl.users() {
        out.extend_from_slice(b"user ");
        out.extend_from_slice(&user.name);
        out.push(b' ');
        out.extend_from_slice(user.rules().describe().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Writes the users to `path` atomically (temporary file, then rename).
pub fn save(acl: &Acl, path: &str) -> std::io::Result<()> {
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::util::time::now_ms()
    );
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&render(acl))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reports_every_error_like_redis() {
        let text = b"user a on >x ~* +@all\n\nuser a off\nfoo bar\nuser b +nosuch\nuser  c on\n";
        let err = parse(text, "f.acl", false).err().unwrap();
        assert_eq!(
            err,
            "WARNING: Duplicate user 'a' found on line 3. f.acl:4 should start with user keyword followed by the username. f.acl:5: Error in applying operation '+nosuch': Unknown command or category name in ACL. f.acl:6: Syntax error. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        );
        let users = parse(b"user a on nopass ~* &* +@all\n", "f", false).unwrap();
        assert_eq!(users[b"a".as_slice()].describe(), "on nopass ~* &* +@all");
    }
}
