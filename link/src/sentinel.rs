//! Sentinel URLs: `redis+sentinel://[user:password@]host:port[,host:port…]/MASTER-NAME` (or
//! `rediss+sentinel://` for a primary reached over TLS). [`resolve`] asks the sentinels in turn
//! for the current primary of the master name and gives a plain URL to it, with the URL's
//! credentials (those of the primary; the sentinels' own password is given apart). Asked again
//! at the start of every attempt, so a run that lost its link after a failover finds the new
//! primary.

use std::time::Duration;

/// How long one sentinel gets to answer.
const SENTINEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `url` names its server through sentinels.
pub fn is_sentinel_url(url: &str) -> bool {
    url.starts_with("redis+sentinel://") || url.starts_with("rediss+sentinel://")
}

/// A parsed sentinel URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelUrl {
    /// `redis` or `rediss`: how the primary is reached.
    scheme: &'static str,
    /// `user:password@` as written (still percent-encoded), or empty.
    userinfo: String,
    pub sentinels: Vec<(String, u16)>,
    pub master: String,
}

impl std::fmt::Debug for SentinelUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sentinel master {:?}", self.master)
    }
}

impl SentinelUrl {
    /// Parses a sentinel URL; the error says why, without the URL.
    pub fn parse(url: &str) -> Result<SentinelUrl, String> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            ("redis", rest)
        } else if let Some(rest) = url.strip_prefix("rediss+sentinel://") {
            ("rediss", rest)
        } else {
            return Err(
                "expected redis+sentinel://[user:password@]host:port[,host:port…]/MASTER-NAME"
                    .into(),
            );
        };
        let (authority, master) = rest
            .split_once('/')
            .ok_or("no master name: end the URL with /MASTER-NAME")?;
        let master = master.trim_end_matches('/');
        if master.is_empty() || master.contains('/') {
            return Err(format!(
                "expected one master name after the hosts, got {master:?}"
            ));
        }
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => (&authority[..=at], &authority[at + 1..]),
            None => ("", authority),
        };
        let mut sentinels = Vec::new();
        for host in hosts.split(',').filter(|h| !h.is_empty()) {
            let (name, port) = host
                .rsplit_once(':')
                .ok_or_else(|| format!("sentinel {host:?} has no port (host:port)"))?;
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("sentinel {host:?} has a bad port"))?;
            let name = name.trim_start_matches('[').trim_end_matches(']');
            sentinels.push((name.to_string(), port));
        }
        if sentinels.is_empty() {
            return Err("no sentinel host:port before the master name".into());
        }
        Ok(SentinelUrl {
            scheme,
            userinfo: userinfo.to_string(),
            sentinels,
            master: master.to_string(),
        })
    }

    /// The URL of the primary at `host:port`, with this URL's credentials.
    pub fn primary_url(&self, host: &str, port: u16) -> String {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        format!("{}://{}{host}:{port}", self.scheme, self.userinfo)
    }
}

/// `url` (a sentinel URL) with `password` for the primary in place of any it holds.
pub fn with_password(url: &str, password: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (user, hosts) = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            (user, &authority[at + 1..])
        }
        None => ("", authority),
    };
    Ok(format!(
        "{scheme}://{user}:{}@{hosts}{path}",
        encode(password)
    ))
}

/// Percent-encodes all but URL-unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The current primary of `url`'s master name, as a `redis://` (or `rediss://`) URL: the first
/// sentinel that knows it answers. The error names each sentinel and what it said.
pub fn resolve(url: &SentinelUrl, sentinel_password: Option<&str>) -> Result<String, String> {
    let mut said = Vec::new();
    for (host, port) in &url.sentinels {
        match ask(host, *port, &url.master, sentinel_password) {
            Ok(Some((primary, primary_port))) => {
                tracing::debug!(sentinel = %format!("{host}:{port}"), master = %url.master, primary = %format!("{primary}:{primary_port}"), "sentinel names the primary");
                return Ok(url.primary_url(&primary, primary_port));
            }
            Ok(None) => said.push(format!(
                "{host}:{port} does not know master {:?}",
                url.master
            )),
            Err(err) => said.push(format!("{host}:{port}: {err}")),
        }
    }
    Err(format!(
        "no sentinel named the primary of {:?} ({}); check the sentinels' addresses, the master \
         name and --sentinel-password",
        url.master,
        said.join("; ")
    ))
}

fn ask(
    host: &str,
    port: u16,
    master: &str,
    password: Option<&str>,
) -> redis::RedisResult<Option<(String, u16)>> {
    let addr = redis::ConnectionAddr::Tcp(host.to_string(), port);
    let mut settings = redis::RedisConnectionInfo::default();
    if let Some(password) = password {
        settings = settings.set_password(password);
    }
    let info = redis::IntoConnectionInfo::into_connection_info(addr)?.set_redis_settings(settings);
    let client = redis::Client::open(info)?;
    let mut conn = client.get_connection_with_timeout(SENTINEL_TIMEOUT)?;
    conn.set_read_timeout(Some(SENTINEL_TIMEOUT))?;
    let reply: Option<(String, String)> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(master)
        .query(&mut conn)?;
    Ok(reply.and_then(|(host, port)| Some((host, port.parse().ok()?))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_master_and_credentials_are_read() {
        let url =
            SentinelUrl::parse("redis+sentinel://u:p%40w@s1:26379,[::1]:26380/mymaster").unwrap();
        assert_eq!(
            url.sentinels,
            vec![("s1".to_string(), 26379), ("::1".to_string(), 26380)]
        );
        assert_eq!(url.master, "mymaster");
        assert_eq!(
            url.primary_url("10.0.0.2", 6380),
            "redis://u:p%40w@10.0.0.2:6380"
        );
        let url = SentinelUrl::parse("rediss+sentinel://s1:1/m").unwrap();
        assert_eq!(url.primary_url("h", 2), "rediss://h:2");
        assert_eq!(format!("{url:?}"), "sentinel master \"m\"");
    }

    #[test]
    fn a_password_goes_into_the_userinfo_encoded() {
        let url = with_password("redis+sentinel://alice:old@s1:1,s2:2/m", "p@ss:w").unwrap();
        assert_eq!(url, "redis+sentinel://alice:p%40ss%3Aw@s1:1,s2:2/m");
        let url = with_password("redis+sentinel://s1:1/m", "pw").unwrap();
        assert_eq!(url, "redis+sentinel://:pw@s1:1/m");
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("redis+sentinel://s1:1", "no master name"),
            ("redis+sentinel:///m", "no sentinel"),
            ("redis+sentinel://s1/m", "no port"),
            ("redis+sentinel://s1:x/m", "bad port"),
            ("redis://s1:1/m", "expected redis+sentinel://"),
        ] {
            let err = SentinelUrl::parse(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
    }
}
