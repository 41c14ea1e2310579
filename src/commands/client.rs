//! The CLIENT command family.

use crate::command::{CmdError, CmdResult, Ctx, TableBuilder};

/// Registers the family.
pub fn register(t: &mut TableBuilder) {
    t.add_sub("client", "id", id);
    t.add_sub("client", "setname", setname);
    t.add_sub("client", "getname", getname);
}

/// Rejects names with spaces or special characters, as Redis does.
pub fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        Ok(())
    } else {
        Err(CmdError::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

fn id(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn setname(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    validate_name(args[2])?;
    ctx.client.handle.info.lock().name = (!args[2].is_empty()).then(|| args[2].to_vec());
    ctx.out.ok();
    Ok(())
}

fn getname(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    match ctx.client.handle.info.lock().name.clone() {
        Some(name) => ctx.out.bulk(&name),
        None => ctx.out.null(),
    }
    Ok(())
}
