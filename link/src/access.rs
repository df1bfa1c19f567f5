//! Whether an account may run what slotstream will send it, asked before any write with
//! `ACL DRYRUN` (Redis 7.0+, Valkey): the commands each side needs ([`SOURCE_NEEDS`],
//! [`TARGET_NEEDS`]) and the answers read as allowed, missing, or "cannot tell" (an older server,
//! or an account that may not run `ACL WHOAMI`/`ACL DRYRUN`: then a missing permission shows
//! when the command is first sent, as the server's `NOPERM`).

use redis::{RedisResult, Value};

/// A command a side sends, in a form `ACL DRYRUN` accepts, and what it is for.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// The command and arguments as sent (keys named as slotstream's own are).
    pub command: &'static [&'static str],
    /// The ACL rule that allows it, for the advice.
    pub rule: &'static str,
    pub what_for: &'static str,
    /// Without it the copy cannot run; otherwise only a report or a check is lost.
    pub required: bool,
}

const fn need(
    command: &'static [&'static str],
    rule: &'static str,
    what_for: &'static str,
    required: bool,
) -> Need {
    Need {
        command,
        rule,
        what_for,
        required,
    }
}

/// What the capture sends the source (README, "Least privilege", lists the same rules).
pub const SOURCE_NEEDS: &[Need] = &[
    need(&["PSYNC", "?", "-1"], "+psync", "replicating", true),
    need(&["REPLCONF", "ACK", "0"], "+replconf", "replicating", true),
    need(&["PING"], "+ping", "checking the link", true),
    need(
        &["INFO", "replication"],
        "+info",
        "reading the server's role",
        true,
    ),
    need(
        &["COMMAND"],
        "+command",
        "reading which arguments are keys",
        true,
    ),
    need(
        &["CONFIG", "GET", "repl-backlog-size"],
        "+config|get",
        "the backlog report",
        false,
    ),
    need(
        &["MODULE", "LIST"],
        "+module|list",
        "checking module values",
        false,
    ),
    need(
        &["SELECT", "0"],
        "+select",
        "looking for hash field TTLs",
        false,
    ),
    need(
        &["SCAN", "0"],
        "+scan",
        "looking for hash field TTLs",
        false,
    ),
    need(
        &["HKEYS", "k"],
        "+hkeys and %R~*",
        "looking for hash field TTLs",
        false,
    ),
];

/// What the capture sends a node of a cluster source, besides [`SOURCE_NEEDS`].
pub const SOURCE_CLUSTER_NEEDS: &[Need] = &[
    need(
        &["CLUSTER", "SLOTS"],
        "+cluster|slots",
        "finding the shards",
        true,
    ),
    need(
        &["CLUSTER", "NODES"],
        "+cluster|nodes",
        "following a resharding",
        true,
    ),
];

/// What the apply side sends the target for every copy (live commands need the source's write
/// commands besides: README, "Least privilege").
pub const TARGET_NEEDS: &[Need] = &[
    need(&["INFO", "server"], "+info", "reading the version", true),
    need(&["SELECT", "0"], "+select", "choosing databases", true),
    need(
        &["MULTI"],
        "+multi",
        "applying a batch with its checkpoint",
        true,
    ),
    need(
        &["EXEC"],
        "+exec",
        "applying a batch with its checkpoint",
        true,
    ),
    need(
        &["HSET", "__slotstream:checkpoint:x", "offset", "0"],
        "+hset and ~__slotstream:*",
        "writing checkpoints",
        true,
    ),
    need(
        &["HGETALL", "__slotstream:checkpoint:x"],
        "+hgetall and ~__slotstream:*",
        "reading checkpoints",
        true,
    ),
    need(
        &["RESTORE", "k", "0", "v", "REPLACE"],
        "+restore",
        "writing snapshot values",
        true,
    ),
    need(
        &["MSET", "k", "v"],
        "+mset",
        "writing snapshot strings",
        true,
    ),
    need(&["DEL", "k"], "+del", "replacing keys", true),
    need(
        &["PEXPIREAT", "k", "0"],
        "+pexpireat",
        "writing expiry times",
        true,
    ),
    need(
        &["RENAME", "k", "k2"],
        "+rename",
        "moving big values into place",
        true,
    ),
    need(
        &["SCAN", "0"],
        "+scan",
        "sweeps and the look for keys of its own",
        true,
    ),
    need(
        &["EXISTS", "k"],
        "+exists",
        "the look for keys of its own",
        true,
    ),
];

