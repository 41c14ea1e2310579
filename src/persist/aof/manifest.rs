//! The manifest of Redis 7's multi-part AOF: which base file and which
//! incremental files, in order, make up the data, one line per file:
//! `file appendonly.aof.1.base.rdb seq 1 type b`.

use std::io::Write;
use std::path::Path;

/// The role of a file in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// The base: a full dataset (RDB preamble or AOF commands).
    Base,
    /// Superseded by a rewrite, waiting for deletion.
    History,
    /// Commands appended after the base.
    Incr,
}

impl FileType {
    fn code(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

/// One file listed in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    /// File name inside the AOF directory.
    pub name: String,
    /// Sequence number (bases and incremental files count separately).
    pub seq: u64,
    /// Its role.
    pub kind: FileType,
}

/// The parsed manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofFile>,
    /// Incremental files in replay order.
    pub incr: Vec<AofFile>,
    /// Files superseded by a rewrite, still to delete.
    pub history: Vec<AofFile>,
}

impl Manifest {
    /// Parses a manifest, rejecting what Redis rejects (unknown types,
    /// missing fields, two bases, incremental files out of order).
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let mut m = Manifest::default();
        for raw in text.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(raw);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                let [k, v] = pair else {
                    return Err("Invalid AOF manifest file format".into());
                };
                match *k {
                    "file" => name = Some(v.to_string()),
                    "seq" => seq = v.parse::<u64>().ok(),
                    "type" => {
                        kind = match *v {
                            "b" => Some(FileType::Base),
                            "h" => Some(FileType::History),
                            "i" => Some(FileType::Incr),
                            _ => return Err(format!("Unknown AOF file type: {v}")),
                        }
                    }
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            let file = AofFile { name, seq, kind };
            match kind {
                FileType::Base if m.base.is_some() => {
                    return Err("Found duplicate base file information".into())
                }
                FileType::Base => m.base = Some(file),
                FileType::History => m.history.push(file),
                FileType::Incr => {
                    if m.incr.last().is_some_and(|last| last.seq >= seq) {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incr.push(file);
                }
            }
        }
        if m.base.is_none() && m.incr.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest's text, as Redis writes it (base, history, incr).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let files = self.base.iter().chain(&self.history).chain(&self.incr);
        for f in files {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                f.name,
                f.seq,
                f.kind.code()
            ));
        }
        out
    }

    /// Sequence number of the newest incremental file.
    pub fn last_incr_seq(&self) -> u64 {
        self.incr.last().map_or(0, |f| f.seq)
    }

    /// Writes the manifest atomically: temp file, fsync, rename, fsync of
    /// the directory, so a crash leaves the old or the new one, whole.
    pub fn store(&self, dir: &Path, name: &str) -> std::io::Result<()> {
        let tmp = dir.join(format!("temp-{name}"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(self.render().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))?;
        sync_dir(dir)
    }
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_redis_format() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type i\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incr.len(), 2);
        assert_eq!(m.last_incr_seq(), 2);
        assert_eq!(m.render(), text);
    }

    #[test]
    fn rejects_bad_manifests() {
        assert!(Manifest::parse(b"").is_err());
        assert!(Manifest::parse(b"file a seq 1 type x\n").is_err());
        assert!(Manifest::parse(b"file a seq 1\n").is_err());
        assert!(Manifest::parse(b"file a seq 2 type i\nfile b seq 1 type i\n").is_err());
    }
}
