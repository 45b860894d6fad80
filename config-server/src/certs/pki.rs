//! The certificates themselves: a CA, a serving certificate it signs for the
//! injector Service's DNS names, and what we need to read back from PEM to
//! decide whether to rotate (expiry, names, issuer).

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

/// Why a certificate could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{what} is not a valid PEM certificate: {reason}")]
    Parse { what: &'static str, reason: String },
}

/// A PEM certificate with its PEM private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub cert: String,
    pub key: String,
}

/// What the rotation logic needs to know of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    pub not_after: SystemTime,
    pub not_before: SystemTime,
    pub dns_names: Vec<String>,
    /// DER of the issuer's distinguished name, to tell which CA signed it.
    pub issuer: Vec<u8>,
    /// DER of the subject's distinguished name (a CA's, for the above).
    pub subject: Vec<u8>,
    /// The DER certificate, for signature checks.
    pub der: Vec<u8>,
}

impl CertInfo {
    pub fn lifetime(&self) -> Duration {
        self.not_after
            .duration_since(self.not_before)
            .unwrap_or_default()
    }

    /// Whether less than `fraction` of the certificate's lifetime is left at
    /// `now` (rotation starts then, leaving the rest as overlap).
    pub fn due(&self, now: SystemTime, fraction: f64) -> bool {
        let left = self.not_after.duration_since(now).unwrap_or_default();
        left.as_secs_f64() < self.lifetime().as_secs_f64() * fraction
    }

    /// Whether `ca` signed this certificate (issuer name and signature).
    pub fn signed_by(&self, ca: &CertInfo) -> bool {
        if self.issuer != ca.subject {
            return false;
        }
        let (Ok((_, cert)), Ok((_, ca))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&ca.der),
        ) else {
            return false;
        };
        cert.verify_signature(Some(ca.public_key())).is_ok()
    }
}

fn time_of(t: x509_parser::time::ASN1Time) -> SystemTime {
    let secs = t.timestamp();
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

/// Reads every certificate of a PEM bundle, in order.
pub fn parse_bundle(pem: &str, what: &'static str) -> Result<Vec<CertInfo>, PkiError> {
    let bad = |reason: String| PkiError::Parse { what, reason };
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| bad(e.to_string()))?;
        let cert = block.parse_x509().map_err(|e| bad(e.to_string()))?;
        let dns_names = cert
            .extensions()
            .iter()
            .filter_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => Some(san),
                _ => None,
            })
            .flat_map(|san| san.general_names.iter())
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_string()),
                _ => None,
            })
            .collect();
        out.push(CertInfo {
            not_after: time_of(cert.validity().not_after),
            not_before: time_of(cert.validity().not_before),
            dns_names,
            issuer: cert.issuer().as_raw().to_vec(),
            subject: cert.subject().as_raw().to_vec(),
            der: block.contents.clone(),
        });
    }
    if out.is_empty() {
        return Err(bad("no certificate found".into()));
    }
    Ok(out)
}

fn validity(params: &mut CertificateParams, now: SystemTime, lifetime: Duration) {
    // Backdated a little: the API server's clock may lag ours.
    let start = now.checked_sub(Duration::from_secs(300)).unwrap_or(now);
    params.not_before = start.into();
    params.not_after = (now + lifetime).into();
}

/// A new self-signed CA valid for `lifetime` from `now`.
pub fn new_ca(common_name: &str, now: SystemTime, lifetime: Duration) -> Result<Pair, PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, now, lifetime);
    let cert = params.self_signed(&key)?;
    Ok(Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A serving certificate for `dns_names`, signed by `ca`.
pub fn issue_serving(
    ca: &Pair,
    dns_names: &[String],
    now: SystemTime,
    lifetime: Duration,
) -> Result<Pair, PkiError> {
    let ca_key = KeyPair::from_pem(&ca.key)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(dns_names.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        dns_names.first().cloned().unwrap_or_default(),
    );
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params, now, lifetime);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn serving_certificate_chains_to_its_ca_with_the_names() {
        let now = SystemTime::now();
        let ca = new_ca("test-ca", now, 365 * DAY).unwrap();
        let other = new_ca("other-ca", now, 365 * DAY).unwrap();
        let names = vec![
            "svc.ns.svc".to_string(),
            "svc.ns.svc.cluster.local".to_string(),
        ];
        let serving = issue_serving(&ca, &names, now, 30 * DAY).unwrap();
        let info = &parse_bundle(&serving.cert, "tls.crt").unwrap()[0];
        let ca_info = &parse_bundle(&ca.cert, "ca.crt").unwrap()[0];
        let other_info = &parse_bundle(&other.cert, "ca.crt").unwrap()[0];
        assert_eq!(info.dns_names, names);
        assert!(info.signed_by(ca_info));
        assert!(!info.signed_by(other_info));
        assert!(!info.due(now, 1.0 / 3.0));
        assert!(info.due(now + 25 * DAY, 1.0 / 3.0));
    }

    #[test]
    fn bundles_keep_order_and_garbage_is_an_error() {
        let now = SystemTime::now();
        let a = new_ca("a", now, DAY).unwrap();
        let b = new_ca("b", now, DAY).unwrap();
        let both = parse_bundle(&format!("{}{}", a.cert, b.cert), "ca.crt").unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(both[0], parse_bundle(&a.cert, "x").unwrap()[0]);
        assert!(parse_bundle("not pem", "ca.crt").is_err());
    }
}
