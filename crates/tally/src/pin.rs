//! The steward PIN: an argon2 hash in the store, set at first start.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::{Result, TallyError};
use crate::store::{TallyStore, M_PIN};

fn check_format(pin: &str) -> Result<()> {
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(TallyError::PinFormat)
    }
}

fn hash(pin: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| TallyError::PinHash(e.to_string()))
}

impl TallyStore {
    pub fn pin_is_set(&self) -> Result<bool> {
        Ok(self.get_raw(M_PIN)?.is_some())
    }

    /// Sets the PIN at first start; refuses if one is set already (changing
    /// it needs the current PIN: [`TallyStore::change_pin`]).
    pub fn set_pin(&self, pin: &str) -> Result<()> {
        check_format(pin)?;
        if self.pin_is_set()? {
            return Err(TallyError::PinAlreadySet);
        }
        self.put_raw(M_PIN, hash(pin)?.as_bytes())
    }

    pub fn verify_pin(&self, pin: &str) -> Result<bool> {
        let stored = self.get_raw(M_PIN)?.ok_or(TallyError::PinNotSet)?;
        let text = std::str::from_utf8(&stored)
            .map_err(|_| TallyError::Damaged("the PIN hash is not text".into()))?;
        let parsed = PasswordHash::new(text)
            .map_err(|e| TallyError::Damaged(format!("the PIN hash: {e}")))?;
        Ok(Argon2::default()
            .verify_password(pin.as_bytes(), &parsed)
            .is_ok())
    }

    pub fn change_pin(&self, old: &str, new: &str) -> Result<()> {
        check_format(new)?;
        if !self.verify_pin(old)? {
            return Err(TallyError::WrongPin);
        }
        self.put_raw(M_PIN, hash(new)?.as_bytes())
    }
}
