//! ECDSA P-384 verification split in two, so the expensive half can run
//! before the signed file has arrived.
//!
//! Verifying `(r, s)` on a hash `e` with key `Q` checks that the x coordinate
//! of `R = u1·G + u2·Q` is `r` (mod n), where `w = s⁻¹`, `u1 = e·w`,
//! `u2 = r·w`. Only `u1` depends on the message: [`Pending::new`] does the
//! rest (`w`, `u2·Q`) from the signature file alone, and [`Pending::check`]
//! adds `u1·G` once the file is there, then reads R's x coordinate (one
//! field inversion: the crate compares projective points through two, and
//! hides the coordinates that would avoid it).
//!
//! Both scalar multiplications use [`FixedBase`] tables: `G` is the same
//! everywhere, and `Q` is the National Register's key, the same on every card
//! of a generation, so its table lives in the RRN chain cache next to the
//! parsed key. A multiplication is then 96 point additions instead of ~480
//! doublings and additions. Everything here works on public values (keys,
//! signatures, hashes of signed files), so variable time is fine.

use std::sync::{Once, OnceLock};

use p384::elliptic_curve::ops::{Invert, Reduce};
use p384::elliptic_curve::point::AffineCoordinates;
use p384::{FieldBytes, ProjectivePoint, Scalar, U384};

/// Multiples of a fixed point for fast scalar multiplication, in windows of
/// `bits` bits: `rows[i][j - 1] = j · 2^(bits·i) · P`, so `k · P` is one
/// addition per non-zero window of `k` and no doubling. Kept projective:
/// the crate's complete addition costs about the same with an affine
/// operand, and it offers no batch normalisation for this curve.
pub struct FixedBase {
    bits: usize,
    rows: Vec<Vec<ProjectivePoint>>,
}

impl FixedBase {
    /// `bits` divides 8 (a window never straddles two bytes of the scalar).
    /// 4 bits: 96 rows of 15 points, about 200 KB, built in about 2 ms;
    /// 8 bits: 48 rows of 255, 1.7 MB, about 15 ms, half the additions.
    pub fn new(p: ProjectivePoint, bits: usize) -> FixedBase {
        let bits = if matches!(bits, 1 | 2 | 4 | 8) {
            bits
        } else {
            4
        };
        let per_row = (1usize << bits) - 1;
        let mut rows = Vec::with_capacity(384 / bits);
        let mut base = p;
        for _ in 0..384 / bits {
            let mut row = Vec::with_capacity(per_row);
            let mut acc = base;
            for _ in 0..per_row {
                row.push(acc);
                acc += base;
            }
            // `acc` is now 2^bits · base: the next row's base.
            base = acc;
            rows.push(row);
        }
        FixedBase { bits, rows }
    }

    /// The generator's table, if it is built; if not, starts building it
    /// (once per process, on a thread of its own: about 15 ms) and returns
    /// `None`, and the caller multiplies the slow way meanwhile. A one-shot
    /// `card read` should not wait for a table it will use once.
    pub fn generator() -> Option<&'static FixedBase> {
        let table = GENERATOR.get();
        if table.is_none() {
            warm_up();
        }
        table
    }

    /// `k · P`.
    pub fn mul(&self, k: &Scalar) -> ProjectivePoint {
        let bytes = k.to_bytes(); // big-endian
        let per_byte = 8 / self.bits;
        let mask = ((1u16 << self.bits) - 1) as u8;
        let mut acc = ProjectivePoint::IDENTITY;
        for (i, row) in self.rows.iter().enumerate() {
            let byte = bytes[bytes.len() - 1 - i / per_byte];
            let digit = (byte >> ((i % per_byte) * self.bits)) & mask;
            if digit != 0 {
                acc += &row[usize::from(digit) - 1];
            }
        }
        acc
    }
}

static GENERATOR: OnceLock<FixedBase> = OnceLock::new();

/// Starts building the generator's table in the background, once.
pub fn warm_up() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        // Without a thread the table is simply never built: multiplications
        // stay on the slow path, and the verdicts are the same.
        let _ = std::thread::Builder::new()
            .name("eid-tables".into())
            .spawn(|| {
                GENERATOR
                    .get_or_init(|| FixedBase::new(ProjectivePoint::GENERATOR, GENERATOR_BITS));
            });
    });
}

/// Window of the generator's table (see [`FixedBase::new`]): 8 bits halve
/// the multiplication left after a card's last APDU (measured 0.05 ms
/// instead of 0.10 ms) for 1.7 MB, once per process.
const GENERATOR_BITS: usize = 8;
/// Window of a card key's table: its multiplication is off the critical path.
pub const KEY_BITS: usize = 4;

/// A signature with everything that does not depend on the message done.
pub struct Pending {
    r: Scalar,
    w: Scalar,
    /// `u2 · Q`.
    u2q: ProjectivePoint,
}

