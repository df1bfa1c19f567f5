//! Errors of key extraction, each naming the command and what is wrong with it.

/// Why the keys of a command could not be found (or the table could not be read).
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read the source's command table (COMMAND): {0}")]
    Load(#[from] redis::RedisError),

    /// The `COMMAND` reply does not have the shape any known server version gives.
    #[error("unexpected COMMAND reply for '{command}': {what}")]
    BadTable { command: String, what: String },

    /// The source's table does not list the command (or its subcommand).
    #[error("unknown command '{0}': the source's COMMAND table does not list it")]
    UnknownCommand(String),

    /// The arguments do not fit what the table says about the command.
    #[error("malformed '{command}' command: {what}")]
    Malformed { command: String, what: String },

    /// The command has movable keys and nothing in the table or in the explicit rules says
    /// where they are.
    #[error("cannot tell which arguments of '{command}' are keys: {why}")]
    Unsupported { command: String, why: String },
}

impl KeysError {
    pub(crate) fn malformed(command: &str, what: impl Into<String>) -> Self {
        KeysError::Malformed {
            command: command.to_owned(),
            what: what.into(),
        }
    }

    pub(crate) fn bad_table(command: &str, what: impl Into<String>) -> Self {
        KeysError::BadTable {
            command: command.to_owned(),
            what: what.into(),
        }
    }
}
