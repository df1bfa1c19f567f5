//! TLS settings: the files an operator gives on the command line ([`TlsFiles`]) and what they
//! load into ([`Tls`]): an OpenSSL connector for slotstream's own links and the same
//! certificates for the `redis` crate's connections. TLS 1.2 and 1.3 are accepted; the server
//! chooses within that.

use crate::error::{LinkError, TlsError};
use native_tls::{Certificate, Identity, Protocol, TlsConnector};
use redis::{ClientTlsConfig, ConnectionAddr, ConnectionInfo, TlsCertificates};
use std::path::{Path, PathBuf};

/// The TLS options of one side (`--source-tls-*` or `--target-tls-*`), as given.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// The CA that signed the server's certificate (PEM, one or more certificates); without
    /// it the system's CAs are trusted.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate (PEM), for servers with `tls-auth-clients yes`.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM, PKCS#8).
    pub key: Option<PathBuf>,
    /// Skip verifying the server's certificate and name.
    pub insecure: bool,
}

impl TlsFiles {
    fn is_empty(&self) -> bool {
        self.ca_cert.is_none() && self.cert.is_none() && self.key.is_none() && !self.insecure
    }

    /// What a side whose URL is `url` connects with: `None` for `redis://` (an error when TLS
    /// options were given for it, rather than a silent plain connection), the loaded settings
    /// for `rediss://`. `side` is `"source"` or `"target"`, for messages and flag names.
    pub fn for_url(&self, side: &'static str, url: &str) -> Result<Option<Tls>, TlsError> {
        if !url.starts_with("rediss://") {
            if self.is_empty() {
                return Ok(None);
            }
            return Err(TlsError::NotTlsUrl {
                side,
                url: slotstream_schemas::display::redact_url(url),
            });
        }
        self.load(side).map(Some)
    }

    /// Reads the files and builds the connector.
    pub fn load(&self, side: &'static str) -> Result<Tls, TlsError> {
        let ca = self
            .ca_cert
            .as_deref()
            .map(|path| read(path, "CA certificate", side, "tls-ca-cert"))
            .transpose()?;
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some((
                read(cert, "client certificate", side, "tls-cert")?,
                read(key, "client key", side, "tls-key")?,
            )),
            (None, None) => None,
            _ => return Err(TlsError::HalfIdentity { side }),
        };
        if self.insecure && identity.is_some() {
            return Err(TlsError::InsecureWithIdentity { side });
        }
        let mut builder = TlsConnector::builder();
        builder.min_protocol_version(Some(Protocol::Tlsv12));
        if let Some(ca) = &ca {
            let certs = pem_certificates(&ca.pem).map_err(|why| ca.bad(why))?;
            // The given CA replaces the system's, as `redis-cli --cacert` does.
            builder.disable_built_in_roots(true);
            for cert in certs {
                builder.add_root_certificate(cert);
            }
        }
        if let Some((cert, key)) = &identity {
            if !key.pem.starts_with(b"-----BEGIN PRIVATE KEY-----") {
                return Err(key.bad(format!(
                    "expected a PKCS#8 key (-----BEGIN PRIVATE KEY-----); convert it with \
                     `openssl pkcs8 -topk8 -nocrypt -in {0} -out {0}.pk8`",
                    key.path
                )));
            }
            let id =
                Identity::from_pkcs8(&cert.pem, &key.pem).map_err(|e| cert.bad(e.to_string()))?;
            builder.identity(id);
        }
        if self.insecure {
            tracing::warn!(
                "--{side}-tls-insecure: the {side}'s certificate is NOT verified; anyone on the \
                 path can read and change the data. Use --{side}-tls-ca-cert instead"
            );
            builder.danger_accept_invalid_certs(true);
            builder.danger_accept_invalid_hostnames(true);
        }
        let connector = builder.build().map_err(|e| TlsError::Setup {
            side,
            why: e.to_string(),
        })?;
        let certificates = TlsCertificates {
            client_tls: identity.map(|(cert, key)| ClientTlsConfig {
                client_cert: cert.pem,
                client_key: key.pem,
            }),
            root_cert: ca.map(|ca| ca.pem),
        };
        Ok(Tls {
            side,
            connector,
            certificates,
            insecure: self.insecure,
        })
    }
}

/// Loaded TLS settings of one side. Cheap to clone.
#[derive(Clone)]
pub struct Tls {
    side: &'static str,
    connector: TlsConnector,
    certificates: TlsCertificates,
    insecure: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("side", &self.side)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The system's CAs and nothing else: what `rediss://` means without `--*-tls-*` options.
    pub fn system(side: &'static str) -> Result<Tls, TlsError> {
        TlsFiles::default().load(side)
    }

