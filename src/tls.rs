//! What the HTTP transport and the event hub's `wss://` connection share about
//! TLS: the CA bundle of [`crate::SessionOptions::ca_bundle`], and what to say
//! when a server's certificate is refused.

use std::path::Path;

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
    }
}
