//! A string that is personal data: names, birth place, address.

use std::fmt;

use zeroize::Zeroizing;

/// A string holding personal data. Its bytes are zeroized when it is dropped, and
/// its `Debug` prints `SecretString(***)` so a stray `{:?}` in a log line or a
/// panic message cannot leak it. There is deliberately no `Display`: reading the
/// value takes an explicit [`SecretString::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(value: String) -> Self {
        SecretString(Zeroizing::new(value))
    }

    /// The plain value, for showing it on screen or to the resident's own output.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        SecretString::new(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// Serialised as the plain string: only for the resident's own screen (IPC) and
/// the `card read --json` output, never for storage or sync payloads.
impl serde::Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Deserialising into a zeroizing buffer straight away keeps only one copy.
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Ok(SecretString::new(s))
    }
}
