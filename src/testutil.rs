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

/// xorshift64*: a tiny deterministic generator for the fuzz loops in unit tests, so a failure
/// reproduces exactly. Seed with any non-zero value.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for byte in buf {
            *byte = self.next() as u8;
        }
    }

    /// One of `seeds` whole, truncated, or with a few bytes changed; or random bytes.
    pub fn mutate(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut input = seeds[self.below(seeds.len())].clone();
        match self.below(4) {
            0 => input.truncate(self.below(input.len() + 1)),
            1 | 2 => {
                for _ in 0..1 + self.below(4) {
                    let at = self.below(input.len().max(1));
                    if let Some(b) = input.get_mut(at) {
                        *b = self.next() as u8;
                    }
                }
            }
            _ => input = (0..self.below(80)).map(|_| self.next() as u8).collect(),
        }
        input
    }
}

/// A rustls client config that trusts nothing, for engine tests that never complete a handshake.
pub fn tls_client_without_roots() -> std::sync::Arc<rustls::ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    std::sync::Arc::new(config)
}
