//! TLS for tests: [`TestCerts`], a CA with a server and a client certificate (and a second,
//! unrelated CA) made with the `openssl` command, and [`TlsServer`], a `redis-server` that
//! listens for TLS on a port of its own beside its plain port (which the tests use to check
//! contents; slotstream is only given the TLS URL).

use crate::server::{free_port, on_path, RedisServer, DEFAULT_BINARY};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Certificates in a temp dir, removed on `Drop`. Every key is PKCS#8 PEM.
pub struct TestCerts {
    dir: PathBuf,
    /// The CA that signed both certificates.
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here: verifying the server with it fails.
    pub other_ca: PathBuf,
}

impl TestCerts {
    /// Makes the certificates; the server's is for `127.0.0.1` and `localhost`. Panics with
    /// the install command when `openssl` is missing.
    pub fn make() -> TestCerts {
        let dir = std::env::temp_dir().join(format!(
            "slotstream-certs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the certificates' dir");
        let path = |name: &str| dir.join(name);
        std::fs::write(
            path("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("write server.ext");
        std::fs::write(path("client.ext"), "extendedKeyUsage=clientAuth\n").expect("client.ext");
        for ca in ["ca", "other-ca"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN=slotstream test {ca}"),
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                ],
            );
        }
        for who in ["server", "client"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-subj",
                    &format!("/CN={who}"),
                    "-keyout",
                    &format!("{who}.key"),
                    "-out",
                    &format!("{who}.csr"),
                ],
            );
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{who}.csr"),
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &format!("{who}.ext"),
                    "-out",
                    &format!("{who}.crt"),
                ],
            );
        }
        TestCerts {
            ca: path("ca.crt"),
            server_cert: path("server.crt"),
            server_key: path("server.key"),
            client_cert: path("client.crt"),
            client_key: path("client.key"),
            other_ca: path("other-ca.crt"),
            dir,
        }
    }

    /// `--<side>-tls-ca-cert CA --<side>-tls-cert CERT --<side>-tls-key KEY`: what slotstream
    /// needs for a server that verifies clients.
    pub fn client_args(&self, side: &str) -> Vec<String> {
        vec![
            format!("--{side}-tls-ca-cert"),
            show(&self.ca),
            format!("--{side}-tls-cert"),
            show(&self.client_cert),
            format!("--{side}-tls-key"),
            show(&self.client_key),
        ]
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run openssl ({err}); install it with `apt-get install openssl`")
        });
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A server that also listens for TLS, with the test certificates.
pub struct TlsServer {
    pub server: RedisServer,
    pub tls_port: u16,
}

impl TlsServer {
    /// `redis-server` from `PATH` (a TLS build: Debian's is) with a TLS port beside its plain
    /// one; `extra` adds e.g. `--tls-auth-clients no` (clients must show a certificate
    /// otherwise) or `--tls-protocols TLSv1.3`.
    pub fn start(certs: &TestCerts, extra: &[&str]) -> TlsServer {
        Self::start_binary(DEFAULT_BINARY, certs, extra)
    }

    /// [`TlsServer::start`] with a given binary (found on `PATH` when it is a bare name).
    pub fn start_binary(binary: &str, certs: &TestCerts, extra: &[&str]) -> TlsServer {
        let files = [
            ("--tls-cert-file", show(&certs.server_cert)),
            ("--tls-key-file", show(&certs.server_key)),
            ("--tls-ca-cert-file", show(&certs.ca)),
        ];
        let binary = on_path(binary).unwrap_or_else(|| PathBuf::from(binary));
        let server = RedisServer::start_binary_with(binary, |_| {
            let mut args = vec!["--tls-port".to_string(), free_port().to_string()];
            for (flag, file) in &files {
                args.push(flag.to_string());
                args.push(file.clone());
            }
            args.extend(extra.iter().map(|a| a.to_string()));
            args
        });
        let tls_port = server
            .arg("--tls-port")
            .and_then(|port| port.parse().ok())
            .expect("the server was started with --tls-port");
        TlsServer { server, tls_port }
    }

    /// `rediss://127.0.0.1:TLS_PORT`
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.tls_port)
    }
}
