//! The coordination hub: enrols kiosks with one-time codes and merges their
//! anonymous tallies.
//!
//! - [`store`]: the storage trait and the embedded sled store.
//! - [`api`]: the kiosk-facing router ([`api::app`]) and the loopback admin router.
//! - [`serve`]: listeners, TLS, graceful shutdown, the admin file.
//! - [`admin`]: the admin commands, via the running hub or the store itself.
//! - [`auth`]: coordination accounts, sessions, CSRF and lockout.
//! - [`web`]: login, dashboard, annual report page and the tallies API
//!   (figures from [`coord`], over `dps-report`).

pub mod admin;
pub mod api;
pub mod auth;
pub mod coord;
pub mod i18n;
pub mod secret;
pub mod serve;
pub mod store;
pub mod web;

pub use api::{app, AppState};
pub use store::{SledStore, Store};

/// Parse a duration like `24h`, `90m`, `7d`, `3600s` (bare numbers are seconds).
pub fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, mul) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        Some('d') => (&s[..s.len() - 1], 86_400),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 24h, 90m or 7d"))?;
    if n == 0 {
        return Err("the duration must be more than zero".into());
    }
    Ok(std::time::Duration::from_secs(n.saturating_mul(mul)))
}

/// The code as a QR code drawn with Unicode half blocks, for a terminal.
pub fn qr_text(data: &str) -> Option<String> {
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build(),
    )
}
