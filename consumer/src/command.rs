//! Live commands as the destination gets them: the source's arguments, sent as they are.

use slotstream_schemas::Command;

/// The command to send, and the name to show in errors (its first key, or its name).
pub fn build_command(command: Command) -> (Vec<u8>, redis::Cmd) {
    let mut args = command.args.into_iter().map(|a| a.0);
    let name = args.next().unwrap_or_default();
    let mut cmd = redis::Cmd::new();
    cmd.arg(&name[..]);
    let mut shown = None;
    for arg in args {
        if shown.is_none() {
            shown = Some(arg.clone());
        }
        cmd.arg(arg);
    }
    (shown.unwrap_or(name), cmd)
}

/// The database a `SELECT` command selects.
pub fn cmd_db(cmd: &redis::Cmd) -> Option<u32> {
    let arg = cmd.args_iter().nth(1)?;
    match arg {
        redis::Arg::Simple(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        _ => None,
    }
}
