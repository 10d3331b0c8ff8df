//! The deterministic pseudo-random numbers of the randomized tests
//! (xorshift64), so a failing case reproduces.

/// An xorshift64 generator; never seed it with 0.
pub(crate) struct TestRng(pub(crate) u64);

impl TestRng {
    /// The next number.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// The next number below `n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
