//! Function libraries (FUNCTION LOAD, FCALL): library metadata, the
//! `redis.register_function` API available while a library loads, and
//! the registry of loaded libraries.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mlua::{Function, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;

use super::vm::table_error;
use super::{call, script_flags, split_keys, Engine, Invocation, RunOptions};
use crate::command::{CmdError, CmdResult, Ctx};

/// A registered function.
pub struct FunctionInfo {
    /// Its name.
    pub name: String,
    /// The Lua callback.
    func: Function,
    /// [`script_flags`] bits.
    pub flags: u32,
    /// Optional description.
    pub description: Option<String>,
}

/// A loaded library.
pub struct Library {
    /// Its name (from `#!lua name=…`).
    pub name: String,
    /// The code as loaded.
    pub code: Vec<u8>,
    /// Its functions, by name.
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// Every loaded library, plus an index of function names.
#[derive(Default)]
pub struct Libraries {
    /// Libraries by name.
    pub libs: BTreeMap<String, Library>,
    /// Lower-cased function name -> library name (FCALL finds
    /// functions case-insensitively, as Redis does).
    index: HashMap<String, String>,
}

impl Libraries {
    /// Number of registered functions.
    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Removes a library; false when absent.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(lib) = self.libs.remove(name) else {
            return false;
        };
        for f in lib.functions.keys() {
            self.index.remove(&f.to_ascii_lowercase());
        }
        true
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.libs.clear();
        self.index.clear();
    }

    /// Adds a library whose function names were checked.
    fn insert(&mut self, lib: Library) {
        for f in lib.functions.keys() {
            self.index.insert(f.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    /// The first function of `lib` that another library already has.
    fn collision(&self, lib: &Library) -> Option<String> {
        lib.functions
            .keys()
            .find(|f| {
                self.index
                    .get(&f.to_ascii_lowercase())
                    .is_some_and(|owner| *owner != lib.name)
            })
            .cloned()
    }
}

/// Redis's rule for library and function names.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Parses the `#!lua name=…` header; returns the library name.
fn parse_metadata(code: &[u8]) -> Result<String, CmdError> {
    if !code.starts_with(b"#!") {
        return Err(CmdError::err("ERR Missing library metadata"));
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err(CmdError::err("ERR Invalid library metadata"));
    };
    let line = String::from_utf8_lossy(&code[2..end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("").to_string();
    let mut name = None;
    for part in parts {
        match part.strip_prefix("name=") {
            Some(n) if name.is_none() => name = Some(n.to_string()),
            Some(_) => {
                return Err(CmdError::err(
                    "ERR Invalid metadata value, name argument was given multiple times",
                ))
            }
            None => {
                return Err(CmdError::msg(format!(
                    "ERR Invalid metadata value given: {part}"
                )))
            }
        }
    }
    let Some(name) = name else {
        return Err(CmdError::err("ERR Library name was not given"));
    };
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(CmdError::msg(format!("ERR Engine '{engine}' not found")));
    }
    if !valid_name(&name) {
        return Err(CmdError::msg(format!("ERR {BAD_NAME}")));
    }
    Ok(name)
}

/// A string argument as Lua's `lua_tostring` sees it.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string_lossy()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(n) => Some(crate::util::num::format_g17(*n)),
        _ => None,
    }
}

/// Reads `register_function`'s arguments into a function entry.
fn registration(args: MultiValue) -> mlua::Result<FunctionInfo> {
    let (name, func, flags, description) = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return Err(table_error("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
            };
            named_registration(t)?
        }
        2 => {
            let name = as_text(&args[0]).ok_or_else(|| {
                table_error("first argument to redis.register_function must be a string")
            })?;
            let Value::Function(f) = &args[1] else {
                return Err(table_error(
                    "second argument to redis.register_function must be a function",
                ));
            };
            (name, f.clone(), 0, None)
        }
        _ => {
            return Err(table_error(
                "wrong number of arguments to redis.register_function",
            ))
        }
    };
    if !valid_name(&name) {
        return Err(table_error(BAD_NAME));
    }
    Ok(FunctionInfo {
        name,
        func,
        flags,
        description,
    })
}

type Named = (String, Function, u32, Option<String>);

fn named_registration(t: &Table) -> mlua::Result<Named> {
    let (mut name, mut func, mut flags, mut description) = (None, None, 0, None);
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let key = match &k {
            Value::String(s) => s.to_string_lossy(),
            _ => String::new(),
        };
        match key.as_str() {
            "function_name" => {
                match as_text(&v) {
                    Some(s) => name = Some(s),
                    None => return Err(table_error(
                        "function_name argument given to redis.register_function must be a string",
                    )),
                }
            }
            "description" => {
                match as_text(&v) {
                    Some(s) => description = Some(s),
                    None => return Err(table_error(
                        "description argument given to redis.register_function must be a string",
                    )),
                }
            }
            "callback" => match v {
                Value::Function(f) => func = Some(f),
                _ => {
                    return Err(table_error(
                        "callback argument given to redis.register_function must be a function",
                    ))
                }
            },
            "flags" => {
                let Value::Table(list) = v else {
                    return Err(table_error("flags argument to redis.register_function must be a table representing function flags"));
                };
                for flag in list.sequence_values::<Value>() {
                    let bit = match flag? {
                        Value::String(s) => script_flags::parse(&s.as_bytes()),
                        _ => None,
                    };
                    flags |= bit.ok_or_else(|| table_error("unknown flag given"))?;
                }
            }
            _ => {
                return Err(table_error(
                    "unknown argument given to redis.register_function",
                ))
            }
        }
    }
    let name = name
        .ok_or_else(|| table_error("redis.register_function must get a function name argument"))?;
    let func =
        func.ok_or_else(|| table_error("redis.register_function must get a callback argument"))?;
    Ok((name, func, flags, description))
}

