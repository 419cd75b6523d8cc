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

use std::sync::OnceLock;

use p384::elliptic_curve::ops::{Invert, Reduce};
use p384::elliptic_curve::point::AffineCoordinates;
use p384::{FieldBytes, ProjectivePoint, Scalar, U384};

/// 4-bit windows: 384 / 4 rows.
const ROWS: usize = 96;
/// Non-zero digits per row.
const DIGITS: usize = 15;

/// Multiples of a fixed point for fast scalar multiplication:
/// `rows[i][j - 1] = j · 16^i · P`. Kept projective: the crate's complete
/// addition formulas cost about the same with an affine operand, and
/// normalising 1,440 points one inversion at a time would cost more than
/// building them. About 200 KB; built in a few milliseconds.
pub struct FixedBase {
    rows: Vec<[ProjectivePoint; DIGITS]>,
}

impl FixedBase {
    pub fn new(p: ProjectivePoint) -> FixedBase {
        let mut rows = Vec::with_capacity(ROWS);
        let mut base = p;
        for _ in 0..ROWS {
            let mut row = [ProjectivePoint::IDENTITY; DIGITS];
            let mut acc = base;
            for slot in &mut row {
                *slot = acc;
                acc += base;
            }
            // `acc` is now 16 · base: the next row's base.
            base = acc;
            rows.push(row);
        }
        FixedBase { rows }
    }

    /// The generator's table, built once per process.
    pub fn generator() -> &'static FixedBase {
        static G: OnceLock<FixedBase> = OnceLock::new();
        G.get_or_init(|| FixedBase::new(ProjectivePoint::GENERATOR))
    }

    /// `k · P`.
    pub fn mul(&self, k: &Scalar) -> ProjectivePoint {
        let bytes = k.to_bytes(); // big-endian
        let mut acc = ProjectivePoint::IDENTITY;
        for (i, row) in self.rows.iter().enumerate() {
            let byte = bytes[bytes.len() - 1 - i / 2];
            let digit = if i % 2 == 0 { byte & 0x0F } else { byte >> 4 };
            if digit != 0 {
                acc += &row[usize::from(digit) - 1];
            }
        }
        acc
    }
}

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
        let e = <Scalar as Reduce<U384>>::reduce_bytes(FieldBytes::from_slice(hash));
        let big_r = FixedBase::generator().mul(&(e * self.w)) + self.u2q;
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
        let g = FixedBase::generator();
        for k in [1u64, 2, 15, 16, 17, 255, 0xDEAD_BEEF] {
            let k = Scalar::from(k);
            assert_eq!(g.mul(&k), ProjectivePoint::GENERATOR * k);
        }
        let k = -Scalar::ONE; // n - 1: every digit non-zero somewhere
        assert_eq!(g.mul(&k), ProjectivePoint::GENERATOR * k);
        assert_eq!(g.mul(&Scalar::ZERO), ProjectivePoint::IDENTITY);
    }

    #[test]
    fn split_verification_agrees_with_ring() {
        let key = SigningKey::from_slice(&[7u8; 48]).unwrap();
        let q = ProjectivePoint::from(*key.verifying_key().as_affine());
        let table = FixedBase::new(q);
        let sec1 = key.verifying_key().to_encoded_point(false);
        for i in 0..40u8 {
            let msg: Vec<u8> = (0..200).map(|j| j ^ i).collect();
            let hash: [u8; 48] = Sha384::digest(&msg).into();
            let sig: Signature = key.sign_prehash(&hash).unwrap();
            let der = sig.to_der();
            let pending = Pending::new(&table, der.as_bytes()).unwrap();
            assert!(pending.check(&hash));
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
            assert!(!pending.check(&other));
            let mut bad = der.as_bytes().to_vec();
            let at = 6 + usize::from(i) % 40;
            bad[at] ^= 0x10;
            let split = Pending::new(&table, &bad).is_some_and(|p| p.check(&hash));
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
        let other_table = FixedBase::new(ProjectivePoint::from(*other.verifying_key().as_affine()));
        let hash: [u8; 48] = Sha384::digest(b"x").into();
        let sig: Signature = key.sign_prehash(&hash).unwrap();
        let der = sig.to_der();
        assert!(!Pending::new(&other_table, der.as_bytes())
            .unwrap()
            .check(&hash));
    }
}
