//! Passwords that stay off the command line: read from a file (`--source-password-file`) or the
//! environment (`SLOTSTREAM_SOURCE_PASSWORD`, `SLOTSTREAM_TARGET_PASSWORD`) and put into the
//! side's URL in memory only. Nothing here ever prints a password: errors name the file or the
//! variable, and URLs are shown redacted.

use crate::cli::{Command, SyncArgs, VerifyArgs};
use anyhow::Context;
use slotstream_schemas::display::redact_url;
use std::path::Path;

/// One side of a copy, for messages and the environment variable's name.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    Source,
    Target,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }

    /// `SLOTSTREAM_SOURCE_PASSWORD` or `SLOTSTREAM_TARGET_PASSWORD`.
    pub fn env_var(self) -> &'static str {
        match self {
            Side::Source => "SLOTSTREAM_SOURCE_PASSWORD",
            Side::Target => "SLOTSTREAM_TARGET_PASSWORD",
        }
    }
}

/// `url` with the side's password from `file` (its first line), else from the side's
/// environment variable, in place of any password the URL holds; `url` unchanged when neither
/// gives one.
pub fn with_password(url: &str, side: Side, file: Option<&Path>) -> anyhow::Result<String> {
    let password = match file {
        Some(path) => Some(read_password(path, side)?),
        None => std::env::var(side.env_var()).ok().filter(|p| !p.is_empty()),
    };
    let Some(password) = password else {
        return Ok(url.to_string());
    };
    if slotstream_link::sentinel::is_sentinel_url(url) {
        return slotstream_link::sentinel::with_password(url, &password)
            .map_err(|why| anyhow::anyhow!("bad {} URL {}: {why}", side.name(), redact_url(url)));
    }
    let mut parsed = url::Url::parse(url)
        .with_context(|| format!("bad {} URL {}", side.name(), redact_url(url)))?;
    parsed.set_password(Some(&password)).map_err(|()| {
        anyhow::anyhow!(
            "the {} URL {} takes no password (it needs a host: redis://host:port)",
            side.name(),
            redact_url(url)
        )
    })?;
    Ok(parsed.to_string())
}

/// Puts each side's password from its file or the environment into the command's URLs.
pub fn resolve(command: &mut Command) -> anyhow::Result<()> {
    let fill = |url: &mut String, side: Side, file: &Option<std::path::PathBuf>| {
        *url = with_password(url, side, file.as_deref())?;
        anyhow::Ok(())
    };
    match command {
        Command::Sync(SyncArgs {
            source,
            target,
            source_secret,
            target_secret,
            ..
        })
        | Command::Verify(VerifyArgs {
            source,
            target,
            source_secret,
            target_secret,
            ..
        }) => {
            fill(source, Side::Source, &source_secret.source_password_file)?;
            fill(target, Side::Target, &target_secret.target_password_file)
        }
        Command::Check(args) => {
            if let Some(url) = &mut args.source {
                fill(url, Side::Source, &args.source_secret.source_password_file)?;
            }
            if let Some(url) = &mut args.target {
                fill(url, Side::Target, &args.target_secret.target_password_file)?;
            }
            Ok(())
        }
        Command::Status(args) => {
            if let Some(url) = &mut args.source {
                fill(url, Side::Source, &args.source_secret.source_password_file)?;
            }
            fill(
                &mut args.target,
                Side::Target,
                &args.target_secret.target_password_file,
            )
        }
        #[cfg(feature = "kafka")]
        Command::Produce(args) => fill(
            &mut args.source,
            Side::Source,
            &args.source_secret.source_password_file,
        ),
        #[cfg(feature = "kafka")]
        Command::Consume(args) => fill(
            &mut args.target,
            Side::Target,
            &args.target_secret.target_password_file,
        ),
        #[cfg(feature = "kafka")]
        Command::Replay(args) => fill(
            &mut args.target,
            Side::Target,
            &args.target_secret.target_password_file,
        ),
        #[cfg(feature = "kafka")]
        Command::DevBroker(_) => Ok(()),
    }
}

/// The first line of `path`, without its line ending.
fn read_password(path: &Path, side: Side) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the {} password file {}",
            side.name(),
            path.display()
        )
    })?;
    let line = text.lines().next().unwrap_or_default();
    anyhow::ensure!(
        !line.is_empty(),
        "the {} password file {} is empty (the password is its first line)",
        side.name(),
        path.display()
    );
    Ok(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_goes_into_the_url_encoded() {
        let dir = std::env::temp_dir().join(format!("slotstream-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "s3c:r@t/\nignored\n").unwrap();
        let url = with_password("redis://alice@10.0.0.5:6380", Side::Source, Some(&file)).unwrap();
        assert_eq!(url, "redis://alice:s3c%3Ar%40t%2F@10.0.0.5:6380");
        // The redis crate reads it back decoded.
        let addr = slotstream_producer::config::parse_source_url(&url).unwrap();
        assert_eq!(addr.password.as_deref(), Some("s3c:r@t/"));
        let replaced = with_password("redis://:old@h:1", Side::Target, Some(&file)).unwrap();
        assert_eq!(replaced, "redis://:s3c%3Ar%40t%2F@h:1");
        std::fs::write(&file, "\n").unwrap();
        let err = with_password("redis://h:1", Side::Source, Some(&file)).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
        let err = with_password("redis://h:1", Side::Source, Some(&dir.join("none")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read the source password file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
