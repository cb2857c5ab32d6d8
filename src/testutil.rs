//! Test support shared by unit tests. Lives outside the sans-IO cores so that they never read
//! the clock themselves: tests take a base instant from here and advance it by hand.

use std::time::{Duration, Instant};

/// A fixed base instant for a test's simulated clock.
pub fn t0() -> Instant {
    Instant::now()
}

/// `base + ms` milliseconds.
pub fn at(base: Instant, ms: u64) -> Instant {
    base + Duration::from_millis(ms)
}
