//! The command table and the dispatcher that runs a parsed request.

mod ctx;
mod dispatch;
mod error;
mod table;

pub use ctx::{Action, ClientState, Ctx, LocalStats, MultiState, ReplyMode, Subscriptions};
pub use dispatch::{execute, execute_internal, invoke, resolve};
pub use error::{c_str, CmdError, CmdResult};
pub use table::{flags, Command, CommandStats, CommandTable, Handler, TableBuilder};