/// What `ACL DRYRUN` said of one command.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// The server's reason (`User x has no permissions to run the 'psync' command`).
    Denied(String),
    /// The question could not be asked: the server's error.
    CannotTell(String),
}

/// `ACL DRYRUN <user> <command…>`.
pub fn dryrun(user: &str, need: &Need) -> redis::Cmd {
    let mut cmd = redis::cmd("ACL");
    cmd.arg("DRYRUN").arg(user).arg(need.command);
    cmd
}

/// Reads `ACL DRYRUN`'s reply: `OK`, else the reason as a bulk string; an error reply means the
/// question could not be asked (no `ACL DRYRUN`, no permission to run it, a command this server
/// does not have).
pub fn verdict(reply: RedisResult<Value>) -> Verdict {
    match reply {
        Ok(Value::Okay) => Verdict::Allowed,
        Ok(Value::SimpleString(text)) if text == "OK" => Verdict::Allowed,
        Ok(Value::BulkString(bytes)) => Verdict::Denied(String::from_utf8_lossy(&bytes).into()),
        Ok(Value::SimpleString(text)) => Verdict::Denied(text),
        Ok(other) => Verdict::CannotTell(format!("unexpected reply {other:?}")),
        Err(err) => Verdict::CannotTell(err.to_string()),
    }
}

/// What the up-front check found.
#[derive(Debug, Default)]
pub struct Access {
    /// `None` when the check could not be made: why.
    pub unchecked: Option<String>,
    /// Needs denied, with the server's reason.
    pub denied: Vec<(Need, String)>,
}

impl Access {
    /// The denied needs without which the copy cannot run, as one message: each command, what
    /// it is for, and the rules that allow them all.
    pub fn refusal(&self, side: &str, user: &str) -> Option<String> {
        let required: Vec<&(Need, String)> =
            self.denied.iter().filter(|(n, _)| n.required).collect();
        if required.is_empty() {
            return None;
        }
        Some(format!(
            "the {side} account {user:?} may not run {}; allow them with `ACL SETUSER {user} {}` \
             (README, \"Least privilege\", lists every rule a {side} account needs)",
            describe(&required),
            rules(&required)
        ))
    }

    /// The denied needs the copy can do without, as one warning.
    pub fn warning(&self, side: &str, user: &str) -> Option<String> {
        let optional: Vec<&(Need, String)> =
            self.denied.iter().filter(|(n, _)| !n.required).collect();
        if optional.is_empty() {
            return None;
        }
        Some(format!(
            "the {side} account {user:?} may not run {}; the copy goes on without them \
             (`ACL SETUSER {user} {}` allows them)",
            describe(&optional),
            rules(&optional)
        ))
    }
}

