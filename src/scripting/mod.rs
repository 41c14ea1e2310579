//! Lua scripting.

pub mod lib;
