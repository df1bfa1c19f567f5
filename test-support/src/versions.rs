//! The seven server versions of the compatibility matrix, as `scripts/install-servers.sh DIR`
//! installs them (`DIR/bin/<name>`, the Redis Stack modules in `DIR/stack-modules`), and where
//! that directory is: `SERVERS_DIR`, else the user's cache dir.

use crate::missing;
use crate::server::RedisServer;
use std::path::PathBuf;

/// The variable naming the servers directory.
pub const SERVERS_DIR_ENV: &str = "SERVERS_DIR";

/// Oldest first, as `servers_dir()/bin` names them.
pub const VERSIONS: [&str; 7] = [
    "redis-5.0.10",
    "redis-6.0.9",
    "redis-6.2.14",
    "redis-7.0.15",
    "valkey-8.1.8",
    "redis-7.4.1",
    "valkey-9.1.2",
];

/// The version the CI subset of the matrix pairs with every other one.
pub const HUB: &str = "redis-7.0.15";

/// The version that runs with the Redis Stack data modules.
pub const MODULES_VERSION: &str = "redis-7.4.1";

/// The data modules [`start`] loads into [`MODULES_VERSION`] (JSON, Bloom/Cuckoo, TimeSeries).
pub const DATA_MODULES: [&str; 3] = ["rejson.so", "redisbloom.so", "redistimeseries.so"];

/// Where the versions are installed: `$SERVERS_DIR`, else `$XDG_CACHE_HOME/slotstream/servers`,
/// else `$HOME/.cache/slotstream/servers` (the default of `scripts/install-servers.sh`).
pub fn servers_dir() -> PathBuf {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = set(SERVERS_DIR_ENV) {
        return PathBuf::from(dir);
    }
    let cache = set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("slotstream").join("servers")
}

/// The command that installs the versions into [`servers_dir`].
pub fn install_command() -> String {
    format!("scripts/install-servers.sh {}", servers_dir().display())
}

/// The binary of version `name` (e.g. `redis-6.2.14`), or `None` after a note when it is not
/// installed (in CI a missing version fails the test instead, see [`crate::missing`]).
pub fn binary(name: &str) -> Option<PathBuf> {
    let dir = servers_dir().join("bin");
    let path = dir.join(name);
    if path.is_file() {
        return Some(path);
    }
    missing::report(name, &dir, &install_command());
    None
}

/// A Redis Stack module (e.g. `rejson.so`), or `None` after a note when it is not installed.
pub fn stack_module(name: &str) -> Option<PathBuf> {
    let dir = servers_dir().join("stack-modules");
    let path = dir.join(name);
    if path.is_file() {
        return Some(path);
    }
    missing::report(name, &dir, &install_command());
    None
}

/// Starts version `name`, [`MODULES_VERSION`] with the [`DATA_MODULES`]; `None` when it is not
/// installed (as [`binary`]).
pub fn start(name: &str) -> Option<RedisServer> {
    start_with_args(name, &[])
}

/// [`start`] with extra arguments after the module ones.
pub fn start_with_args(name: &str, args: &[&str]) -> Option<RedisServer> {
    let binary = binary(name)?;
    let mut all: Vec<String> = Vec::new();
    if name == MODULES_VERSION {
        for module in DATA_MODULES {
            all.push("--loadmodule".to_string());
            all.push(stack_module(module)?.display().to_string());
        }
    }
    all.extend(args.iter().map(|arg| arg.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    Some(RedisServer::start_binary(binary, &all))
}