/// The `redis` table library code sees while it loads.
fn load_api(lua: &Lua, registered: Arc<Mutex<Vec<FunctionInfo>>>) -> mlua::Result<Table> {
    let api = lua.create_table()?;
    api.raw_set(
        "register_function",
        lua.create_function(move |_, args: MultiValue| {
            let info = registration(args)?;
            let mut list = registered.lock();
            if list.iter().any(|f| f.name == info.name) {
                return Err(table_error("Function already exists in the library"));
            }
            list.push(info);
            Ok(())
        })?,
    )?;
    api.raw_set("log", lua.create_function(call::log)?)?;
    call::add_log_api(&api)?;
    Ok(api)
}

impl Engine {
    /// The code of every loaded library (FUNCTION DUMP, RDB `FUNCTION2`
    /// records, the AOF base).
    pub fn library_codes(&self) -> Vec<Vec<u8>> {
        self.libraries
            .lock()
            .libs
            .values()
            .map(|l| l.code.clone())
            .collect()
    }

    /// Installs the libraries found in an RDB file or AOF base, replacing
    /// libraries of the same name.
    pub fn restore_libraries(&self, codes: &[String]) -> CmdResult {
        let codes: Vec<Vec<u8>> = codes.iter().map(|c| c.as_bytes().to_vec()).collect();
        self.function_restore(&codes, RestorePolicy::Replace)
    }

    /// FUNCTION LOAD: compiles and runs the library code, then installs
    /// its functions. Returns the library name.
    pub fn function_load(&self, code: &[u8], replace: bool) -> Result<String, CmdError> {
        let name = parse_metadata(code)?;
        if !replace && self.libraries.lock().libs.contains_key(&name) {
            return Err(CmdError::msg(format!(
                "ERR Library '{name}' already exists"
            )));
        }
        let registered = Arc::new(Mutex::new(Vec::new()));
        let loaded = self.with_vm(|vm| -> Result<(), CmdError> {
            let internal = |e: mlua::Error| CmdError::msg(format!("ERR {e}"));
            let api = load_api(&vm.lua, registered.clone()).map_err(internal)?;
            let (env, rebase) = vm.library_env(api).map_err(internal)?;
            let func = vm
                .compile(code, "@user_function", env)
                .map_err(|m| CmdError::msg(format!("ERR Error compiling function: {m}")))?;
            self.run_state().loading(true);
            let loaded = vm.run_load(&func);
            self.run_state().loading(false);
            match loaded.map_err(internal)? {
                (true, _) => {}
                (false, Value::Table(t)) => {
                    let err: String = t.raw_get("err").unwrap_or_default();
                    return Err(CmdError::msg(format!(
                        "ERR Error registering functions: {err}"
                    )));
                }
                (false, _) => {
                    return Err(CmdError::err("ERR Error registering functions"));
                }
            }
            vm.open_library_env(&rebase).map_err(internal)
        });
        loaded?;
        let functions: BTreeMap<String, FunctionInfo> = std::mem::take(&mut *registered.lock())
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect();
        if functions.is_empty() {
            return Err(CmdError::err("ERR No functions registered"));
        }
        let lib = Library {
            name: name.clone(),
            code: code.to_vec(),
            functions,
        };
        let mut libs = self.libraries.lock();
        if let Some(f) = libs.collision(&lib) {
            return Err(CmdError::msg(format!("ERR Function {f} already exists")));
        }
        libs.remove(&name);
        libs.insert(lib);
        Ok(name)
    }

