//! How slotstream reaches a Redis server: the URL ([`ServerUrl`], `redis://` or `rediss://`),
//! TLS settings ([`TlsFiles`] on the command line, [`Tls`] loaded), and the streams its own
//! protocol code reads and writes ([`Stream`] blocking, [`AsyncStream`] for tokio). Connections
//! made through the `redis` crate get the same TLS from [`Tls::client`].
//!
//! [`sentinel`] finds the current primary of a `redis+sentinel://` URL. [`access`] asks, before any write, whether the account of a side may run what slotstream
//! will send it.
//!
//! One TLS stack for every link: OpenSSL, through `native-tls`, which librdkafka links already.

pub mod access;
mod error;
mod nonblocking;
pub mod sentinel;
mod stream;
mod tls;
mod url;

pub use error::{LinkError, TlsError};
pub use nonblocking::AsyncStream;
pub use stream::Stream;
pub use tls::{Tls, TlsFiles};
pub use url::ServerUrl;
