//! Real TLS and SASL endpoints for the Kafka security tests: a CA with
//! server and client certificates made by the `openssl` command, Debian's
//! `stunnel` as the TLS server in front of a local Tansu broker that
//! advertises the TLS port, and Tansu brokers that require SASL.
//!
//! Certificates come from the openssl command rather than a crate such as
//! rcgen: it is already on every machine that has CA certificates (Debian's
//! `ca-certificates` depends on it), adds nothing to build, and the commands
//! are the ones a user would run (docs/kafka-security.md shows them).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use weibostream_shared::kafka::KafkaSettings;

use crate::{Broker, free_port, provided, wait_for_port};

/// The password of the encrypted copy of the client key.
pub const CLIENT_KEY_PASSWORD: &str = "client-key-secret";

/// Certificates for one test, in PEM files.
pub struct Certs {
    /// The CA that signed the server and client certificates.
    pub ca: PathBuf,
    /// The broker's certificate (for 127.0.0.1 and localhost) and key.
    pub server_cert: PathBuf,
    /// The broker's key.
    pub server_key: PathBuf,
    /// A client certificate signed by [`Certs::ca`].
    pub client_cert: PathBuf,
    /// Its key, unencrypted.
    pub client_key: PathBuf,
    /// The same key encrypted with [`CLIENT_KEY_PASSWORD`].
    pub client_key_encrypted: PathBuf,
    /// Another CA, which signed neither the broker's nor the client's certificate.
    pub other_ca: PathBuf,
    /// A client certificate signed by [`Certs::other_ca`].
    pub other_client_cert: PathBuf,
    /// Its key.
    pub other_client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (deploy/local/ensure-stunnel.sh installs it)");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A new P-256 key and a certificate for `subject` signed by `ca` (or
/// self-signed as a CA when `ca` is `None`), with `extensions`.
fn certificate(dir: &Path, name: &str, subject: &str, ca: Option<&str>, extensions: &str) {
    let key = format!("{name}.key");
    let cert = format!("{name}.pem");
    let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    match ca {
        None => {
            let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", subject];
            args.extend(curve);
            args.extend(["-keyout", &key, "-out", &cert]);
            openssl(dir, &args);
        }
        Some(ca) => {
            let csr = format!("{name}.csr");
            let ext = format!("{name}.ext");
            std::fs::write(dir.join(&ext), extensions).unwrap();
            let mut args = vec!["req", "-nodes", "-subj", subject];
            args.extend(curve);
            args.extend(["-keyout", &key, "-out", &csr]);
            openssl(dir, &args);
            let ca_cert = format!("{ca}.pem");
            let ca_key = format!("{ca}.key");
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &ca_cert,
                    "-CAkey",
                    &ca_key,
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-out",
                    &cert,
                    "-extfile",
                    &ext,
                ],
            );
        }
    }
}

