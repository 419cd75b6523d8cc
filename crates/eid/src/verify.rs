//! Signature verification: identity and address files against the RRN
//! certificate, and the RRN certificate against trusted roots.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use p384::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

use dps_person::Zeroizing;

use crate::apdu::{CardFile, FileSink, SigShape};
use crate::ec::{FixedBase, Pending, KEY_BITS};

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

/// The roots an RRN certificate may chain to, and what is already known about
/// the RRN certificates seen so far.
///
/// Clones share the chain cache (the watcher and the CLI clone the store);
/// adding a root starts a fresh one, since the verdicts depend on the roots.
#[derive(Clone)]
pub struct TrustStore {
    roots: Vec<Certificate>,
    chains: Arc<Mutex<ChainCache>>,
}

/// How many distinct RRN certificates the cache remembers. Every card of a
/// generation carries the same RRN certificate, so a handful covers the field;
/// the bound keeps a stream of odd cards from growing memory.
const CHAIN_CACHE_SIZE: usize = 8;

/// Verdicts on RRN certificates, keyed by the SHA-256 of their DER.
///
/// The RRN certificate is the National Register's, the same on millions of
/// cards: nothing in it (or in its hash) is about the resident, so caching it
/// keeps no personal data. Only the parsed public key and the chain verdict
/// are kept, in memory. Most recently used first.
#[derive(Default)]
struct ChainCache {
    entries: Vec<([u8; 32], Arc<RrnCheck>)>,
}

/// What one RRN certificate is worth, computed once.
struct RrnCheck {
    /// `None`: not a certificate, or a key type we cannot verify with.
    key: Option<Key>,
    /// How the signature files look, so the reader need not parse X.509
    /// between APDUs when the certificate is known.
    shape: SigShape,
    /// P-384 keys: the key's multiplication table (a form of the public key,
    /// nothing about a card), so each card's checks are additions only.
    table: Option<Arc<FixedBase>>,
    chain: Chain,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Chain {
    /// Signed by a trusted root.
    Trusted,
    /// Issued by no root we trust.
    UnknownIssuer,
    /// Named after a trusted root but not signed by it: forged or damaged.
    Forged,
}

impl ChainCache {
    fn get(&mut self, id: &[u8; 32]) -> Option<Arc<RrnCheck>> {
        let i = self.entries.iter().position(|(k, _)| k == id)?;
        let entry = self.entries.remove(i);
        let check = Arc::clone(&entry.1);
        self.entries.insert(0, entry);
        Some(check)
    }

    fn put(&mut self, id: [u8; 32], check: Arc<RrnCheck>) {
        self.entries.retain(|(k, _)| *k != id);
        self.entries.insert(0, (id, check));
        self.entries.truncate(CHAIN_CACHE_SIZE);
    }
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
        TrustStore {
            roots,
            chains: Arc::default(),
        }
    }

    /// No roots at all (every card is `untrusted_root` at best).
    pub fn empty() -> Self {
        TrustStore {
            roots: Vec::new(),
            chains: Arc::default(),
        }
    }

    /// Adds a root given at run time (tests use a throw-away test root).
    pub fn add_pem(&mut self, pem: &str) -> Result<(), TrustError> {
        let cert =
            Certificate::from_pem(pem.as_bytes()).map_err(|e| TrustError::Pem(e.to_string()))?;
        self.roots.push(cert);
        // Verdicts made without this root may now be wrong; clones keep theirs.
        self.chains = Arc::default();
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
    Rsa {
        key: RsaPublicKey,
        /// The PKCS#1 `RSAPublicKey` DER, for ring's verifier (several times
        /// faster than the pure-Rust one).
        pkcs1: Vec<u8>,
    },
    P384 {
        key: p384::ecdsa::VerifyingKey,
        /// The uncompressed point, for ring's verifier: ~2x faster than the
        /// pure-Rust one, and a card carries two of these signatures.
        sec1: Vec<u8>,
    },
}

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

fn key_of(cert: &Certificate) -> Option<Key> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bytes = spki.subject_public_key.raw_bytes();
    if spki.algorithm.oid == RSA_ENCRYPTION {
        return RsaPublicKey::from_pkcs1_der(bytes)
            .ok()
            .map(|key| Key::Rsa {
                key,
                pkcs1: bytes.to_vec(),
            });
    }
    if spki.algorithm.oid == EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
        if curve == SECP384R1 {
            return p384::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .ok()
                .map(|key| Key::P384 {
                    sec1: key.to_encoded_point(false).as_bytes().to_vec(),
                    key,
                });
        }
    }
    None
}

