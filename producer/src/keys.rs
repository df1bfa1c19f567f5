//! Which arguments of a replicated command are keys, decided by the source's own `COMMAND` table.
//!
//! The table is read once per connection to the source ([`CommandTable::load`]) and then
//! answers [`CommandTable::key_indices`] for every command of the replication stream, so the
//! routing follows exactly the commands (and module commands) that this source has:
//!
//! - Redis 7.0+ and Valkey describe keys with *key specs* (element 8 of each `COMMAND` entry,
//!   and of each subcommand in element 9). Every spec is followed; keys from all specs are
//!   returned once each, in argument order. Specs flagged `not_key` (sharded channels) are not
//!   keys.
//! - Older servers (5.0, 6.0, 6.2) only give first/last/step. Commands flagged `movablekeys`
//!   have no usable positions there, so a short list of explicit rules covers the ones a
//!   replication stream can carry (see `legacy`); the same rules stand in on 7.0+ where a
//!   spec is `unknown` (`SORT … STORE`) or `incomplete` (`MIGRATE … KEYS`).
//! - Anything else with movable keys is [`KeysError::Unsupported`]: routing a write by a
//!   guessed key would put it in the wrong partition without anyone noticing.
//!
//! Invariants: no input panics (indices and arithmetic are checked); a lookup allocates
//! nothing but the returned `Vec`.
//!
//! # Layout
//! - `table`: [`CommandTable`] and [`CommandInfo`], the case-insensitive lookup.
//! - `parse`: a `COMMAND` reply (RESP2 or RESP3) → table entries.
//! - `spec`: key specs and how they find keys in an argument list.
//! - `legacy`: explicit rules for movable-keys commands.
//! - `error`: [`KeysError`].

mod error;
mod legacy;
mod parse;
mod spec;
mod table;
#[cfg(test)]
mod tests;

pub use error::KeysError;
pub use table::{CommandInfo, CommandTable};