impl Certs {
    /// Makes a CA, a server certificate for 127.0.0.1, a client
    /// certificate, and a second CA with a client certificate of its own.
    pub fn generate(dir: &Path) -> Certs {
        certificate(dir, "ca", "/CN=weibostream test CA", None, "");
        certificate(
            dir,
            "server",
            "/CN=localhost",
            Some("ca"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        certificate(
            dir,
            "client",
            "/CN=weibostream client",
            Some("ca"),
            "extendedKeyUsage=clientAuth\n",
        );
        let pass = format!("pass:{CLIENT_KEY_PASSWORD}");
        openssl(
            dir,
            &[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                "client.key",
                "-out",
                "client-encrypted.key",
                "-passout",
                &pass,
            ],
        );
        certificate(dir, "other-ca", "/CN=another CA", None, "");
        certificate(
            dir,
            "other-client",
            "/CN=stranger",
            Some("other-ca"),
            "extendedKeyUsage=clientAuth\n",
        );
        Certs {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
            client_key_encrypted: dir.join("client-encrypted.key"),
            other_ca: dir.join("other-ca.pem"),
            other_client_cert: dir.join("other-client.pem"),
            other_client_key: dir.join("other-client.key"),
        }
    }
}

/// The stunnel binary: `$STUNNEL_BIN`, or what `deploy/local/ensure-stunnel.sh` provides.
pub fn stunnel_binary() -> PathBuf {
    PathBuf::from(provided("STUNNEL_BIN", "ensure-stunnel.sh"))
}

/// A stunnel process: TLS on 127.0.0.1:`port`, plaintext to the broker
/// behind it. Killed when dropped.
pub struct Stunnel {
    child: Child,
    /// `127.0.0.1:PORT`, where it accepts TLS.
    pub address: String,
    /// Its log (stunnel's `output`).
    pub log: PathBuf,
}

impl Stunnel {
    /// Starts stunnel with the server certificate; with `mutual`, it also
    /// requires a client certificate signed by the CA.
    pub fn start(dir: &Path, certs: &Certs, port: u16, backend: &str, mutual: bool) -> Stunnel {
        let address = format!("127.0.0.1:{port}");
        let log = dir.join(format!("stunnel-{port}.log"));
        let mut conf = format!(
            "foreground = yes\npid =\noutput = {}\ndebug = info\n\n[kafka]\naccept = {address}\nconnect = {backend}\ncert = {}\nkey = {}\n",
            log.display(),
            certs.server_cert.display(),
            certs.server_key.display(),
        );
        if mutual {
            conf.push_str(&format!(
                "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
                certs.ca.display()
            ));
        }
        let path = dir.join(format!("stunnel-{port}.conf"));
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(stunnel_binary())
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(File::create(dir.join(format!("stunnel-{port}.err"))).unwrap())
            .spawn()
            .unwrap();
        let stunnel = Stunnel {
            child,
            address,
            log,
        };
        wait_for_port(&stunnel.address, Duration::from_secs(20));
        stunnel
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A local broker reachable only through TLS: Tansu on a plaintext port
/// that advertises the port of a stunnel in front of it, so every
/// connection a client makes (bootstrap and partition leaders) is TLS.
pub struct TlsBroker {
    /// Fields drop in order: stunnel first, then the broker, then the files.
    pub stunnel: Stunnel,
    /// The broker behind stunnel.
    pub broker: Broker,
    /// The certificates.
    pub certs: Certs,
    /// Where certificates and logs live.
    pub dir: tempfile::TempDir,
}

impl TlsBroker {
    /// Starts the broker and stunnel; `mutual` requires client certificates.
    pub fn start(mutual: bool) -> TlsBroker {
        let dir = tempfile::tempdir().unwrap();
        let certs = Certs::generate(dir.path());
        let tls_port = free_port();
        let broker = Broker::start_with(
            free_port(),
            &format!("tcp://127.0.0.1:{tls_port}"),
            &["--storage-engine", "memory://tansu/"],
        );
        let stunnel = Stunnel::start(dir.path(), &certs, tls_port, &broker.address, mutual);
        TlsBroker {
            stunnel,
            broker,
            certs,
            dir,
        }
    }

    /// Settings that connect over TLS, trusting the test CA; with a client
    /// certificate (its unencrypted key) for a `mutual` broker.
    pub fn kafka(&self, client_certificate: bool) -> KafkaSettings {
        let mut kafka = KafkaSettings {
            brokers: self.stunnel.address.clone(),
            security_protocol: "ssl".into(),
            ssl_ca_location: Some(self.certs.ca.clone()),
            startup_timeout_ms: 20_000,
            ..KafkaSettings::default()
        };
        if client_certificate {
            kafka.ssl_certificate_location = Some(self.certs.client_cert.clone());
            kafka.ssl_key_location = Some(self.certs.client_key.clone());
        }
        kafka
    }
}

/// The tansu binary that keeps SCRAM users (the SQLite engine):
/// `$TANSU_SASL_BIN`, or what `deploy/local/install-tansu-sasl.sh` provides.
pub fn tansu_sasl_binary() -> PathBuf {
    PathBuf::from(provided("TANSU_SASL_BIN", "install-tansu-sasl.sh"))
}

/// A SCRAM user of a [`ScramBroker`].
pub struct ScramUser {
    /// Its name.
    pub name: &'static str,
    /// Its password.
    pub password: &'static str,
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: &'static str,
}

/// A local broker that checks SCRAM logins (Tansu with `--authentication`
/// and the SQLite engine, which keeps the users), optionally behind stunnel
/// for `sasl_ssl`.
pub struct ScramBroker {
    /// stunnel in front of the broker, for `sasl_ssl`.
    pub stunnel: Option<Stunnel>,
    /// The broker.
    pub broker: Broker,
    /// The certificates (for `sasl_ssl`).
    pub certs: Certs,
    /// The store, certificates and logs.
    pub dir: tempfile::TempDir,
}

impl ScramBroker {
    /// Creates `users` on a broker started without authentication (the
    /// `tansu user create` command cannot log in), then restarts it on the
    /// same store with `--authentication`; with `tls`, stunnel in front.
    pub fn start(users: &[ScramUser], tls: bool) -> ScramBroker {
        let dir = tempfile::tempdir().unwrap();
        let certs = Certs::generate(dir.path());
        let program = tansu_sasl_binary();
        let store = ["--storage-engine", "sqlite://tansu.db"];
        {
            let port = free_port();
            let url = format!("tcp://127.0.0.1:{port}");
            let _setup = Broker::start_program(&program, Some(dir.path()), port, &url, &store);
            for user in users {
                let mechanism = match user.mechanism {
                    "SCRAM-SHA-256" => "scram256",
                    "SCRAM-SHA-512" => "scram512",
                    other => panic!("not a SCRAM mechanism: {other}"),
                };
                let output = Command::new(&program)
                    .args(["user", "create", user.name, user.password])
                    .args(["--broker", &url, "--mechanism", mechanism])
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "tansu user create {}: {}",
                    user.name,
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        let port = free_port();
        let tls_port = free_port();
        let advertised = format!("tcp://127.0.0.1:{}", if tls { tls_port } else { port });
        let mut args = store.to_vec();
        args.push("--authentication");
        let broker = Broker::start_program(&program, Some(dir.path()), port, &advertised, &args);
        let stunnel =
            tls.then(|| Stunnel::start(dir.path(), &certs, tls_port, &broker.address, false));
        ScramBroker {
            stunnel,
            broker,
            certs,
            dir,
        }
    }

    /// Settings that log in as `user` with the password in the
    /// environment variable `password_env` (`sasl_plaintext`, or
    /// `sasl_ssl` through stunnel).
    pub fn kafka(&self, user: &ScramUser, password_env: &str) -> KafkaSettings {
        let mut kafka = KafkaSettings {
            brokers: self.broker.address.clone(),
            security_protocol: "sasl_plaintext".into(),
            sasl_mechanism: Some(user.mechanism.into()),
            sasl_username: Some(user.name.into()),
            sasl_password_env: Some(password_env.into()),
            startup_timeout_ms: 20_000,
            ..KafkaSettings::default()
        };
        if let Some(stunnel) = &self.stunnel {
            kafka.brokers = stunnel.address.clone();
            kafka.security_protocol = "sasl_ssl".into();
            kafka.ssl_ca_location = Some(self.certs.ca.clone());
        }
        kafka
    }

    /// [`ScramBroker::kafka`] with the password in a file instead (for
    /// clients in the test process, which cannot set its environment).
    pub fn kafka_with_file(&self, user: &ScramUser) -> KafkaSettings {
        let file = self.dir.path().join(format!("{}.password", user.name));
        std::fs::write(&file, format!("{}\n", user.password)).unwrap();
        KafkaSettings {
            sasl_password_env: None,
            sasl_password_file: Some(file),
            ..self.kafka(user, "UNUSED")
        }
    }
}