/// Multiplication tables of the P-384 keys seen, process-wide: they are
/// public-key material (the National Register's key, the same on every card
/// of a generation), shared by every trust store, at most a few entries.
fn table_for(sec1: &[u8], key: &p384::ecdsa::VerifyingKey) -> Arc<FixedBase> {
    const TABLES: usize = 4;
    static CACHE: Mutex<Vec<(Vec<u8>, Arc<FixedBase>)>> = Mutex::new(Vec::new());
    if let Some(hit) = CACHE.lock().ok().and_then(|c| {
        c.iter()
            .find(|(k, _)| k == sec1)
            .map(|(_, t)| Arc::clone(t))
    }) {
        return hit;
    }
    let table = Arc::new(FixedBase::new(
        p384::ProjectivePoint::from(*key.as_affine()),
        KEY_BITS,
    ));
    if let Ok(mut c) = CACHE.lock() {
        c.insert(0, (sec1.to_vec(), Arc::clone(&table)));
        c.truncate(TABLES);
    }
    table
}

/// How the signature files of a card with this RRN certificate look.
///
/// Reads the key's type from the certificate without building the key (an EC
/// point check costs as much as an APDU). For reads that check nothing while
/// the card talks (`read_raw`, `read_card`); the kiosk's reader
/// ([`CardCheck`]) takes the shape from the chain it checks instead.
pub fn shape_of(rrn_der: &[u8]) -> SigShape {
    let Ok(cert) = Certificate::from_der(rrn_der) else {
        return SigShape::Unknown;
    };
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid == RSA_ENCRYPTION {
        return match RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes()) {
            Ok(k) => SigShape::Rsa { len: k.size() },
            Err(_) => SigShape::Unknown,
        };
    }
    let curve: Option<ObjectIdentifier> = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as().ok());
    if spki.algorithm.oid == EC_PUBLIC_KEY && curve == Some(SECP384R1) {
        return SigShape::Ec;
    }
    SigShape::Unknown
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
    match key {
        Key::Rsa { key: k, pkcs1 } => {
            use ring::signature as rs;
            // ring (several times faster) covers every size a card uses,
            // except SHA-384 under 2048 bits: the pure-Rust verifier does that.
            let ring_alg = match hash {
                Hash::Sha1 => Some(&rs::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY),
                Hash::Sha256 => Some(&rs::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY),
                Hash::Sha384 if k.size() >= 256 => Some(&rs::RSA_PKCS1_2048_8192_SHA384),
                Hash::Sha384 => None,
                Hash::Sha512 => Some(&rs::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY),
            };
            if let Some(alg) = ring_alg {
                return rs::UnparsedPublicKey::new(alg, pkcs1)
                    .verify(msg, sig)
                    .is_ok();
            }
            let hashed = digest(hash, msg);
            let scheme = match hash {
                Hash::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
                Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
                Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
                Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
            };
            k.verify(scheme, &hashed, sig).is_ok()
        }
        Key::P384 { key, sec1 } => {
            let der = der_part(sig);
            if der.is_empty() {
                return false;
            }
            let ring_alg = match hash {
                Hash::Sha384 => Some(&ring::signature::ECDSA_P384_SHA384_ASN1),
                Hash::Sha256 => Some(&ring::signature::ECDSA_P384_SHA256_ASN1),
                Hash::Sha1 | Hash::Sha512 => None,
            };
            if let Some(alg) = ring_alg {
                return ring::signature::UnparsedPublicKey::new(alg, sec1)
                    .verify(msg, der)
                    .is_ok();
            }
            match p384::ecdsa::Signature::from_der(der) {
                Ok(s) => key.verify_prehash(&digest(hash, msg), &s).is_ok(),
                Err(_) => false,
            }
        }
    }
}

