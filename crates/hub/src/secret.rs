//! Codes, device ids and tokens: generated here, stored only as hashes.

use rand::Rng;
use sha2::{Digest, Sha256};

/// Crockford base32: no I, L, O, U, so a code read aloud or typed from paper
/// survives the usual confusions (normalised in [`normalise_code`]).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A one-time enrolment code `XXXX-XXXX` (40 bits; one-time and short-lived,
/// so guessing one within its lifetime over HTTP is impractical).
pub fn new_code() -> String {
    let mut rng = rand::thread_rng();
    let chars: String = (0..8)
        .map(|_| CROCKFORD[rng.gen_range(0..32)] as char)
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Uppercase, drop separators and spaces, read O as 0 and I/L as 1.
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

pub fn code_hash(code: &str) -> [u8; 32] {
    Sha256::digest(normalise_code(code).as_bytes()).into()
}

pub fn new_device_id() -> String {
    let mut rng = rand::thread_rng();
    let s: String = (0..12)
        .map(|_| (CROCKFORD[rng.gen_range(0..32)] as char).to_ascii_lowercase())
        .collect();
    format!("dev-{s}")
}

/// 256 random bits, hex.
pub fn new_secret() -> String {
    let b: [u8; 32] = rand::random();
    hex(&b)
}

pub fn hash_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Comparison whose time does not depend on where the strings differ.
pub fn eq_const(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_survive_typing_confusions() {
        let c = new_code();
        assert_eq!(c.len(), 9);
        assert_eq!(
            code_hash(&c),
            code_hash(&c.to_lowercase().replace('-', " "))
        );
        assert_eq!(normalise_code("oil0-abcd"), "0110ABCD");
        assert_ne!(new_code(), new_code());
        assert!(eq_const("abc", "abc") && !eq_const("abc", "abd") && !eq_const("abc", "ab"));
    }
}
