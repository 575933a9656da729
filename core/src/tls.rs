//! The rustls client configuration every TLS-speaking connector hands its driver.
//!
//! One crypto provider per process: aws-lc, installed explicitly (two providers enabled on
//! rustls panic on first use). Roots are the user's CA file or, without one, the
//! platform's. Turning hostname verification off still verifies the whole chain: only a
//! certificate naming another host is accepted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};

/// The option names errors point at; shared by every connector that offers TLS.
pub const CA_FILE_OPTION: &str = "sslCaCert";
pub const CLIENT_CERT_OPTION: &str = "sslClientCert";
pub const CLIENT_KEY_OPTION: &str = "sslClientKey";

/// What a user configures for TLS: PEM files and whether the hostname is checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsFiles {
    /// CA certificates (PEM) to trust instead of the platform's roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS; used together with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Whether the server's certificate must name the host connected to.
    pub verify_hostname: bool,
}

impl Default for TlsFiles {
    fn default() -> Self {
        TlsFiles {
            ca_file: None,
            client_cert: None,
            client_key: None,
            verify_hostname: true,
        }
    }
}

/// The rustls client configuration for `files`; errors name the option to fix.
pub fn client_config(system: &'static str, files: &TlsFiles) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // Make aws-lc the process default too, so no other rustls user picks another provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut roots = RootCertStore::empty();
    match &files.ca_file {
        Some(path) => {
            for cert in read_pem_certs(system, path, CA_FILE_OPTION)? {
                roots.add(cert).map_err(|e| {
                    Error::config(
                        system,
                        format!("option `{CA_FILE_OPTION}`: unusable CA certificate: {e}"),
                    )
                })?;
            }
        }
        None => {
            // Unreadable platform certificates are skipped: the handshake then reports an
            // untrusted server, which points at the CA option.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(system, "tls", e.to_string()))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| Error::config(system, format!("TLS verifier: {e}")))?;
    let builder = if files.verify_hostname {
        builder.with_webpki_verifier(verifier)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoHostnameVerifier(verifier)))
    };
    let config = match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_pem_certs(system, cert, CLIENT_CERT_OPTION)?;
            let key = read_private_key(system, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::config(system, format!("client certificate/key: {e}")))?
        }
        (Some(_), None) => return Err(half_pair(system, CLIENT_CERT_OPTION, CLIENT_KEY_OPTION)),
        (None, Some(_)) => return Err(half_pair(system, CLIENT_KEY_OPTION, CLIENT_CERT_OPTION)),
        (None, None) => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn half_pair(system: &'static str, given: &str, missing: &str) -> Error {
    Error::config(
        system,
        format!("option `{given}` is set but `{missing}` is not: mutual TLS needs both"),
    )
}

fn open(
    system: &'static str,
    path: &Path,
    option: &str,
) -> Result<std::io::BufReader<std::fs::File>> {
    std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|e| {
            Error::config(
                system,
                format!("option `{option}`: cannot open {}: {e}", path.display()),
            )
        })
}

fn read_pem_certs(
    system: &'static str,
    path: &Path,
    option: &str,
) -> Result<Vec<CertificateDer<'static>>> {
    let certs = rustls_pemfile::certs(&mut open(system, path, option)?)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::config(
                system,
                format!("option `{option}`: bad PEM in {}: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::config(
            system,
            format!("option `{option}`: no certificate in {}", path.display()),
        ));
    }
    Ok(certs)
}

fn read_private_key(
    system: &'static str,
    path: &Path,
) -> Result<rustls::pki_types::PrivateKeyDer<'static>> {
    rustls_pemfile::private_key(&mut open(system, path, CLIENT_KEY_OPTION)?)
        .map_err(|e| {
            Error::config(
                system,
                format!("option `{CLIENT_KEY_OPTION}`: bad PEM: {e}"),
            )
        })?
        .ok_or_else(|| {
            Error::config(
                system,
                format!("option `{CLIENT_KEY_OPTION}`: no private key in the file"),
            )
        })
}

/// Full chain verification, but a certificate naming another host is accepted.
#[derive(Debug)]
struct NoHostnameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for NoHostnameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sdc-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn platform_roots_build_with_and_without_hostname_check() {
        assert!(client_config("t", &TlsFiles::default()).is_ok());
        let lax = TlsFiles {
            verify_hostname: false,
            ..TlsFiles::default()
        };
        assert!(client_config("t", &lax).is_ok());
    }

    #[test]
    fn errors_name_the_option_and_the_file() {
        let missing = TlsFiles {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsFiles::default()
        };
        let e = client_config("t", &missing).unwrap_err();
        assert!(
            e.message()
                .contains("option `sslCaCert`: cannot open /nonexistent/ca.pem"),
            "{e}"
        );
        let empty = TlsFiles {
            ca_file: Some(temp_file("empty.pem", "not a certificate\n")),
            ..TlsFiles::default()
        };
        let e = client_config("t", &empty).unwrap_err();
        assert!(
            e.message()
                .contains("option `sslCaCert`: no certificate in"),
            "{e}"
        );
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let cert_only = TlsFiles {
            client_cert: Some(temp_file("client.pem", "")),
            ..TlsFiles::default()
        };
        let e = client_config("t", &cert_only).unwrap_err();
        assert!(
            e.message()
                .contains("`sslClientCert` is set but `sslClientKey` is not"),
            "{e}"
        );
        let key_only = TlsFiles {
            client_key: Some(temp_file("client.key", "")),
            ..TlsFiles::default()
        };
        let e = client_config("t", &key_only).unwrap_err();
        assert!(
            e.message()
                .contains("`sslClientKey` is set but `sslClientCert` is not"),
            "{e}"
        );
    }
}
