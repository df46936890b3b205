//! Connections to PostgreSQL, over TLS when the connection string asks for it.
//!
//! `sslmode=require` (or `verify-ca`, `verify-full`) in `DATABASE_URL` makes every connection (the
//! pool's and the migrations') use TLS with rustls, which always verifies the certificate chain and
//! the host name, as libpq's `verify-full` does, against the public web roots plus, when
//! `DATABASE_CA_FILE` names a PEM file, the managed service's own CA (RDS, Cloud SQL and Azure use
//! private CAs). Without it connections are plain, as on a private cluster on loopback.

use std::sync::Arc;

use diesel::ConnectionResult;
use diesel_async::AsyncPgConnection;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A database connection string and how to secure connections made with it.
#[derive(Clone)]
pub struct Connector {
    url: String,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

/// Why the TLS settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("DATABASE_CA_FILE {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

impl Connector {
    /// Reads `url`'s `sslmode`; `ca_file` adds a trusted CA for TLS connections.
    pub fn new(url: &str, ca_file: Option<&str>) -> Result<Self, TlsSetupError> {
        if !wants_tls(url) {
            return Ok(Self { url: url.to_owned(), tls: None });
        }
        // tokio-postgres knows `require` only; the verification the stricter modes ask for is what
        // rustls does anyway.
        let url = url.replace("sslmode=verify-full", "sslmode=require").replace("sslmode=verify-ca", "sslmode=require");
        Ok(Self { url, tls: Some(make_tls(ca_file)?) })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens one connection.
    pub fn connect(&self) -> BoxFuture<'static, ConnectionResult<AsyncPgConnection>> {
        let (url, tls) = (self.url.clone(), self.tls.clone());
        async move {
            match tls {
                None => <AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url).await,
                Some(tls) => {
                    let (client, connection) = tokio_postgres::connect(&url, tls)
                        .await
                        .map_err(|err| diesel::ConnectionError::BadConnection(err.to_string()))?;
                    AsyncPgConnection::try_from_client_and_connection(client, connection).await
                }
            }
        }
        .boxed()
    }
}

/// Whether the connection string's `sslmode` asks for TLS (`require`, `verify-ca`, `verify-full`).
fn wants_tls(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .any(|(key, value)| key == "sslmode" && matches!(value, "require" | "verify-ca" | "verify-full"))
}

fn make_tls(ca_file: Option<&str>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let ca_error = |reason: String| TlsSetupError::CaFile { path: path.to_owned(), reason };
        let certificates = CertificateDer::pem_file_iter(path)
            .map_err(|err| ca_error(err.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| ca_error(err.to_string()))?;
        if certificates.is_empty() {
            return Err(ca_error("no certificate in the file".into()));
        }
        for certificate in certificates {
            roots.add(certificate).map_err(|err| ca_error(err.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::{Connector, wants_tls};

    #[test]
    fn only_the_ssl_modes_that_demand_tls_turn_it_on() {
        assert!(wants_tls("postgres://u:p@db.example:5432/app?sslmode=require"));
        assert!(wants_tls("postgres://db/app?application_name=x&sslmode=verify-full"));
        assert!(!wants_tls("postgres://db/app?sslmode=disable"));
        assert!(!wants_tls("postgres://db/app?sslmode=prefer"));
        assert!(!wants_tls("postgres://db/app"));
    }

    #[test]
    fn the_stricter_modes_connect_as_require_with_verification() {
        let connector = Connector::new("postgres://db.example/app?sslmode=verify-full&x=1", None).expect("connector");
        assert_eq!(connector.url(), "postgres://db.example/app?sslmode=require&x=1");
        assert!(connector.tls.is_some());
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let Err(err) = Connector::new("postgres://db/app?sslmode=require", Some("/nonexistent/ca.pem")) else {
            panic!("a missing CA file must be refused");
        };
        assert!(err.to_string().contains("DATABASE_CA_FILE /nonexistent/ca.pem"), "{err}");
    }
}
