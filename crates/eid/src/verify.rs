//! Signature verification: identity and address files against the RRN
//! certificate, and the RRN certificate against trusted roots.

use p384::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use crate::apdu::SigShape;

/// The outcome shown to the steward and printed as `"signature"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    /// Files signed by the RRN key, RRN certificate signed by a trusted root.
    Valid,
    /// Files consistent with the RRN certificate, but it does not chain to a trusted root.
    UntrustedRoot,
    /// A signature does not match: a file was altered, or the certificate is damaged.
    Invalid,
}

/// Why a root certificate could not be added.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("the root certificate is not a PEM certificate: {0}")]
    Pem(String),
}

/// The roots an RRN certificate may chain to.
#[derive(Clone)]
pub struct TrustStore {
    roots: Vec<Certificate>,
}

/// Belgium Root CA 2, 3, 4, 4 (re-issued) and 6 (EC), bundled at build time
/// from `assets/certs/belgium-root/` (fingerprints in /work/shared README).
const BELGIUM_ROOTS: [&str; 5] = [
    include_str!("../../../assets/certs/belgium-root/belgiumrca2.pem"),
    include_str!("../../../assets/certs/belgium-root/belgiumrca3.pem"),
    include_str!("../../../assets/certs/belgium-root/belgiumrca4.pem"),
    include_str!("../../../assets/certs/belgium-root/belgiumrca4b.pem"),
    include_str!("../../../assets/certs/belgium-root/belgiumrca6.pem"),
];

impl TrustStore {
    /// Only the bundled Belgium roots.
    pub fn belgium() -> Self {
        let roots = BELGIUM_ROOTS
            .iter()
            .filter_map(|pem| Certificate::from_pem(pem.as_bytes()).ok())
            .collect();
        TrustStore { roots }
    }

    /// No roots at all (every card is `untrusted_root` at best).
    pub fn empty() -> Self {
        TrustStore { roots: Vec::new() }
    }

    /// Adds a root given at run time (tests use a throw-away test root).
    pub fn add_pem(&mut self, pem: &str) -> Result<(), TrustError> {
        let cert =
            Certificate::from_pem(pem.as_bytes()).map_err(|e| TrustError::Pem(e.to_string()))?;
        self.roots.push(cert);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

enum Key {
    Rsa(RsaPublicKey),
    P384(p384::ecdsa::VerifyingKey),
}

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

fn key_of(cert: &Certificate) -> Option<Key> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bytes = spki.subject_public_key.raw_bytes();
    if spki.algorithm.oid == RSA_ENCRYPTION {
        return RsaPublicKey::from_pkcs1_der(bytes).ok().map(Key::Rsa);
    }
    if spki.algorithm.oid == EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
        if curve == SECP384R1 {
            return p384::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .ok()
                .map(Key::P384);
        }
    }
    None
}

/// How the signature files of a card with this RRN certificate look.
pub fn shape_of(rrn_der: &[u8]) -> SigShape {
    match Certificate::from_der(rrn_der)
        .ok()
        .as_ref()
        .and_then(key_of)
    {
        Some(Key::Rsa(k)) => SigShape::Rsa { len: k.size() },
        Some(Key::P384(_)) => SigShape::Ec,
        None => SigShape::Unknown,
    }
}

#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn digest(h: Hash, msg: &[u8]) -> Vec<u8> {
    match h {
        Hash::Sha1 => Sha1::digest(msg).to_vec(),
        Hash::Sha256 => Sha256::digest(msg).to_vec(),
        Hash::Sha384 => Sha384::digest(msg).to_vec(),
        Hash::Sha512 => Sha512::digest(msg).to_vec(),
    }
}

fn verify_with(key: &Key, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
    let hashed = digest(hash, msg);
    match key {
        Key::Rsa(k) => {
            let scheme = match hash {
                Hash::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
                Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
                Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
                Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
            };
            k.verify(scheme, &hashed, sig).is_ok()
        }
        Key::P384(k) => {
            // The file holds a DER signature followed by zeros: its length is byte[1] + 2.
            let Some(len) = crate::apdu::der_len(sig) else {
                return false;
            };
            let Some(der) = sig.get(..len) else {
                return false;
            };
            match p384::ecdsa::Signature::from_der(der) {
                Ok(s) => k.verify_prehash(&hashed, &s).is_ok(),
                Err(_) => false,
            }
        }
    }
}

