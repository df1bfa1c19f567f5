//! Errors of the capture side, each naming the source and what the operator can do.

use slotstream_rdb::RdbError;
use slotstream_schemas::log::LogError;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("bad source URL {url}: {why}")]
    BadUrl { url: String, why: String },

    #[error("cannot connect to source {addr}: {cause}; check --source and that the server is up")]
    Connect { addr: String, cause: std::io::Error },

    #[error(
        "source {addr} refused the credentials: {reply}; check the user and password in --source"
    )]
    Auth { addr: String, reply: String },

    #[error("source {addr} refused {command}: {reply}")]
    Refused {
        addr: String,
        command: String,
        reply: String,
    },

    #[error("source {addr} broke the replication protocol: {what}")]
    Protocol { addr: String, what: String },

    #[error("lost the link to source {addr} while {doing}: {cause}")]
    Io {
        addr: String,
        doing: String,
        cause: std::io::Error,
    },

    #[error("snapshot from source {addr} is unusable: {cause}")]
    Rdb { addr: String, cause: RdbError },

    #[error("cannot write to the log")]
    Log(#[from] LogError),
}