impl Access {
    /// What the check means for a run: logs a note when it could not be made and a warning for
    /// optional permissions missing; `Err` with the refusal when a required one is.
    pub fn settle(&self, side: &str, user: &str, addr: &str) -> Result<(), String> {
        if let Some(why) = &self.unchecked {
            tracing::info!(
                %addr,
                %why,
                "cannot check the {side} account's permissions up front; a missing one shows as \
                 NOPERM when first used"
            );
            return Ok(());
        }
        if let Some(warning) = self.warning(side, user) {
            tracing::warn!(%addr, "{warning}");
        }
        match self.refusal(side, user) {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }
}

fn describe(needs: &[&(Need, String)]) -> String {
    needs
        .iter()
        .map(|(need, _)| format!("{} ({})", need.command[0], need.what_for))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rules(needs: &[&(Need, String)]) -> String {
    let mut rules: Vec<&str> = Vec::new();
    for (need, _) in needs {
        for rule in need.rule.split(" and ") {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    }
    rules.join(" ")
}

/// Asks about every need over a blocking connection, for `user` (the URL's; else the account
/// the connection is logged in as, from `ACL WHOAMI`, else `default`).
pub fn check(
    conn: &mut redis::Connection,
    user: Option<&str>,
    needs: &[&[Need]],
) -> (String, Access) {
    let user = match user {
        Some(user) => user.to_string(),
        None => redis::cmd("ACL")
            .arg("WHOAMI")
            .query(conn)
            .unwrap_or_else(|_| "default".to_string()),
    };
    let mut access = Access::default();
    for need in needs.iter().flat_map(|n| n.iter()) {
        if let Err(why) = judge(&mut access, need, verdict(dryrun(&user, need).query(conn))) {
            return (user, unchecked(why));
        }
    }
    (user, access)
}

/// [`check`] over an async connection.
pub async fn check_async(
    conn: &mut redis::aio::MultiplexedConnection,
    user: Option<&str>,
    needs: &[&[Need]],
) -> (String, Access) {
    let user = match user {
        Some(user) => user.to_string(),
        None => redis::cmd("ACL")
            .arg("WHOAMI")
            .query_async(conn)
            .await
            .unwrap_or_else(|_| "default".to_string()),
    };
    let mut access = Access::default();
    for need in needs.iter().flat_map(|n| n.iter()) {
        let answer = verdict(dryrun(&user, need).query_async(conn).await);
        if let Err(why) = judge(&mut access, need, answer) {
            return (user, unchecked(why));
        }
    }
    (user, access)
}

/// Adds `need` to `access` when denied; `Err` when the question could not be asked.
fn judge(access: &mut Access, need: &Need, answer: Verdict) -> Result<(), String> {
    match answer {
        Verdict::Allowed => Ok(()),
        Verdict::Denied(why) => {
            access.denied.push((*need, why));
            Ok(())
        }
        // A command this server does not have (an older version) is not a permission.
        Verdict::CannotTell(why) if is_unknown_command(&why) => Ok(()),
        Verdict::CannotTell(why) => Err(format!(
            "ACL DRYRUN: {why} (allow it with +acl|dryrun for the check)"
        )),
    }
}

fn unchecked(why: String) -> Access {
    Access {
        unchecked: Some(why),
        denied: Vec::new(),
    }
}

/// `ACL DRYRUN` of a command this server does not have (`ERR Command 'x' not found`, an older
/// version): not a permission. (A server without `ACL DRYRUN` at all says "unknown command" or
/// "unknown subcommand": then nothing can be told.)
fn is_unknown_command(why: &str) -> bool {
    why.contains("not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_as_verdicts() {
        assert_eq!(verdict(Ok(Value::Okay)), Verdict::Allowed);
        let denied = b"User u has no permissions to run the 'psync' command".to_vec();
        assert!(
            matches!(verdict(Ok(Value::BulkString(denied))), Verdict::Denied(w) if w.contains("psync"))
        );
    }

    #[test]
    fn a_refusal_names_each_command_and_the_rules_once() {
        let mut access = Access::default();
        access.denied.push((SOURCE_NEEDS[0], "no".into()));
        access.denied.push((SOURCE_NEEDS[1], "no".into()));
        access.denied.push((SOURCE_NEEDS[6], "no".into()));
        let refusal = access.refusal("source", "copier").unwrap();
        assert!(
            refusal.contains("PSYNC (replicating), REPLCONF (replicating)"),
            "{refusal}"
        );
        assert!(
            refusal.contains("ACL SETUSER copier +psync +replconf`"),
            "{refusal}"
        );
        let warning = access.warning("source", "copier").unwrap();
        assert!(
            warning.contains("MODULE (checking module values)"),
            "{warning}"
        );
        assert!(Access::default().refusal("source", "u").is_none());
    }
}
