//! Reading the text servers answer `INFO` with.

/// `(db, value of field)` for each database `INFO keyspace` lists with `field`; `"keys"`
/// names every database that holds keys.
pub fn keyspace(info: &str, field: &str) -> Vec<(u32, u64)> {
    info.lines()
        .filter_map(|line| {
            let (db, stats) = line.strip_prefix("db")?.split_once(':')?;
            let value = stats
                .split(',')
                .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))?;
            Some((db.parse().ok()?, value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_field_per_database() {
        let info = "# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=0,subexpiry=2\r\n\
                    db3:keys=7,expires=0,avg_ttl=0\r\n";
        assert_eq!(keyspace(info, "keys"), [(0, 5), (3, 7)]);
        assert_eq!(keyspace(info, "subexpiry"), [(0, 2)]);
        assert_eq!(keyspace(info, "expires"), [(0, 1), (3, 0)]);
        assert!(keyspace("# Keyspace\r\n", "keys").is_empty());
    }
}
