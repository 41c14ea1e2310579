//! Process housekeeping around the server: `daemonize` and `pidfile`.

use std::path::PathBuf;

use crate::config::Config;

/// Where a daemonized server without `pidfile` writes its pid (Redis
/// uses `/var/run/redis.pid` the same way).
const DEFAULT_DAEMON_PIDFILE: &str = "/var/run/ferrokv.pid";

/// Detaches into the background like Redis's `daemonize yes`: the parent
/// exits at once, the child leaves the terminal's session and points its
/// standard streams at /dev/null. Must run before any thread is started
/// (fork copies only the calling thread).
pub fn daemonize() -> Result<(), String> {
    // SAFETY: called from main before the runtime or any other thread
    // exists, so the child gets a consistent copy of the process.
    match unsafe { libc::fork() } {
        -1 => return Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain system calls on descriptors this process owns.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, libc::STDIN_FILENO);
            libc::dup2(null, libc::STDOUT_FILENO);
            libc::dup2(null, libc::STDERR_FILENO);
            if null > libc::STDERR_FILENO {
                libc::close(null);
            }
        }
    }
    Ok(())
}

/// The pid file of a running server: written on creation, removed when
/// dropped (at a clean exit).
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes the pid file `config` asks for, if any. A failure is logged
    /// and tolerated, as in Redis: the server still runs.
    pub fn create(config: &Config) -> Option<PidFile> {
        let path = match (config.pidfile.as_str(), config.daemonize) {
            ("", false) => return None,
            ("", true) => DEFAULT_DAEMON_PIDFILE,
            (path, _) => path,
        };
        // Absolute, so removal finds it whatever the working directory.
        let path = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
        match std::fs::write(&path, format!("{}\n", std::process::id())) {
            Ok(()) => Some(PidFile { path }),
            Err(e) => {
                tracing::warn!("Failed to write PID file {}: {e}", path.display());
                None
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!("Failed to remove PID file {}: {e}", self.path.display());
        }
    }
}