/// RSA cards sign with SHA-1 or (re-signed cards) SHA-256; the photo hash
/// length hints which, so it is tried first. EC cards always use SHA-384.
fn verify_file(key: &Key, photo_hash_len: Option<usize>, msg: &[u8], sig: &[u8]) -> bool {
    match key {
        Key::P384(_) => verify_with(key, Hash::Sha384, msg, sig),
        Key::Rsa(_) => {
            let order = match photo_hash_len {
                Some(32) => [Hash::Sha256, Hash::Sha1, Hash::Sha384],
                Some(48) => [Hash::Sha384, Hash::Sha256, Hash::Sha1],
                _ => [Hash::Sha1, Hash::Sha256, Hash::Sha384],
            };
            order.iter().any(|h| verify_with(key, *h, msg, sig))
        }
    }
}

/// Is `cert` signed by `root`? `None` when the algorithm is not one we know.
fn signed_by(cert: &Certificate, root: &Certificate) -> Option<bool> {
    let key = key_of(root)?;
    let tbs = cert.tbs_certificate.to_der().ok()?;
    let sig = cert.signature.raw_bytes();
    let hash = match cert.signature_algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => Hash::Sha1,
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => Hash::Sha256,
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Hash::Sha384,
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Hash::Sha512,
        _ => return None,
    };
    Some(verify_with(&key, hash, &tbs, sig))
}

/// Verifies a card's files.
///
/// - `identity` must be the whole 4031 file as read; `identity_sig` 4032 as read.
/// - The address signature covers 4033 without its trailing zeros, followed by
///   4032 exactly as read (padding included).
///
/// A bad file signature (or an unreadable certificate) is `Invalid` whatever
/// the roots; good file signatures under a certificate no trusted root signed
/// is `UntrustedRoot`. The certificate's validity period is not checked: a
/// steward still serves a resident whose card has expired.
pub fn verify_card(
    identity: &[u8],
    identity_sig: &[u8],
    address: &[u8],
    address_sig: &[u8],
    rrn_der: &[u8],
    photo_hash_len: Option<usize>,
    trust: &TrustStore,
) -> SignatureStatus {
    let Ok(cert) = Certificate::from_der(rrn_der) else {
        return SignatureStatus::Invalid;
    };
    let Some(key) = key_of(&cert) else {
        return SignatureStatus::Invalid;
    };
    if !verify_file(&key, photo_hash_len, identity, identity_sig) {
        return SignatureStatus::Invalid;
    }
    let end = address.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut signed = zeroize::Zeroizing::new(Vec::with_capacity(end + identity_sig.len()));
    signed.extend_from_slice(&address[..end]);
    signed.extend_from_slice(identity_sig);
    if !verify_file(&key, photo_hash_len, &signed, address_sig) {
        return SignatureStatus::Invalid;
    }
    let issuer = cert.tbs_certificate.issuer.to_der().ok();
    let mut issuer_known = false;
    for root in &trust.roots {
        if root.tbs_certificate.subject.to_der().ok() != issuer {
            continue;
        }
        issuer_known = true;
        if signed_by(&cert, root) == Some(true) {
            return SignatureStatus::Valid;
        }
    }
    if issuer_known {
        // Named after a trusted root but not signed by it: a forged or damaged certificate.
        SignatureStatus::Invalid
    } else {
        SignatureStatus::UntrustedRoot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_belgium_roots_all_load() {
        let store = TrustStore::belgium();
        assert_eq!(store.len(), BELGIUM_ROOTS.len());
        // Each root is self-signed: checking that exercises RSA-SHA1, RSA-SHA256 and ECDSA-P384.
        for root in &store.roots {
            assert_eq!(signed_by(root, root), Some(true));
        }
    }

    #[test]
    fn garbage_certificate_is_invalid() {
        let s = verify_card(
            b"",
            b"",
            b"",
            b"",
            b"\x30\x03\x02\x01\x00",
            None,
            &TrustStore::belgium(),
        );
        assert_eq!(s, SignatureStatus::Invalid);
        assert_eq!(shape_of(b"nonsense"), SigShape::Unknown);
    }
}
