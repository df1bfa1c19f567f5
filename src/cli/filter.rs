//! `--include-db`, `--exclude-db`, `--include-key`, `--exclude-key`, `--include-type`,
//! `--exclude-type`: what of the source is captured, for `sync` and `produce`.

use clap::Args;
use slotstream_schemas::filter::{KeyFilter, KeyType};
use slotstream_schemas::glob::Glob;

/// Which databases and keys of the source are copied.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Copy only these databases (repeatable, or comma-separated; default: every one).
    #[arg(long, value_delimiter = ',', value_parser = parse_db)]
    pub include_db: Vec<u32>,
    /// Leave these databases out (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_db)]
    pub exclude_db: Vec<u32>,
    /// Copy only keys matching this glob (repeatable; Redis glob syntax: `user:*`, `*:[0-9]`).
    /// A prefix glob costs a prefix compare per key. Default: every key.
    #[arg(long, value_name = "GLOB")]
    pub include_key: Vec<String>,
    /// Leave out keys matching this glob (repeatable), even when --include-key matches them.
    #[arg(long, value_name = "GLOB")]
    pub exclude_key: Vec<String>,
    /// Copy only values of these types (repeatable, or comma-separated: string, list, set,
    /// zset, hash, stream, module; HyperLogLogs and bitmaps are strings, geo sets zsets).
    /// `RENAME`, `MOVE`, `COPY` and `SORT … STORE` then cannot be copied exactly: they stop the
    /// copy, or are left out with --on-unsupported skip-with-warning.
    #[arg(long, value_delimiter = ',', value_name = "TYPE")]
    pub include_type: Vec<KeyType>,
    /// Leave out values of these types (repeatable, or comma-separated), even when
    /// --include-type names them.
    #[arg(long, value_delimiter = ',', value_name = "TYPE")]
    pub exclude_type: Vec<KeyType>,
}

impl FilterArgs {
    /// The filter; `leave_out_refused`: a command it cannot cut exactly is left out with a
    /// warning instead of stopping the capture.
    pub fn key_filter(&self, leave_out_refused: bool) -> KeyFilter {
        let globs = |patterns: &[String]| patterns.iter().map(|p| Glob::new(p)).collect();
        KeyFilter {
            include_db: self.include_db.clone(),
            exclude_db: self.exclude_db.clone(),
            include_key: globs(&self.include_key),
            exclude_key: globs(&self.exclude_key),
            include_type: self.include_type.clone(),
            exclude_type: self.exclude_type.clone(),
            leave_out_refused,
        }
    }
}

fn parse_db(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(db) if db <= 255 => Ok(db),
        _ => Err(format!("{text:?} is not a database number (0-255)")),
    }
}
