//! Feeds arbitrary bytes to the RDB file loader: it must return an error
//! or load, never panic or allocate from an unchecked length.
#![no_main]

use std::sync::OnceLock;

use ferrokv::keyspace::Keyspace;
use ferrokv::persist::rdb::{load_bytes, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static OPTS: OnceLock<LoadOptions> = OnceLock::new();
    let opts = OPTS.get_or_init(LoadOptions::default);
    let _ = load_bytes(data, &Keyspace::new(16), opts);
});
