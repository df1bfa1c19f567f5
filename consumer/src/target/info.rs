//! What the destination is: server, version, the newest RDB format it reads (which decides
//! whether a snapshot can be applied with `RESTORE`), and its modules.

/// The destination's identity, read from `INFO server`.
#[derive(Debug, Clone)]
pub struct TargetInfo {
    /// e.g. `redis 7.0.15` or `valkey 9.1.2`
    pub version: String,
    /// Newest RDB version the server reads: `RESTORE` of a newer payload fails.
    pub rdb_version: u16,
    /// The Redis version whose commands it speaks, as (major, minor): Valkey says 7.2.
    pub redis_compat: (u32, u32),
    /// Valkey's own version, as (major, minor), when the server is Valkey: its commands beyond
    /// Redis 7.2's (`SET … IFEQ`, `HSETEX`) go by it.
    pub valkey: Option<(u32, u32)>,
    /// Names of the modules it has loaded (`MODULE LIST`).
    pub modules: Vec<String>,
    /// One server, or a cluster and which primary owns each slot.
    pub topology: super::Topology,
}

impl TargetInfo {
    /// Whether `RESTORE` takes a payload of `rdb_version`: one no newer than the server's own
    /// format, except that Valkey 9 (RDB 80) refuses Redis's 12 to 79 (measured on all pairs).
    pub fn restores(&self, rdb_version: u16) -> bool {
        let foreign = self.rdb_version >= 80 && (12..80).contains(&rdb_version);
        rdb_version <= self.rdb_version && !foreign
    }

    /// Whether hash fields can have TTLs of their own (`HPEXPIREAT`): Redis 7.4+, Valkey 9+.
    pub fn has_field_ttls(&self) -> bool {
        self.rdb_version >= 12
    }

    /// Whether streams keep entries-added, max-deleted-ID and entries-read (Redis 7.0+).
    pub fn has_stream_counters(&self) -> bool {
        self.rdb_version >= 10
    }

    /// Whether the server speaks Redis `major.minor`'s commands.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.redis_compat >= (major, minor)
    }

    /// Whether the server is Valkey `major.minor` or newer.
    pub fn valkey_at_least(&self, major: u32, minor: u32) -> bool {
        self.valkey.is_some_and(|version| version >= (major, minor))
    }
}

/// Extracts server name, version and RDB version from `INFO server` text.
pub fn parse_info(text: &str) -> TargetInfo {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    };
    let (flavour, version) = match field("valkey_version") {
        Some(v) => ("valkey", v),
        None => ("redis", field("redis_version").unwrap_or_default()),
    };
    let major_minor = |version: &str| {
        let mut numbers = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
        (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
    };
    let (major, minor) = major_minor(&version);
    let redis_compat = major_minor(&field("redis_version").unwrap_or_default());
    let rdb_version = match (flavour, major, minor) {
        ("valkey", m, _) if m >= 9 => 80,
        ("valkey", _, _) => 11,
        (_, m, _) if m >= 8 => 12,
        (_, 7, n) if n >= 4 => 12,
        (_, 7, n) if n >= 2 => 11,
        (_, 7, _) => 10,
        _ => 9,
    };
    TargetInfo {
        version: format!("{flavour} {version}"),
        rdb_version,
        redis_compat,
        valkey: (flavour == "valkey").then_some((major, minor)),
        modules: Vec::new(),
        topology: super::Topology::Standalone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_versions_to_rdb_formats() {
        let rdb = |text: &str| parse_info(text).rdb_version;
        assert_eq!(rdb("redis_version:5.0.10\r\n"), 9);
        assert_eq!(rdb("redis_version:6.2.14\r\n"), 9);
        assert_eq!(rdb("redis_version:7.0.15\r\n"), 10);
        assert_eq!(rdb("redis_version:7.4.1\r\n"), 12);
        assert_eq!(rdb("redis_version:7.2.4\r\nvalkey_version:8.1.8\r\n"), 11);
        assert_eq!(rdb("redis_version:7.2.4\r\nvalkey_version:9.1.2\r\n"), 80);
        assert_eq!(
            parse_info("redis_version:7.2.4\r\nvalkey_version:9.1.2\r\n").version,
            "valkey 9.1.2"
        );
    }

    #[test]
    fn restores_what_the_measured_pairs_restore() {
        let target = |text: &str| parse_info(text);
        let redis5 = target("redis_version:5.0.10\r\n");
        let redis74 = target("redis_version:7.4.1\r\n");
        let valkey8 = target("redis_version:7.2.4\r\nvalkey_version:8.1.8\r\n");
        let valkey9 = target("redis_version:7.2.4\r\nvalkey_version:9.1.2\r\n");
        assert!(redis5.restores(9) && !redis5.restores(10));
        assert!(redis74.restores(12) && !redis74.restores(80));
        assert!(valkey8.restores(11) && !valkey8.restores(12) && !valkey8.restores(80));
        assert!(valkey9.restores(11) && valkey9.restores(80) && !valkey9.restores(12));
        assert!(valkey8.at_least(6, 2) && !redis5.at_least(6, 2));
        assert!(!redis5.has_field_ttls() && valkey9.has_field_ttls());
        assert!(valkey9.valkey_at_least(8, 1) && !valkey8.valkey_at_least(9, 0));
        assert!(!redis74.valkey_at_least(0, 0));
    }
}
