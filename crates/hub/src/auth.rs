//! Coordination accounts: argon2id passwords, sessions kept in the store,
//! CSRF tokens and the lockout rule. Pure over [`Store`]: the HTTP side
//! (cookies, forms) is in [`crate::web`].
//!
//! Rules:
//! - **Lockout:** [`LOCKOUT_FAILURES`] failed logins for one account within
//!   [`LOCKOUT_WINDOW`] lock it: every login (even with the right password)
//!   is refused until fewer than that many failures are left in the window,
//!   i.e. at most 15 minutes after the last one. A success clears the count.
//!   Failures are kept in the store, so the count holds across hub processes,
//!   and each attempt is reserved in the store before argon2 runs, so
//!   parallel guesses cannot all slip past one read of the count.
//! - **Sessions** last [`SESSION_TTL`] from login (no sliding renewal); the
//!   cookie carries 256 random bits, the store only their SHA-256. Logout
//!   deletes the session in the store, so it is dead on every hub process.
//! - **CSRF:** each session has its own random token that every
//!   state-changing form carries; the login form (no session yet) uses a
//!   double-submit cookie.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::secret;
use crate::store::{Account, Session, Store, StoreError};

pub const LOCKOUT_FAILURES: u32 = 5;
pub const LOCKOUT_WINDOW: Duration = Duration::minutes(15);
pub const SESSION_TTL: Duration = Duration::hours(8);
pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("an account name is 1 to 64 lowercase letters, digits, '.', '_' or '-'")]
    BadName,
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("an account named {0:?} already exists")]
    Exists(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// argon2id with the crate's default (OWASP) parameters, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A valid PHC hash of no one's password: an unknown name costs the same
/// argon2 work as a known one, so timing does not tell which names exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3r4CyB1e4F1dFqQ3GEFzJq4t6LaXG3ZqG3r0mC3iKZQ";

/// Create an account from an already computed hash (the CLI hashes, so the
/// password never crosses the admin channel).
pub fn add_account(
    store: &dyn Store,
    name: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    if !valid_name(name) {
        return Err(AuthError::BadName);
    }
    if PasswordHash::new(password_hash).is_err() {
        return Err(AuthError::Hash("not a PHC password hash".into()));
    }
    let created = store.add_account(&Account {
        name: name.to_owned(),
        password_hash: password_hash.to_owned(),
        created: now,
    })?;
    if created {
        Ok(())
    } else {
        Err(AuthError::Exists(name.to_owned()))
    }
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    /// The cookie value to hand the browser, and its session.
    Ok {
        cookie: String,
        session: Session,
    },
    Wrong,
    /// Too many failures: refused without looking at the password.
    Locked,
}

pub fn session_key(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

pub fn login(
    store: &dyn Store,
    name: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Login, StoreError> {
    if !valid_name(name) || password.len() > 1024 {
        verify_password(DUMMY_HASH, password);
        return Ok(Login::Wrong);
    }
    let Some(account) = store.account(name)? else {
        // Unknown names cost the same argon2 work, collect no failures
        // (they would fill the store with whatever anyone types) and are
        // never "locked", so neither answer tells which names exist.
        verify_password(DUMMY_HASH, password);
        return Ok(Login::Wrong);
    };
    // The attempt is counted BEFORE the password is checked, atomically in
    // the store: of any number of parallel guesses only the first
    // LOCKOUT_FAILURES reach argon2, the rest are locked out. A wrong
    // password leaves its reservation as the failure; a right one clears it.
    if !store.reserve_login_attempt(name, now, now - LOCKOUT_WINDOW, LOCKOUT_FAILURES)? {
        return Ok(Login::Locked);
    }
    if !verify_password(&account.password_hash, password) {
        return Ok(Login::Wrong);
    }
    store.clear_login_failures(name)?;
    let cookie = secret::new_secret();
    let session = Session {
        account: name.to_owned(),
        csrf: secret::new_secret(),
        created: now,
        expires: now + SESSION_TTL,
    };
    store.put_session(&session_key(&cookie), &session)?;
    // Expired sessions go here, on the rare event of a login, rather than
    // on a timer (no polling); an expired one is refused on use anyway.
    store.purge_sessions(now)?;
    Ok(Login::Ok { cookie, session })
}

/// The live session a cookie names, if any (an expired one is deleted).
pub fn session(
    store: &dyn Store,
    cookie: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    if cookie.len() != 64 {
        return Ok(None);
    }
    let key = session_key(cookie);
    match store.session(&key)? {
        Some(s) if s.expires > now => Ok(Some(s)),
        Some(_) => {
            store.delete_session(&key)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

pub fn logout(store: &dyn Store, cookie: &str) -> Result<(), StoreError> {
    store.delete_session(&session_key(cookie))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify_and_the_dummy_hash_parses() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(matches!(
            hash_password("short"),
            Err(AuthError::WeakPassword)
        ));
        assert!(
            valid_name("marie.dupont")
                && !valid_name("Marie")
                && !valid_name("")
                && !valid_name("a\0b")
        );
    }
}
