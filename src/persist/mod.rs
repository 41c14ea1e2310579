//! Persistence: the RDB snapshot format, snapshots and the append-only
//! file.

pub mod aof;
pub mod rdb;
pub mod snapshot;

use crate::server::Server;

/// The loaded function libraries' code, as RDB `FUNCTION2` records hold it.
pub fn function_sources(server: &Server) -> Vec<String> {
    server
        .scripting
        .library_codes()
        .iter()
        .map(|code| String::from_utf8_lossy(code).into_owned())
        .collect()
}

/// Installs the function libraries an RDB file (or AOF preamble) carried.
pub fn restore_functions(server: &Server, sources: &[String]) -> Result<(), String> {
    if sources.is_empty() {
        return Ok(());
    }
    server.scripting.restore_libraries(sources).map_err(|e| {
        format!(
            "Failed loading functions: {}",
            String::from_utf8_lossy(e.bytes())
        )
    })
}
