//! How slotstream reaches a Redis server: the URL ([`ServerUrl`], `redis://` or `rediss://`),
//! TLS settings ([`TlsFiles`] on the command line, [`Tls`] loaded), and the streams its own
//! protocol code reads and writes ([`Stream`] blocking, [`AsyncStream`] for tokio). Connections
//! made through the `redis` crate get the same TLS from [`Tls::client`].
//!
//! One TLS stack for every link: OpenSSL, through `native-tls`, which librdkafka links already.

mod error;
mod nonblocking;
mod stream;
mod tls;
mod url;

pub use error::{LinkError, TlsError};
pub use nonblocking::AsyncStream;
pub use stream::Stream;
pub use tls::{Tls, TlsFiles};
pub use url::ServerUrl;
