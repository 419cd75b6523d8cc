//! The "Fedict TLV" of the identity and address files: tag 1 byte, length,
//! value. Not BER. Tolerant by design: real cards carry unknown tags, zero
//! padding and padded text; only structurally impossible input is an error.

use std::borrow::Cow;

use dps_person::{SecretString, Zeroizing};

/// Why a TLV file could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("a field claims {claimed} bytes but only {left} remain in the file")]
    Truncated { claimed: usize, left: usize },
    #[error("a field length is encoded on more bytes than any real field needs")]
    LengthTooLong,
}

/// One element: its tag and raw value (borrowed from the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Splits a file into elements. A tag `00` after the first element starts the
/// zero padding and ends the file (the identity file's first element may be
/// tag `00`, the file version, on applet 1.8).
///
/// Lengths: the documents describe `0xFF` as "+255, read another byte" but
/// eid-mw and commons-eid use 7-bit continuation (bit 0x80 set = more bytes
/// follow); no real field is long enough to tell them apart, so the
/// continuation form is accepted, up to three bytes.
pub fn parse(file: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < file.len() {
        let tag = file[pos];
        if tag == 0 && !out.is_empty() {
            break;
        }
        pos += 1;
        let mut len: usize = 0;
        let mut len_bytes = 0;
        loop {
            let Some(&b) = file.get(pos) else {
                // A tag with no length byte: what is left is padding or garbage.
                return if tag == 0 {
                    Ok(out)
                } else {
                    Err(TlvError::Truncated {
                        claimed: 1,
                        left: 0,
                    })
                };
            };
            pos += 1;
            len_bytes += 1;
            if len_bytes > 3 {
                return Err(TlvError::LengthTooLong);
            }
            len = (len << 7) | usize::from(b & 0x7F);
            if b & 0x80 == 0 {
                break;
            }
        }
        let left = file.len() - pos;
        if len > left {
            return Err(TlvError::Truncated { claimed: len, left });
        }
        out.push(Tlv {
            tag,
            value: &file[pos..pos + len],
        });
        pos += len;
    }
    Ok(out)
}

/// True when `data` (the beginning of a file) already holds every element and
/// the start of the zero padding, so reading further would only fetch zeros.
pub fn reached_padding(data: &[u8]) -> bool {
    let mut pos = 0;
    let mut first = true;
    while pos < data.len() {
        let tag = data[pos];
        if tag == 0 && !first {
            return true;
        }
        first = false;
        let mut len: usize = 0;
        loop {
            pos += 1;
            let Some(&b) = data.get(pos) else {
                return false;
            };
            len = (len << 7) | usize::from(b & 0x7F);
            if b & 0x80 == 0 || len > 0xFFFF {
                break;
            }
        }
        pos += 1 + len;
    }
    false
}

/// Text of a field: UTF-8 (invalid bytes replaced rather than refused: a
/// resident must still be served), surrounding spaces and NULs trimmed.
/// Every field is personal data, so the text is a zeroizing [`SecretString`]
/// and no other heap copy of it is left behind.
pub fn text(value: &[u8]) -> SecretString {
    let trim = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || c == '\0')
            .to_owned()
    };
    match String::from_utf8_lossy(value) {
        Cow::Borrowed(s) => SecretString::new(trim(s)),
        // The repaired copy is wiped once trimmed.
        Cow::Owned(s) => SecretString::new(trim(&Zeroizing::new(s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_skips_padding_and_accepts_continuation_lengths() {
        let file = [
            0x00, 0x01, 0x18, 0x05, 0x02, b'A', b'B', 0x77, 0x00, 0x0C, 0x81, 0x01, b'x', 0, 0, 0,
        ];
        // 0x81 0x01 = 7-bit continuation: (1 << 7) | 1 = 129 bytes: truncated here.
        assert_eq!(
            parse(&file),
            Err(TlvError::Truncated {
                claimed: 129,
                left: 4
            })
        );
        let file = [
            0x00, 0x01, 0x18, 0x05, 0x02, b'A', b'B', 0x77, 0x00, 0x0C, 0x01, b'x', 0, 0, 0,
        ];
        let got: Vec<_> = parse(&file)
            .unwrap()
            .iter()
            .map(|t| (t.tag, t.value.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, vec![0x18]),
                (5, b"AB".to_vec()),
                (0x77, vec![]),
                (0x0C, b"x".to_vec())
            ]
        );
        assert!(reached_padding(&file));
        assert!(!reached_padding(&file[..12]));
        assert_eq!(text(b"  Rue Haute 12   \0").expose(), "Rue Haute 12");
        assert_eq!(text(b" Li\xE8ge ").expose(), "Li\u{FFFD}ge");
    }
}