/// RSA cards sign with SHA-1 or (re-signed cards) SHA-256; the photo hash
/// length hints which, so it is tried first. EC cards always use SHA-384
/// (their files are checked by [`crate::ec`]; this path remains for keys
/// without a table).
fn verify_file(key: &Key, photo_hash_len: Option<usize>, msg: &[u8], sig: &[u8]) -> bool {
    match key {
        Key::P384 { .. } => verify_with(key, Hash::Sha384, msg, sig),
        Key::Rsa { .. } => {
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
///
/// This is [`CardCheck`] fed all at once, on this thread; the reader feeds it
/// file by file instead, so the same code decides in both cases.
pub fn verify_card(
    identity: &[u8],
    identity_sig: &[u8],
    address: &[u8],
    address_sig: &[u8],
    rrn_der: &[u8],
    trust: &TrustStore,
) -> SignatureStatus {
    let mut check = CardCheck::inline(trust);
    check.certificate(rrn_der);
    check.file(CardFile::AddressSig, address_sig);
    check.file(CardFile::IdentitySig, identity_sig);
    check.file(CardFile::Address, address);
    check.file(CardFile::Identity, identity);
    check.finish()
}

/// The address file without its zero padding: what the address signature covers.
fn address_content(address: &[u8]) -> &[u8] {
    let end = address.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &address[..end]
}

/// The DER signature at the start of an ECDSA signature file (zeros follow it).
fn der_part(sig_file: &[u8]) -> &[u8] {
    crate::apdu::der_len(sig_file)
        .and_then(|n| sig_file.get(..n))
        .unwrap_or(&[])
}

/// (4033 without trailing zeros) ‖ (4032 as read), in a zeroizing buffer.
fn signed_address(address: &[u8], identity_sig: &[u8]) -> Zeroizing<Vec<u8>> {
    let content = address_content(address);
    let mut signed = Zeroizing::new(Vec::with_capacity(content.len() + identity_sig.len()));
    signed.extend_from_slice(content);
    signed.extend_from_slice(identity_sig);
    signed
}

/// Work on a card's signatures, in the order the reader delivers it.
enum Job {
    /// A signature file as read (P-384: its DER part). For P-384 everything
    /// that does not need the message is done at once.
    Signature(CardFile, Vec<u8>),
    /// P-384: the SHA-384 of what the signature (named by its file) covers.
    Hash(CardFile, Zeroizing<[u8; 48]>),
    /// RSA: what the signature covers (the verifier hashes it itself).
    Message(CardFile, Zeroizing<Vec<u8>>),
}

/// One signature on its way to a verdict.
enum Sig {
    Waiting,
    /// P-384, message-independent half done (`None`: not a usable signature).
    Ec(Option<Box<Pending>>),
    Rsa(Vec<u8>),
}

/// A card's two signature checks, fed job by job: on the worker thread
/// while the card is still being read, or inline by [`verify_card`].
struct Checks {
    rrn: Arc<RrnCheck>,
    address: Sig,
    identity: Sig,
    address_ok: Option<bool>,
    identity_ok: Option<bool>,
}

impl Checks {
    fn new(rrn: Arc<RrnCheck>) -> Self {
        Checks {
            rrn,
            address: Sig::Waiting,
            identity: Sig::Waiting,
            address_ok: None,
            identity_ok: None,
        }
    }

    fn handle(&mut self, job: Job) {
        let address = |f: CardFile| matches!(f, CardFile::Address | CardFile::AddressSig);
        match job {
            Job::Signature(file, bytes) => {
                let sig = match (&self.rrn.table, &self.rrn.key) {
                    (Some(table), _) => Sig::Ec(Pending::new(table, &bytes).map(Box::new)),
                    (None, Some(Key::Rsa { .. })) => Sig::Rsa(bytes),
                    _ => Sig::Ec(None),
                };
                if address(file) {
                    self.address = sig;
                } else {
                    self.identity = sig;
                }
            }
            Job::Hash(file, hash) => {
                let sig = if address(file) {
                    &self.address
                } else {
                    &self.identity
                };
                let ok = matches!(sig, Sig::Ec(Some(p)) if p.check(&hash));
                self.set(file, ok);
            }
            Job::Message(file, msg) => {
                let sig = if address(file) {
                    &self.address
                } else {
                    &self.identity
                };
                let ok = match (sig, &self.rrn.key) {
                    (Sig::Rsa(sig), Some(key)) => {
                        // The identity file says which hash its photo hash
                        // uses, a hint for the signature's; the address is
                        // tried in the usual order.
                        let hint = if address(file) {
                            None
                        } else {
                            photo_hash_len(&msg)
                        };
                        verify_file(key, hint, &msg, sig)
                    }
                    _ => false,
                };
                self.set(file, ok);
            }
        }
    }

    fn set(&mut self, file: CardFile, ok: bool) {
        if matches!(file, CardFile::Address | CardFile::AddressSig) {
            self.address_ok = Some(ok);
        } else {
            self.identity_ok = Some(ok);
        }
    }

    fn decided(&self) -> bool {
        self.address_ok.is_some() && self.identity_ok.is_some()
    }

    /// Both signatures verified (a check that never ran counts as failed).
    fn both_ok(&self) -> bool {
        self.address_ok == Some(true) && self.identity_ok == Some(true)
    }

    fn run(mut self, jobs: Receiver<Job>) -> bool {
        for job in jobs {
            self.handle(job);
            if self.decided() {
                break;
            }
        }
        self.both_ok()
    }
}

/// Length of the photo hash (tag 11) of an identity file, if it parses.
fn photo_hash_len(identity: &[u8]) -> Option<usize> {
    crate::tlv::parse(identity)
        .ok()?
        .iter()
        .find(|el| el.tag == 0x11)
        .map(|el| el.value.len())
}

type Task = Box<dyn FnOnce() + Send>;

/// The verification worker: one thread for the whole process, started on
/// the first card, blocked on its queue when idle. A thread per read would
/// cost its start-up (tens of microseconds, more on a busy machine) inside
/// the read. Reads follow each other (the watcher reads one card at a time),
/// so one worker is enough; a second read queued behind the first waits for
/// it, as it would for the card anyway.
fn worker() -> Option<&'static Sender<Task>> {
    static WORKER: OnceLock<Option<Sender<Task>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let (tx, rx) = channel::<Task>();
            std::thread::Builder::new()
                .name("eid-verify".into())
                .spawn(move || {
                    for task in rx {
                        // A panicking check (never expected) fails its card,
                        // through the dropped result channel, not the worker.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Starts the verification worker and the building of the generator's
/// table, so the first card does not wait for either. Called when a watcher
/// starts.
pub fn warm_up() {
    worker();
    crate::ec::warm_up();
}

/// Where the checks happen.
enum Work {
    Inline(Box<Checks>),
    Worker {
        jobs: Sender<Job>,
        verdict: Receiver<bool>,
    },
}

/// Verifies a card's files as the reader hands them over (a [`FileSink`]).
///
/// The chain verdict, the key and the signature files' shape come from the
/// chain cache as soon as the certificate is read (no X.509 parsing between
/// APDUs for a known certificate). In [`CardCheck::overlapped`] mode the
/// checks then run on the worker thread while the card is still talking:
/// for a P-384 card, each signature's costly, message-independent half as
/// soon as its file is read, so that after the last APDU only the identity
/// file's hash and one table multiplication remain; for an RSA card, the
/// address check during the identity file's reading. Each card's own two
/// signatures are verified in full, every time.
pub struct CardCheck<'t> {
    trust: &'t TrustStore,
    overlapped: bool,
    rrn: Option<Arc<RrnCheck>>,
    work: Option<Work>,
    /// 4032 as read: the tail of what the address signature covers.
    identity_sig: Option<Zeroizing<Vec<u8>>>,
}

impl<'t> CardCheck<'t> {
    /// Checks on the verification worker, overlapping the read.
    pub fn overlapped(trust: &'t TrustStore) -> Self {
        CardCheck {
            trust,
            overlapped: true,
            rrn: None,
            work: None,
            identity_sig: None,
        }
    }

    /// Checks on the calling thread.
    pub fn inline(trust: &'t TrustStore) -> Self {
        CardCheck {
            overlapped: false,
            ..CardCheck::overlapped(trust)
        }
    }

    fn send(&mut self, job: Job) {
        match &mut self.work {
            Some(Work::Inline(c)) => c.handle(job),
            Some(Work::Worker { jobs, .. }) => {
                // A worker gone (it never is) fails the card in `finish`.
                let _ = jobs.send(job);
            }
            None => {}
        }
    }

    /// The verdict, once the reader is done.
    pub fn finish(self) -> SignatureStatus {
        let Some(rrn) = self.rrn else {
            return SignatureStatus::Invalid;
        };
        let both_ok = match self.work {
            Some(Work::Inline(c)) => c.both_ok(),
            Some(Work::Worker { jobs, verdict }) => {
                drop(jobs);
                verdict.recv().unwrap_or(false)
            }
            // An unusable certificate: nothing could be checked.
            None => false,
        };
        if !both_ok {
            return SignatureStatus::Invalid;
        }
        match rrn.chain {
            Chain::Trusted => SignatureStatus::Valid,
            Chain::UnknownIssuer => SignatureStatus::UntrustedRoot,
            Chain::Forged => SignatureStatus::Invalid,
        }
    }
}

impl FileSink for CardCheck<'_> {
    fn certificate(&mut self, der: &[u8]) -> SigShape {
        let rrn = self.trust.check_rrn(der);
        let shape = rrn.shape;
        if rrn.key.is_some() {
            let checks = Checks::new(Arc::clone(&rrn));
            self.work = Some(match worker().filter(|_| self.overlapped) {
                Some(w) => {
                    let (jobs, rx) = channel();
                    let (done, verdict) = channel();
                    let task: Task = Box::new(move || {
                        let _ = done.send(checks.run(rx));
                    });
                    match w.send(task) {
                        Ok(()) => Work::Worker { jobs, verdict },
                        // The worker is gone: check here instead.
                        Err(_) => Work::Inline(Box::new(Checks::new(Arc::clone(&rrn)))),
                    }
                }
                None => Work::Inline(Box::new(checks)),
            });
        }
        self.rrn = Some(rrn);
        shape
    }

    fn file(&mut self, file: CardFile, data: &[u8]) {
        let ec = match &self.rrn {
            Some(rrn) if self.work.is_some() => rrn.table.is_some(),
            // An unusable certificate: `finish` says invalid.
            _ => return,
        };
        match file {
            CardFile::AddressSig => {
                let sig = if ec { der_part(data) } else { data };
                self.send(Job::Signature(file, sig.to_vec()));
            }
            CardFile::IdentitySig => {
                self.identity_sig = Some(Zeroizing::new(data.to_vec()));
                let sig = if ec { der_part(data) } else { data };
                self.send(Job::Signature(file, sig.to_vec()));
            }
            CardFile::Address => {
                let identity_sig = self.identity_sig.as_deref().map_or(&[][..], |s| &s[..]);
                if ec {
                    let mut h = Sha384::new();
                    h.update(address_content(data));
                    h.update(identity_sig);
                    self.send(Job::Hash(file, Zeroizing::new(h.finalize().into())));
                } else {
                    self.send(Job::Message(file, signed_address(data, identity_sig)));
                }
            }
            CardFile::Identity => {
                if ec {
                    let h: [u8; 48] = Sha384::digest(data).into();
                    self.send(Job::Hash(file, Zeroizing::new(h)));
                } else {
                    // Sized exactly: a copy of the file, wiped when dropped.
                    self.send(Job::Message(file, Zeroizing::new(data.to_vec())));
                }
            }
        }
    }
}

impl TrustStore {
    /// The RRN certificate's key and chain verdict, from the cache when this
    /// certificate was seen before (the chain check is the costliest step of
    /// a read, and its answer is the same for every card of a generation).
    fn check_rrn(&self, rrn_der: &[u8]) -> Arc<RrnCheck> {
        let id: [u8; 32] = Sha256::digest(rrn_der).into();
        // A poisoned lock only loses the cache, never a verdict: compute afresh.
        if let Some(hit) = self.chains.lock().ok().and_then(|mut c| c.get(&id)) {
            return hit;
        }
        let check = Arc::new(self.check_rrn_uncached(rrn_der));
        if let Ok(mut c) = self.chains.lock() {
            c.put(id, Arc::clone(&check));
        }
        check
    }

    fn check_rrn_uncached(&self, rrn_der: &[u8]) -> RrnCheck {
        let Ok(cert) = Certificate::from_der(rrn_der) else {
            return RrnCheck {
                key: None,
                shape: SigShape::Unknown,
                table: None,
                chain: Chain::Forged,
            };
        };
        let key = key_of(&cert);
        let shape = match &key {
            Some(Key::Rsa { key, .. }) => SigShape::Rsa { len: key.size() },
            Some(Key::P384 { .. }) => SigShape::Ec,
            None => SigShape::Unknown,
        };
        let table = match &key {
            Some(Key::P384 { key, sec1 }) => {
                // Built now, on the first card with this certificate (about
                // 2 ms), so that later reads find it ready; the generator's
                // table builds meanwhile on its own thread.
                crate::ec::warm_up();
                Some(table_for(sec1, key))
            }
            _ => None,
        };
        let issuer = cert.tbs_certificate.issuer.to_der().ok();
        let mut issuer_known = false;
        for root in &self.roots {
            if root.tbs_certificate.subject.to_der().ok() != issuer {
                continue;
            }
            issuer_known = true;
            if signed_by(&cert, root) == Some(true) {
                return RrnCheck {
                    key,
                    shape,
                    table,
                    chain: Chain::Trusted,
                };
            }
        }
        let chain = if issuer_known {
            Chain::Forged
        } else {
            Chain::UnknownIssuer
        };
        RrnCheck {
            key,
            shape,
            table,
            chain,
        }
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

    fn der_of(pem: &str) -> Vec<u8> {
        Certificate::from_pem(pem.as_bytes())
            .unwrap()
            .to_der()
            .unwrap()
    }

    #[test]
    fn chain_verdicts_are_cached_per_certificate_and_reset_by_a_new_root() {
        // Belgium Root CA 6 is self-signed, so as an "RRN certificate" it chains to itself.
        let rca6 = der_of(BELGIUM_ROOTS[4]);
        let mut store = TrustStore::empty();
        assert_eq!(store.check_rrn(&rca6).chain, Chain::UnknownIssuer);
        let first = store.check_rrn(&rca6);
        assert!(
            Arc::ptr_eq(&first, &store.check_rrn(&rca6)),
            "second look is a hit"
        );
        let clone = store.clone();
        store.add_pem(BELGIUM_ROOTS[4]).unwrap();
        assert_eq!(store.check_rrn(&rca6).chain, Chain::Trusted);
        // The clone made before the root was added keeps its own (still right) verdicts.
        assert_eq!(clone.check_rrn(&rca6).chain, Chain::UnknownIssuer);
        assert!(matches!(store.check_rrn(&rca6).key, Some(Key::P384 { .. })));
    }

    #[test]
    fn chain_cache_is_bounded_and_keeps_the_most_recent() {
        let store = TrustStore::belgium();
        let rca6 = der_of(BELGIUM_ROOTS[4]);
        store.check_rrn(&rca6);
        for i in 0..CHAIN_CACHE_SIZE as u8 {
            // Unreadable "certificates": each its own entry, verdict Forged, no key.
            let junk = [0x30, 0x01, i];
            assert_eq!(store.check_rrn(&junk).chain, Chain::Forged);
            assert!(store.check_rrn(&junk).key.is_none());
        }
        let cache = store.chains.lock().unwrap();
        assert_eq!(cache.entries.len(), CHAIN_CACHE_SIZE);
        let rca6_id: [u8; 32] = Sha256::digest(&rca6).into();
        assert!(
            cache.entries.iter().all(|(k, _)| *k != rca6_id),
            "the least recently used entry was evicted"
        );
    }

    #[test]
    fn shape_without_building_the_key() {
        assert_eq!(shape_of(&der_of(BELGIUM_ROOTS[4])), SigShape::Ec);
        assert!(matches!(
            shape_of(&der_of(BELGIUM_ROOTS[0])),
            SigShape::Rsa { len: 256 }
        ));
    }

    #[test]
    fn garbage_certificate_is_invalid() {
        let s = verify_card(
            b"",
            b"",
            b"",
            b"",
            b"\x30\x03\x02\x01\x00",
            &TrustStore::belgium(),
        );
        assert_eq!(s, SignatureStatus::Invalid);
        assert_eq!(shape_of(b"nonsense"), SigShape::Unknown);
    }
}
