//! Loading the AOF at start-up: the files of the manifest in order, each
//! command replayed through the command table by a client without a
//! connection, MULTI … EXEC blocks applied whole.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::manifest::Manifest;
use crate::command::{execute, resolve, ClientState};
use crate::persist::rdb;
use crate::protocol::reply::Reply;
use crate::server::Server;

/// How parsing the next command ended.
pub(crate) enum Next {
    /// A command: its arguments and the offset after it.
    Command(Vec<Vec<u8>>, usize),
    /// The file ends cleanly here.
    End,
    /// The file ends in the middle of a command.
    Truncated,
    /// Not RESP where a command should start.
    Bad,
    /// An annotation line (`#TS:…` written with aof-timestamp-enabled):
    /// skipped up to this offset, as Redis's loader does.
    Annotation(usize),
}

/// Reads `\r\n`-terminated `<prefix><number>` at `pos`.
fn number_line(data: &[u8], pos: usize, prefix: u8) -> Result<Option<(i64, usize)>, ()> {
    let Some(rest) = data.get(pos..) else {
        return Ok(None);
    };
    if rest.is_empty() {
        return Ok(None);
    }
    if rest[0] != prefix {
        return Err(());
    }
    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    if nl < 2 || rest[nl - 1] != b'\r' {
        return Err(());
    }
    let n = crate::util::num::parse_i64(&rest[1..nl - 1]).ok_or(())?;
    Ok(Some((n, pos + nl + 1)))
}

/// Parses one command at `pos` (shared with the replica's command
/// stream, which is the same RESP).
pub(crate) fn next_command(data: &[u8], pos: usize) -> Next {
    if pos >= data.len() {
        return Next::End;
    }
    if data[pos] == b'#' {
        return match data[pos..].iter().position(|&b| b == b'\n') {
            Some(nl) => Next::Annotation(pos + nl + 1),
            None => Next::Truncated,
        };
    }
    let (argc, mut at) = match number_line(data, pos, b'*') {
        Ok(Some(x)) => x,
        Ok(None) => return Next::Truncated,
        Err(()) => return Next::Bad,
    };
    if argc < 1 {
        return Next::Bad;
    }
    let mut args = Vec::with_capacity(argc.min(1024) as usize);
    for _ in 0..argc {
        let (len, start) = match number_line(data, at, b'$') {
            Ok(Some(x)) => x,
            Ok(None) => return Next::Truncated,
            Err(()) => return Next::Bad,
        };
        let Ok(len) = usize::try_from(len) else {
            return Next::Bad;
        };
        let end = start.saturating_add(len);
        if end.saturating_add(2) > data.len() {
            return Next::Truncated;
        }
        if &data[end..end + 2] != b"\r\n" {
            return Next::Bad;
        }
        args.push(data[start..end].to_vec());
        at = end + 2;
    }
    Next::Command(args, at)
}

/// A client without a connection that replays commands (also the
/// replica's client for its primary's stream).
pub(crate) struct Loader<'a> {
    server: &'a Server,
    client: ClientState,
    out: Reply,
}

impl<'a> Loader<'a> {
    pub(crate) fn new(server: &'a Server, name: &str) -> Self {
        let handle = server.clients.register(name.into(), String::new(), -1);
        Self {
            server,
            client: ClientState::new(handle, true),
            out: Reply::new(),
        }
    }

    /// Runs one command, discarding its reply; an unknown command is an
    /// error (worded for the AOF) and is not run.
    pub(crate) fn run(&mut self, args: &[Vec<u8>]) -> Result<(), String> {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        if let Err(msg) = resolve(self.server, &args) {
            if msg.starts_with(b"ERR unknown command") {
                return Err(format!(
                    "Unknown command '{}' reading the append only file",
                    String::from_utf8_lossy(args[0])
                ));
            }
        }
        execute(self.server, &mut self.client, &mut self.out, &args);
        self.out.buf.clear();
        self.client.action = None;
        Ok(())
    }

    /// The client's entry in the client list (CLIENT KILL reaches it there).
    pub(crate) fn handle(&self) -> Arc<crate::server::clients::ClientHandle> {
        self.client.handle.clone()
    }

    fn in_multi(&self) -> bool {
        self.client.multi.is_some()
    }
}

impl Drop for Loader<'_> {
    fn drop(&mut self) {
        self.server.clients.unregister(self.client.id);
    }
}