impl Pending {
    /// From a DER signature (trailing bytes after the DER element are not
    /// part of it: the caller cuts them). `None` if it is not a well-formed
    /// signature with `r` and `s` in `[1, n - 1]` (then it cannot verify).
    pub fn new(key: &FixedBase, der: &[u8]) -> Option<Pending> {
        let sig = p384::ecdsa::Signature::from_der(der).ok()?;
        let (r, s) = sig.split_scalars();
        let w: Scalar = *s.invert_vartime();
        let r: Scalar = *r;
        let u2q = key.mul(&(r * w));
        Some(Pending { r, w, u2q })
    }

    /// Does the signature sign this SHA-384 hash?
    pub fn check(&self, hash: &[u8; 48]) -> bool {
        self.check_with(hash, FixedBase::generator())
    }

    /// [`Pending::check`] with `u1·G` from `table`, or computed the slow way.
    fn check_with(&self, hash: &[u8; 48], table: Option<&FixedBase>) -> bool {
        let e = <Scalar as Reduce<U384>>::reduce_bytes(FieldBytes::from_slice(hash));
        let u1 = e * self.w;
        let u1g = match table {
            Some(t) => t.mul(&u1),
            None => ProjectivePoint::GENERATOR * u1,
        };
        let big_r = u1g + self.u2q;
        // The identity's affine form has x = 0, which no r (in [1, n - 1]) equals;
        // an x in [n, p) is reduced, as ECDSA says.
        let x = big_r.to_affine().x();
        <Scalar as Reduce<U384>>::reduce_bytes(&x) == self.r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::signature::hazmat::PrehashSigner;
    use p384::ecdsa::{Signature, SigningKey};
    use sha2::{Digest, Sha384};

    #[test]
    fn table_multiplication_matches_the_crate() {
        let p = ProjectivePoint::GENERATOR * Scalar::from(7u64);
        for bits in [2, 4, 8] {
            let t = FixedBase::new(p, bits);
            for k in [1u64, 2, 15, 16, 17, 255, 256, 0xDEAD_BEEF] {
                let k = Scalar::from(k);
                assert_eq!(t.mul(&k), p * k, "{bits} bits");
            }
            let k = -Scalar::ONE; // n - 1: non-zero digits all along
            assert_eq!(t.mul(&k), p * k, "{bits} bits");
            assert_eq!(t.mul(&Scalar::ZERO), ProjectivePoint::IDENTITY);
        }
        let k = -Scalar::from(12345u64);
        let g = FixedBase::new(ProjectivePoint::GENERATOR, GENERATOR_BITS);
        assert_eq!(g.mul(&k), ProjectivePoint::GENERATOR * k);
    }

    #[test]
    fn split_verification_agrees_with_ring() {
        let key = SigningKey::from_slice(&[7u8; 48]).unwrap();
        let q = ProjectivePoint::from(*key.verifying_key().as_affine());
        let table = FixedBase::new(q, KEY_BITS);
        let g = FixedBase::new(ProjectivePoint::GENERATOR, GENERATOR_BITS);
        let sec1 = key.verifying_key().to_encoded_point(false);
        for i in 0..40u8 {
            let msg: Vec<u8> = (0..200).map(|j| j ^ i).collect();
            let hash: [u8; 48] = Sha384::digest(&msg).into();
            let sig: Signature = key.sign_prehash(&hash).unwrap();
            let der = sig.to_der();
            let pending = Pending::new(&table, der.as_bytes()).unwrap();
            // With the generator's table and without (before it is built).
            assert!(pending.check_with(&hash, Some(&g)));
            assert!(pending.check_with(&hash, None));
            let ring_ok = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P384_SHA384_ASN1,
                sec1.as_bytes(),
            )
            .verify(&msg, der.as_bytes())
            .is_ok();
            assert!(ring_ok);
            // Another message, a flipped bit in the signature: both refuse.
            let mut other = hash;
            other[usize::from(i) % 48] ^= 1;
            assert!(!pending.check_with(&other, Some(&g)));
            assert!(!pending.check_with(&other, None));
            let mut bad = der.as_bytes().to_vec();
            let at = 6 + usize::from(i) % 40;
            bad[at] ^= 0x10;
            let split = Pending::new(&table, &bad).is_some_and(|p| p.check_with(&hash, Some(&g)));
            let ring_bad = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P384_SHA384_ASN1,
                sec1.as_bytes(),
            )
            .verify(&msg, &bad)
            .is_ok();
            assert_eq!(split, ring_bad);
            assert!(!split);
        }
        // Another key's table refuses.
        let other = SigningKey::from_slice(&[9u8; 48]).unwrap();
        let other_table =
            FixedBase::new(ProjectivePoint::from(*other.verifying_key().as_affine()), 4);
        let hash: [u8; 48] = Sha384::digest(b"x").into();
        let sig: Signature = key.sign_prehash(&hash).unwrap();
        let der = sig.to_der();
        assert!(!Pending::new(&other_table, der.as_bytes())
            .unwrap()
            .check_with(&hash, Some(&g)));
    }
}
