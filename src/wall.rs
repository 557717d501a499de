//! The campaign's wall clock: the only wall-time reads outside `cmd/bench.rs`. They feed the
//! `wall_*` fields of result lines and the progress display, never a simulated path: the
//! library receives elapsed time through a closure and runs do not see it.

use std::time::{Duration, Instant};

/// Elapsed wall time since `start`.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        #[allow(clippy::disallowed_methods)] // progress and `wall_*` fields only
        Stopwatch(Instant::now())
    }

    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}