    pub(crate) fn connector(&self) -> &TlsConnector {
        &self.connector
    }

    /// A `redis` crate client for `info` over TLS with these settings.
    pub fn client(&self, info: ConnectionInfo) -> redis::RedisResult<redis::Client> {
        let info = self.tls_info(info);
        redis::Client::build_with_tls(info, self.certificates.clone())
    }

    /// `info` with its address made a TLS address (insecure when the settings say so).
    fn tls_info(&self, info: ConnectionInfo) -> ConnectionInfo {
        let (host, port) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port),
            _ => return info,
        };
        info.set_addr(ConnectionAddr::TcpTls {
            host,
            port,
            insecure: self.insecure,
            tls_params: None,
        })
    }

    /// True for the system's CAs alone: no files given, certificates verified. (The `redis`
    /// crate's cluster client, built on `native-tls`, can use nothing else.)
    pub fn is_system(&self) -> bool {
        !self.insecure
            && self.certificates.root_cert.is_none()
            && self.certificates.client_tls.is_none()
    }

    /// A link to `addr` closed right after its handshake, with what to check.
    pub(crate) fn closed_error(&self, addr: &str, why: String) -> LinkError {
        let side = self.side;
        LinkError::Closed {
            addr: addr.to_string(),
            why,
            advice: format!(
                "a server that wants a client certificate does this: give --{side}-tls-cert and \
                 --{side}-tls-key, and check that the server's tls-ca-cert-file signed them"
            ),
        }
    }

    /// A failed handshake with `addr`, with what to change.
    pub(crate) fn handshake_error(&self, addr: &str, why: String) -> LinkError {
        let side = self.side;
        let lower = why.to_ascii_lowercase();
        let advice = if lower.contains("mismatch") {
            format!(
                "the server's certificate is not for the host in the {side} URL; connect by a \
                 name or address the certificate lists (its subjectAltName)"
            )
        } else if lower.contains("verify failed")
            || lower.contains("certificate") && lower.contains("unknown ca")
        {
            format!(
                "the server's certificate is not signed by a CA this side trusts; give its CA \
                 with --{side}-tls-ca-cert (or, only to test, --{side}-tls-insecure)"
            )
        } else if lower.contains("certificate required") || lower.contains("peer did not return") {
            format!(
                "the server wants a client certificate: give --{side}-tls-cert and \
                 --{side}-tls-key"
            )
        } else if lower.contains("wrong version number") || lower.contains("packet length") {
            "the port does not speak TLS: use redis:// for a plain port, or the server's \
             tls-port"
                .to_string()
        } else if lower.contains("protocol") || lower.contains("handshake failure") {
            "the server and slotstream share no TLS version or cipher (slotstream offers TLS \
             1.2 and 1.3); check the server's tls-protocols and tls-ciphers"
                .to_string()
        } else {
            format!("check the {side}'s TLS settings (--{side}-tls-*) and the server's")
        };
        LinkError::Handshake {
            addr: addr.to_string(),
            why,
            advice,
        }
    }
}

/// A file read for TLS, kept with its name for messages.
struct PemFile {
    what: &'static str,
    flag: String,
    path: String,
    pem: Vec<u8>,
}

impl PemFile {
    fn bad(&self, why: String) -> TlsError {
        TlsError::BadFile {
            what: self.what,
            flag: self.flag.clone(),
            path: self.path.clone(),
            why,
        }
    }
}

fn read(path: &Path, what: &'static str, side: &str, flag: &str) -> Result<PemFile, TlsError> {
    let flag = format!("{side}-{flag}");
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|cause| TlsError::ReadFile {
        what,
        flag: flag.clone(),
        path: shown.clone(),
        cause,
    })?;
    Ok(PemFile {
        what,
        flag,
        path: shown,
        pem,
    })
}

/// Every certificate of a PEM bundle (`Certificate::from_pem` reads only the first).
fn pem_certificates(pem: &[u8]) -> Result<Vec<Certificate>, String> {
    const END: &str = "-----END CERTIFICATE-----";
    let text = std::str::from_utf8(pem).map_err(|_| "it is not PEM text".to_string())?;
    let certs = text
        .split_inclusive(END)
        .filter_map(|block| {
            block
                .find("-----BEGIN CERTIFICATE-----")
                .map(|at| &block[at..])
        })
        .map(|block| Certificate::from_pem(block.as_bytes()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err("it holds no -----BEGIN CERTIFICATE----- block".into());
    }
    Ok(certs)
}
