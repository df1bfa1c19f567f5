//! How slotstream reaches each side beyond its URL: the source's and the target's password
//! files and TLS files, and the sentinels' own password.

use clap::Args;
use slotstream_link::{Tls, TlsFiles};
use std::path::PathBuf;

/// How to reach the source beyond its URL: its password from outside the URL (see
/// `src/credentials.rs`) and its TLS files (for a `rediss://` URL).
#[derive(Debug, Clone, Args)]
pub struct SourceSecret {
    /// Read the source's password from this file (its first line), so it stays off the command
    /// line; SLOTSTREAM_SOURCE_PASSWORD does the same from the environment. Either replaces a
    /// password in --source.
    #[arg(long, value_name = "PATH")]
    pub source_password_file: Option<PathBuf>,
    /// The CA certificate (PEM) that signed the source's certificate, for a rediss:// source
    /// (default: the system's CAs).
    #[arg(long, value_name = "PATH")]
    pub source_tls_ca_cert: Option<PathBuf>,
    /// A client certificate (PEM) for a source with tls-auth-clients; with --source-tls-key.
    #[arg(long, value_name = "PATH")]
    pub source_tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM, PKCS#8).
    #[arg(long, value_name = "PATH")]
    pub source_tls_key: Option<PathBuf>,
    /// Do not verify the source's certificate (tests only: anyone on the path can read and
    /// change the data).
    #[arg(long)]
    pub source_tls_insecure: bool,
}

impl SourceSecret {
    /// The capture settings for the source at `url` (its current primary, for a sentinel URL;
    /// named after its master then), with its TLS files loaded.
    pub fn source_config(
        &self,
        url: &str,
        sentinel: &SentinelArgs,
    ) -> anyhow::Result<slotstream_producer::SourceConfig> {
        let (url, name) = sentinel.resolve(url, "source")?;
        let url = url.as_str();
        let files = TlsFiles {
            ca_cert: self.source_tls_ca_cert.clone(),
            cert: self.source_tls_cert.clone(),
            key: self.source_tls_key.clone(),
            insecure: self.source_tls_insecure,
        };
        let mut config = slotstream_producer::SourceConfig::new(url);
        config.tls = files.for_url("source", url)?;
        config.source_id = name;
        Ok(config)
    }
}

/// How to reach the target beyond its URL: its password from outside the URL (see
/// `src/credentials.rs`) and its TLS files (for a `rediss://` URL).
#[derive(Debug, Clone, Args)]
pub struct TargetSecret {
    /// Read the target's password from this file (its first line), so it stays off the command
    /// line; SLOTSTREAM_TARGET_PASSWORD does the same from the environment. Either replaces a
    /// password in --target.
    #[arg(long, value_name = "PATH")]
    pub target_password_file: Option<PathBuf>,
    /// The CA certificate (PEM) that signed the target's certificate, for a rediss:// target
    /// (default: the system's CAs).
    #[arg(long, value_name = "PATH")]
    pub target_tls_ca_cert: Option<PathBuf>,
    /// A client certificate (PEM) for a target with tls-auth-clients; with --target-tls-key.
    #[arg(long, value_name = "PATH")]
    pub target_tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM, PKCS#8).
    #[arg(long, value_name = "PATH")]
    pub target_tls_key: Option<PathBuf>,
    /// Do not verify the target's certificate (tests only: anyone on the path can read and
    /// change the data).
    #[arg(long)]
    pub target_tls_insecure: bool,
}

impl TargetSecret {
    /// The target's TLS settings for `url`: `None` for redis://.
    pub fn tls(&self, url: &str) -> anyhow::Result<Option<Tls>> {
        let files = TlsFiles {
            ca_cert: self.target_tls_ca_cert.clone(),
            cert: self.target_tls_cert.clone(),
            key: self.target_tls_key.clone(),
            insecure: self.target_tls_insecure,
        };
        Ok(files.for_url("target", url)?)
    }

    /// The destination's connection settings for `url` (its current primary, for a sentinel
    /// URL), with the copy's choices left at their defaults.
    pub fn target_config(
        &self,
        url: &str,
        sentinel: &SentinelArgs,
    ) -> anyhow::Result<slotstream_consumer::TargetConfig> {
        let (url, _) = sentinel.resolve(url, "target")?;
        let mut config = slotstream_consumer::TargetConfig::new(&url);
        config.tls = self.tls(&url)?;
        Ok(config)
    }
}

/// The sentinels' own password, for `redis+sentinel://` URLs.
#[derive(Debug, Clone, Args)]
pub struct SentinelArgs {
    /// The password of the sentinels named in a redis+sentinel:// URL (the URL's own password
    /// is the primary's); SLOTSTREAM_SENTINEL_PASSWORD does the same from the environment.
    #[arg(long, env = "SLOTSTREAM_SENTINEL_PASSWORD", hide_env_values = true)]
    pub sentinel_password: Option<String>,
}

impl SentinelArgs {
    /// `url`, or for a `redis+sentinel://` URL the URL of its current primary (asked of the
    /// sentinels now) and the name records and checkpoints use for it (`sentinel/<master>`,
    /// the same after a failover).
    pub fn resolve(&self, url: &str, side: &str) -> anyhow::Result<(String, Option<String>)> {
        if !slotstream_link::sentinel::is_sentinel_url(url) {
            return Ok((url.to_string(), None));
        }
        let bad = |why: String| {
            anyhow::anyhow!(
                "bad {side} URL {}: {why}",
                slotstream_schemas::display::redact_url(url)
            )
        };
        let parsed = slotstream_link::sentinel::SentinelUrl::parse(url).map_err(bad)?;
        let primary =
            slotstream_link::sentinel::resolve(&parsed, self.sentinel_password.as_deref())
                .map_err(|why| anyhow::anyhow!("the {side}'s sentinels: {why}"))?;
        Ok((primary, Some(format!("sentinel/{}", parsed.master))))
    }
}
