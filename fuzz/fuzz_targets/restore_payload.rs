//! Feeds arbitrary bytes to the RESTORE payload parser, both as they come
//! (footer checks) and with a valid version and checksum appended, so the
//! value decoder itself is exercised.
#![no_main]

use std::sync::OnceLock;

use ferrokv::config::{Config, Encodings};
use ferrokv::persist::rdb::{crc64, restore_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static ENC: OnceLock<Encodings> = OnceLock::new();
    let enc = ENC.get_or_init(|| Config::default().encodings);
    let _ = restore_value(data, enc);
    let mut payload = data.to_vec();
    payload.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let _ = restore_value(&payload, enc);
});
