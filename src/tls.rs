//! What the HTTP transport and the event hub's `wss://` connection share about
//! TLS: the CA bundle of [`crate::SessionOptions::ca_bundle`], and a rustls
//! client configuration that verifies servers the way ureq's does for the
//! HTTP side (the CA bundle when set, else the platform's verifier).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::{Error, Result};

/// What to tell a user whose server certificate is not trusted.
pub(crate) const TRUST_HINT: &str = "pass the CA that signed it with SessionOptions::ca_bundle \
     (ftrack_session_options_set_ca_bundle_path in C), or install it in the system's trust store";

/// The certificates of the PEM file `path` (other PEM sections are skipped),
/// or an [`Error::Tls`] that says what is wrong with the file.
pub(crate) fn ca_bundle_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::Tls(format!(
            "cannot read the CA bundle {}: {e}; pass an existing PEM file",
            path.display()
        ))
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Tls(format!(
                "the CA bundle {} is not valid PEM ({e}); pass a PEM file of certificates",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "the CA bundle {} holds no certificate; pass a PEM file of CA certificates",
            path.display()
        )));
    }
    Ok(certs)
}

/// A rustls client configuration (TLS 1.2 and 1.3, ring) that trusts the CA
/// bundle at `ca_bundle` only when given, else what the platform's verifier
/// trusts. Server names are always verified.
pub(crate) fn client_config(ca_bundle: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| Error::Tls(format!("TLS cannot be set up ({e})")))?;
    let config = match ca_bundle {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(ca_bundle_certificates(path)?);
            if added == 0 {
                return Err(Error::Tls(format!(
                    "no certificate in the CA bundle {} is a usable CA certificate; pass a PEM \
                     file of CA certificates",
                    path.display()
                )));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|e| {
                Error::Tls(format!(
                    "the platform's certificate verifier is not available ({e}); pass a CA \
                     bundle with SessionOptions::ca_bundle"
                ))
            })?;
            builder
                .dangerous() // not dangerous: the platform verifier checks chain and name
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// A sentence for a failed TLS handshake with `host`: an untrusted,
/// misnamed or expired certificate says what to do about it.
pub(crate) fn handshake_failure(host: &str, error: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
            "the certificate of {host} is not trusted: it is signed by an unknown CA \
             (UnknownIssuer); {TRUST_HINT}"
        ),
        rustls::Error::InvalidCertificate(
            why @ (C::NotValidForName | C::NotValidForNameContext { .. }),
        ) => format!(
            "the certificate of {host} is not trusted: it is for another name ({why}); use a \
             server URL with a host name the certificate holds"
        ),
        rustls::Error::InvalidCertificate(
            why @ (C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. }),
        ) => format!(
            "the certificate of {host} is not trusted: it is not valid now ({why}); renew it, or \
             check this machine's clock"
        ),
        rustls::Error::InvalidCertificate(why) => {
            format!("the certificate of {host} is not trusted: {why}; {TRUST_HINT}")
        }
        other => format!(
            "the TLS handshake with {host} failed ({other}); check that the server speaks \
             HTTPS on that port and that its certificate is valid"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_bundle_that_is_missing_or_empty_says_what_to_pass() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = ca_bundle_certificates(&missing).unwrap_err().to_string();
        assert!(e.contains("cannot read the CA bundle"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = ca_bundle_certificates(&empty).unwrap_err().to_string();
        assert!(e.contains("holds no certificate"), "{e}");
        let e = client_config(Some(&empty)).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Tls);
    }

    #[test]
    fn the_platform_verifier_is_the_default() {
        client_config(None).expect("the platform verifier starts");
    }
}