    /// FCALL / FCALL_RO.
    pub fn fcall(&self, ctx: &mut Ctx, args: &[&[u8]], read_only: bool) -> CmdResult {
        let name = String::from_utf8_lossy(args[1]).into_owned();
        let (func, flags) = {
            let libs = self.libraries.lock();
            let info = libs
                .index
                .get(&name.to_ascii_lowercase())
                .and_then(|lib| libs.libs.get(lib))
                .and_then(|lib| {
                    lib.functions
                        .values()
                        .find(|f| f.name.eq_ignore_ascii_case(&name))
                })
                .ok_or(CmdError::err("ERR Function not found"))?;
            (info.func.clone(), info.flags)
        };
        let (keys, argv) = split_keys(args).map_err(|e| match e {
            CmdError::NotInteger => CmdError::err("ERR Bad number of keys provided"),
            other => other,
        })?;
        let no_writes = flags & script_flags::NO_WRITES != 0;
        if read_only && !no_writes {
            return Err(CmdError::err(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let opts = RunOptions {
            eval: false,
            read_only: read_only || no_writes,
        };
        let call = Invocation { keys, argv, args };
        self.run(ctx, &func, &name, opts, call)
    }

    /// FUNCTION RESTORE of already decoded library codes: every library
    /// is loaded (`replace` as FUNCTION LOAD REPLACE), all or nothing.
    pub fn function_restore(&self, codes: &[Vec<u8>], policy: RestorePolicy) -> CmdResult {
        let saved: Vec<(Vec<u8>, String)> = self
            .libraries
            .lock()
            .libs
            .values()
            .map(|l| (l.code.clone(), l.name.clone()))
            .collect();
        if policy == RestorePolicy::Flush {
            self.libraries.lock().clear();
        }
        let mut added: Vec<String> = Vec::new();
        for code in codes {
            let result = match policy {
                RestorePolicy::Append => {
                    let name = parse_metadata(code)?;
                    if self.libraries.lock().libs.contains_key(&name) {
                        Err(CmdError::msg(format!("ERR Library {name} already exists")))
                    } else {
                        self.function_load(code, false)
                    }
                }
                _ => self.function_load(code, true),
            };
            match result {
                Ok(name) => added.push(name),
                Err(e) => {
                    // All or nothing: put the previous libraries back.
                    let mut libs = self.libraries.lock();
                    libs.clear();
                    drop(libs);
                    for (code, _) in &saved {
                        self.function_load(code, true).ok();
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// FUNCTION RESTORE's policy for existing libraries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Fail on a name collision (default).
    Append,
    /// Replace libraries of the same name.
    Replace,
    /// Drop every library first.
    Flush,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_errors_match_redis() {
        let err = |code: &[u8]| parse_metadata(code).unwrap_err().bytes().to_vec();
        assert_eq!(err(b"return 1"), b"ERR Missing library metadata");
        assert_eq!(err(b"#!lua name=a"), b"ERR Invalid library metadata");
        assert_eq!(err(b"#!py name=a\n"), b"ERR Engine 'py' not found");
        assert_eq!(err(b"#!lua\n"), b"ERR Library name was not given");
        assert_eq!(parse_metadata(b"#!lua name=lib_1\n").unwrap(), "lib_1");
    }
}
