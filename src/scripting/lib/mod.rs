//! The extra Lua libraries Redis exposes to scripts (cjson, cmsgpack, bit,
//! struct). Placeholder registering nothing until the `lualib` branch, which
//! owns this module, is merged.

/// Registers the libraries in `lua`'s globals.
pub fn load(_lua: &mlua::Lua) -> mlua::Result<()> {
    Ok(())
}
