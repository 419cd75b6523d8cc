//! Retry delays: exponential with jitter, so a fleet of kiosks that lost the
//! hub together does not come back in lockstep.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with "equal jitter": the n-th retry waits a random time
/// in `[d/2, d]` where `d = min(cap, base * 2^(n-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    /// First retry within 1 s (the issue asks <= 2 s), never more than 10 min apart.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
        }
    }
}

impl Backoff {
    /// The wait before retry number `failures` (1 = the first retry).
    /// Randomness is passed in so tests can pin it.
    pub fn delay(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let nominal = self.base.saturating_mul(1u32 << exp).min(self.cap);
        let half = nominal / 2;
        let jitter_ms = rng.gen_range(0..=half.as_millis().min(u64::MAX as u128) as u64);
        half + Duration::from_millis(jitter_ms)
    }
}
