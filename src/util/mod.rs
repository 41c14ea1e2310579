//! Small helpers shared by every command family.

pub mod crc16;
pub mod glob;
pub mod long_double;
pub mod num;
pub mod rand;
pub mod time;
