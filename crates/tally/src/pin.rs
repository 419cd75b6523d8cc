//! The steward PIN: an argon2 hash in the settings file (it survives a
//! quarantine of the counts), set at first start.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::{Result, TallyError};
use crate::store::TallyStore;

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
        Ok(self.pin_hash().is_some())
    }

    /// Sets the PIN at first start; refuses if one is set already (changing
    /// it needs the current PIN: [`TallyStore::change_pin`]).
    pub fn set_pin(&self, pin: &str) -> Result<()> {
        check_format(pin)?;
        if self.pin_is_set()? {
            return Err(TallyError::PinAlreadySet);
        }
        self.set_pin_hash(hash(pin)?)
    }

    pub fn verify_pin(&self, pin: &str) -> Result<bool> {
        let stored = self.pin_hash().ok_or(TallyError::PinNotSet)?;
        let parsed = PasswordHash::new(&stored)
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
        self.set_pin_hash(hash(new)?)
    }
}
