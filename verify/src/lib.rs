//! Key-by-key comparison of two Redis servers or clusters: the oracle behind `slotstream verify`. [`verify`]
//! returns a [`VerifyReport`] (data: counts and the differing keys) and prints nothing.
//!
//! For every db that holds keys on either side, the source is SCANned and each batch of keys is
//! judged in a few pipelines per side: `TYPE` and expiry, then lengths, then the values of small
//! keys together; big keys, streams and module types are read one at a time, page by page.
//! When the source has hash field TTLs (Redis 7.4+, Valkey 9+), the expiry of every field of
//! each hash is read too and compared like key TTLs. A second SCAN over the target finds keys
//! the source lacks. Keys under the bookkeeping prefix are slotstream's own and are skipped on
//! both sides. Either side may be a Redis Cluster given by any node: each primary is SCANned in
//! turn, and each key is read on the node that holds it.
//!
//! A key that is present on one side only, or that disappears while being read, may simply
//! have expired mid-check: it is judged a second time, and a key gone from both sides by then
//! is not a difference.
//!
//! # Layout
//! Each module uses only those listed before it (see README.md).
//! - [`error`]: [`VerifyError`] and [`Role`] (source or target).
//! - [`report`]: [`VerifyReport`], the counts, differences and warnings; `escape` for bytes.
//! - [`scope`]: [`Scope`], which source database goes to which target database
//!   (`--map-db`) and which keys the copy holds (the filters).
//! - `reply`: reading the `redis` crate's replies (strings, integers, maps, error codes).
//! - `nodes`: `Nodes`, the server or a cluster's primaries and which holds each slot.
//! - `side`: `Side`, one server or cluster: connecting, capabilities, databases, SCAN pages,
//!   each key's type and expiry.
//! - `value`: lengths and values of the core types, pipelined or paged, as `Content`.
//! - `compare`: TTL and content comparison of values already read (pure).
//! - `field_ttl`: hash field TTLs, read with `HPEXPIRETIME` and compared.
//! - `stream_info`: a stream's metadata, groups, consumers and pending entries, read and
//!   compared.
//! - `stream`: stream entries page by page, then `stream_info`.
//! - `module`: module types, by their reader command or `DUMP` payload.
//! - `verifier`: [`verify`], which walks the databases and judges keys in batches.

#![forbid(unsafe_code)]

mod compare;
pub mod error;
mod field_ttl;
mod module;
mod nodes;
mod options;
mod reply;
pub mod report;
pub mod scope;
mod side;
mod stream;
mod stream_info;
mod value;
mod verifier;

pub use error::{Role, VerifyError};
pub use report::{escape, DbCounts, DiffKind, Difference, VerifyReport, Warning};
pub use scope::Scope;
pub use verifier::{verify, VerifyOptions};
