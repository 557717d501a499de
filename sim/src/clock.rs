//! Per-node clocks. A node's timers run on its own clock, which can run fast or slow against
//! virtual time and can jump. Rates are integers in parts per million so the arithmetic is exact
//! and the same on every machine.

/// Slowest and fastest allowed clock rates (BRIEF §4): 0.5x to 2.0x.
pub const CLOCK_RATE_PPM_MIN: u64 = 500_000;
pub const CLOCK_RATE_PPM_MAX: u64 = 2_000_000;
pub const CLOCK_RATE_PPM_NOMINAL: u64 = 1_000_000;

/// `local(t) = base_local_ns + (t - base_global_ns) * rate_ppm / 1e6`, rebased on every change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeClock {
    rate_ppm: u64,
    base_global_ns: u64,
    base_local_ns: u64,
}

impl Default for NodeClock {
    fn default() -> Self {
        Self {
            rate_ppm: CLOCK_RATE_PPM_NOMINAL,
            base_global_ns: 0,
            base_local_ns: 0,
        }
    }
}

impl NodeClock {
    pub fn rate_ppm(&self) -> u64 {
        self.rate_ppm
    }

    /// The node's local time at virtual time `global_ns` (not before the last rebase).
    #[inline]
    pub fn local_at(&self, global_ns: u64) -> u64 {
        debug_assert!(global_ns >= self.base_global_ns);
        let elapsed = global_ns - self.base_global_ns;
        // The nominal rate scales by exactly one: the same value without the wide division.
        if self.rate_ppm == CLOCK_RATE_PPM_NOMINAL {
            return self.base_local_ns + elapsed;
        }
        let scaled =
            u128::from(elapsed) * u128::from(self.rate_ppm) / u128::from(CLOCK_RATE_PPM_NOMINAL);
        self.base_local_ns + scaled as u64
    }

    /// The first virtual time, not before `now_ns`, at which the local clock reads at least
    /// `local_deadline_ns`.
    #[inline]
    pub fn global_for_local(&self, now_ns: u64, local_deadline_ns: u64) -> u64 {
        let local_now = self.local_at(now_ns);
        if local_deadline_ns <= local_now {
            return now_ns;
        }
        if self.rate_ppm == CLOCK_RATE_PPM_NOMINAL {
            return now_ns.saturating_add(local_deadline_ns - local_now);
        }
        let local_wait = u128::from(local_deadline_ns - local_now);
        let rate = u128::from(self.rate_ppm);
        let global_wait = (local_wait * u128::from(CLOCK_RATE_PPM_NOMINAL)).div_ceil(rate);
        now_ns.saturating_add(global_wait as u64)
    }

    /// Changes the rate from `now_ns` on. The caller validates the range.
    pub fn set_rate(&mut self, now_ns: u64, rate_ppm: u64) {
        assert!(
            (CLOCK_RATE_PPM_MIN..=CLOCK_RATE_PPM_MAX).contains(&rate_ppm),
            "clock rate {rate_ppm} ppm outside {CLOCK_RATE_PPM_MIN}..={CLOCK_RATE_PPM_MAX}"
        );
        self.base_local_ns = self.local_at(now_ns);
        self.base_global_ns = now_ns;
        self.rate_ppm = rate_ppm;
    }

    /// Jumps the local clock by `delta_ns` (backwards jumps stop at local time zero).
    pub fn jump(&mut self, now_ns: u64, delta_ns: i64) {
        let local_now = self.local_at(now_ns);
        self.base_local_ns = local_now.saturating_add_signed(delta_ns);
        self.base_global_ns = now_ns;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_rate_halves_waits() {
        let mut clock = NodeClock::default();
        clock.set_rate(0, 2_000_000);
        assert_eq!(clock.local_at(1_000), 2_000);
        assert_eq!(clock.global_for_local(0, 10_000), 5_000);
    }

    #[test]
    fn rebasing_keeps_local_time_continuous() {
        let mut clock = NodeClock::default();
        clock.set_rate(1_000, 500_000);
        assert_eq!(clock.local_at(1_000), 1_000);
        assert_eq!(clock.local_at(3_000), 2_000);
        clock.jump(3_000, 10_000);
        assert_eq!(clock.local_at(3_000), 12_000);
        clock.jump(3_000, -1_000_000);
        assert_eq!(clock.local_at(3_000), 0);
    }

    #[test]
    fn waits_round_up_so_timers_never_fire_early() {
        let mut clock = NodeClock::default();
        clock.set_rate(0, 1_500_000);
        let fire = clock.global_for_local(0, 10);
        assert!(clock.local_at(fire) >= 10);
        assert!(clock.local_at(fire - 1) < 10);
    }
}
