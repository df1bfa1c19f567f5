//! `slotstream_rdb::elements` against real servers: on every server version at hand, keys
//! are created in every encoding that version can produce, `DUMP`ed, decoded, and compared
//! with what the server itself reads back (GET, LRANGE, SMEMBERS, ZRANGE, HGETALL with field
//! TTLs, XRANGE, XINFO). `OBJECT ENCODING` and the type byte show that each intended encoding
//! was produced. Every payload is then cut and bit-flipped to show that decoding never panics.
//!
//! Debian's `redis-server` (7.0.15, from `PATH`) always runs. The other versions come from
//! `scripts/install-servers.sh $SERVERS_DIR` (see `slotstream_test_support::versions`); a
//! version whose binary is missing fails the test in CI and is skipped with a note elsewhere.

#[path = "elements_oracle/compare.rs"]
mod compare;
#[path = "elements_oracle/hashes.rs"]
mod hashes;
#[path = "elements_oracle/scenarios.rs"]
mod scenarios;
#[path = "elements_oracle/streams.rs"]
mod streams;

use std::path::Path;

use slotstream_test_support::{server, versions, RedisServer};

/// The server under test, and which features it has.
pub struct Version {
    pub label: &'static str,
    pub valkey: bool,
    pub major: u32,
    pub minor: u32,
}

impl Version {
    /// The Redis version whose encodings this server writes (Valkey 8 and 9 forked Redis 7.2).
    fn compat(&self) -> (u32, u32) {
        if self.valkey {
            (7, 2)
        } else {
            (self.major, self.minor)
        }
    }

    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.compat() >= (major, minor)
    }

    /// Listpacks replaced ziplists (Redis 7.0).
    pub fn listpack(&self) -> bool {
        self.at_least(7, 0)
    }

    /// Hash field TTLs: Redis 7.4 (types 24/25) or Valkey 9 (type 22).
    pub fn field_ttl(&self) -> bool {
        if self.valkey {
            self.major >= 9
        } else {
            self.at_least(7, 4)
        }
    }
}

/// Builds every case on a fresh server of this version and checks it.
fn check(version: &Version, binary: &Path) {
    let mut extra = Vec::new();
    if version.at_least(7, 0) {
        extra.extend(["--enable-debug-command", "yes"]);
    }
    let server = RedisServer::start_binary(binary, &extra);
    let mut conn = server.resp();
    let cases = scenarios::build(&mut conn, version);
    let mut payloads = Vec::new();
    for case in &cases {
        payloads.push(compare::verify(&mut conn, version, case));
    }
    for (case, payload) in cases.iter().zip(&payloads) {
        compare::no_panic(&String::from_utf8_lossy(&case.key), payload);
    }
    eprintln!(
        "{}: {} keys decoded and checked",
        version.label,
        cases.len()
    );
}

/// Runs the check on an installed version (a missing one: see `versions::binary`).
fn versioned(file: &str, version: Version) {
    if let Some(binary) = versions::binary(file) {
        check(&version, &binary);
    }
}

#[test]
fn debian_redis_7_0_15() {
    let version = Version {
        label: "redis-7.0.15 (Debian)",
        valkey: false,
        major: 7,
        minor: 0,
    };
    if let Some(binary) = server::default_binary() {
        check(&version, &binary);
    }
}

#[test]
fn redis_5_0_10() {
    versioned(
        "redis-5.0.10",
        Version {
            label: "redis-5.0.10",
            valkey: false,
            major: 5,
            minor: 0,
        },
    );
}

#[test]
fn redis_6_0_9() {
    versioned(
        "redis-6.0.9",
        Version {
            label: "redis-6.0.9",
            valkey: false,
            major: 6,
            minor: 0,
        },
    );
}

#[test]
fn redis_6_2_14() {
    versioned(
        "redis-6.2.14",
        Version {
            label: "redis-6.2.14",
            valkey: false,
            major: 6,
            minor: 2,
        },
    );
}

#[test]
fn redis_7_4_1() {
    versioned(
        "redis-7.4.1",
        Version {
            label: "redis-7.4.1",
            valkey: false,
            major: 7,
            minor: 4,
        },
    );
}

#[test]
fn valkey_8_1_8() {
    versioned(
        "valkey-8.1.8",
        Version {
            label: "valkey-8.1.8",
            valkey: true,
            major: 8,
            minor: 1,
        },
    );
}

#[test]
fn valkey_9_1_2() {
    versioned(
        "valkey-9.1.2",
        Version {
            label: "valkey-9.1.2",
            valkey: true,
            major: 9,
            minor: 1,
        },
    );
}