/// Replays one file's commands from `start`. `last` says whether it is
/// the last file of the manifest (the only one that may be truncated).
fn replay(
    loader: &mut Loader,
    path: &Path,
    data: &[u8],
    start: usize,
    last: bool,
    truncated_ok: bool,
) -> Result<(), String> {
    let name = path.display();
    let mut pos = start;
    // Offset of the MULTI of an unfinished transaction: a file cut inside
    // one is truncated before it, so the transaction stays all or nothing.
    let mut multi_at = None;
    loop {
        match next_command(data, pos) {
            Next::Command(args, end) => {
                let is = |name: &[u8]| args[0].eq_ignore_ascii_case(name);
                if is(b"MULTI") {
                    multi_at = Some(pos);
                } else if is(b"EXEC") {
                    multi_at = None;
                }
                loader
                    .run(&args)
                    .map_err(|e| format!("{e} {name} at offset {pos}"))?;
                pos = end;
            }
            Next::Annotation(end) => pos = end,
            Next::End if multi_at.is_none() => return Ok(()),
            Next::End | Next::Truncated => {
                let valid = multi_at.unwrap_or(pos);
                if !last {
                    return Err(format!(
                        "Fatal error: the truncated file {name} is not the last file"
                    ));
                }
                if !truncated_ok {
                    return Err(format!(
                        "Unexpected end of file reading the append only file {name} at offset {valid}. \
                         You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. \
                         2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
                    ));
                }
                tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
                if loader.in_multi() {
                    tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
                    loader.run(&[b"DISCARD".to_vec()])?;
                }
                truncate(path, valid as u64)
                    .map_err(|e| format!("Error truncating the AOF file {name}: {e}"))?;
                tracing::warn!(
                    "AOF {name} loaded anyway because aof-load-truncated is enabled (truncated at offset {valid})"
                );
                return Ok(());
            }
            Next::Bad => {
                return Err(format!(
                    "Bad file format reading the append only file {name} at offset {pos}: \
                     make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
                ));
            }
        }
    }
}

fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()
}

/// Loads a base file written with an RDB preamble: the RDB part, then the
/// AOF commands after it. Returns the offset where the commands start.
fn load_rdb_preamble(server: &Server, path: &Path, data: &[u8]) -> Result<usize, String> {
    let opts = rdb::LoadOptions {
        encodings: server.config.read().encodings,
        // Redis keeps expired keys of a preamble: the commands after it
        // may still refer to them, and they expire lazily anyway.
        skip_expired: false,
        ..rdb::LoadOptions::default()
    };
    let stats = rdb::load_bytes(data, &server.keyspace, &opts).map_err(|e| {
        format!(
            "Bad file format reading the append only file {} (RDB preamble): {e}",
            path.display()
        )
    })?;
    crate::persist::restore_functions(server, &stats.functions)?;
    tracing::info!("Reading RDB base file on AOF loading...");
    Ok(stats.consumed)
}

/// Loads every file of `manifest` from `dir`; returns their total size.
pub fn load_all(
    server: &Arc<Server>,
    dir: &Path,
    manifest: &Manifest,
    truncated_ok: bool,
) -> Result<u64, String> {
    let files: Vec<_> = manifest.base.iter().chain(&manifest.incr).collect();
    let mut loader = Loader::new(server, "aof-loader");
    let mut total = 0;
    for (i, file) in files.iter().enumerate() {
        let path = dir.join(&file.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("The AOF file {} doesn't exist", path.display()))
            }
            Err(e) => return Err(format!("Can't read the AOF file {}: {e}", path.display())),
        };
        total += data.len() as u64;
        let start = if data.starts_with(b"REDIS") {
            load_rdb_preamble(server, &path, &data)?
        } else {
            0
        };
        replay(
            &mut loader,
            &path,
            &data,
            start,
            i + 1 == files.len(),
            truncated_ok,
        )?;
        tracing::info!(
            "DB loaded from {} file {}",
            if i == 0 && manifest.base.is_some() {
                "base"
            } else {
                "incr"
            },
            file.name
        );
    }
    forget_replay(server);
    Ok(total)
}

/// Replaying is not serving: like Redis's loader, which calls command
/// procedures directly, it leaves no trace in the command statistics, and
/// the loaded data counts as saved (`rdb_changes_since_last_save` 0).
fn forget_replay(server: &Server) {
    for cmd in server.commands.iter() {
        cmd.stats.reset();
        for sub in cmd.subcommands.values() {
            sub.stats.reset();
        }
    }
    server.stats.dirty.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_detects_truncation_and_garbage() {
        let data = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        match next_command(data, 0) {
            Next::Command(args, end) => {
                assert_eq!(args, vec![b"GET".to_vec(), b"k".to_vec()]);
                assert_eq!(end, data.len());
            }
            _ => panic!("expected a command"),
        }
        assert!(matches!(next_command(data, data.len()), Next::End));
        for cut in 1..data.len() {
            assert!(
                matches!(next_command(&data[..cut], 0), Next::Truncated),
                "cut at {cut}"
            );
        }
        assert!(matches!(next_command(b"+OK\r\n", 0), Next::Bad));
        assert!(matches!(
            next_command(b"#TS:1700000000\r\n*1\r\n", 0),
            Next::Annotation(16)
        ));
        assert!(matches!(next_command(b"*1\r\n$1\r\nab\r\n", 0), Next::Bad));
        assert!(matches!(next_command(b"*1\r\n$-5\r\n", 0), Next::Bad));
        assert!(matches!(
            next_command(b"*1\r\n$99999999999999999\r\n", 0),
            Next::Truncated
        ));
    }
}
