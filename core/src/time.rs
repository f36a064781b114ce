//! Time as the core sees it: values the transport passes in. The core never reads a clock.

/// A point on the transport's monotonic clock, in milliseconds from an origin of its choosing.
/// Timers ([`Driver::poll_timeout`](crate::Driver::poll_timeout)) are expressed in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The instant `ms` milliseconds after the clock's origin.
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(ms)
    }

    /// Milliseconds since the clock's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Milliseconds from `self` until `later` (zero when `later` is not later).
    pub const fn millis_until(self, later: Instant) -> u64 {
        later.0.saturating_sub(self.0)
    }

    pub(crate) const fn plus(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms))
    }
}

/// One reading of the two clocks the core needs: the monotonic one for timers and the wall
/// clock for invocation deadlines (which the Runtime API gives in Unix-epoch milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// The monotonic clock.
    pub instant: Instant,
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

#[cfg(feature = "std")]
impl Now {
    /// Reads the process's clocks: `std::time::Instant` (from a process-wide origin) and
    /// `SystemTime`.
    pub fn system() -> Now {
        use std::sync::OnceLock;
        use std::time::{Duration, Instant as StdInstant, SystemTime, UNIX_EPOCH};
        static ORIGIN: OnceLock<StdInstant> = OnceLock::new();
        // One read of each clock; milliseconds without u128 arithmetic.
        let ms = |d: Duration| d.as_secs() * 1000 + u64::from(d.subsec_millis());
        let now = StdInstant::now();
        let origin = *ORIGIN.get_or_init(|| now);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Now {
            instant: Instant(ms(now.saturating_duration_since(origin))),
            unix_ms: ms(unix),
        }
    }
}

#[cfg(feature = "std")]
impl Instant {
    /// How long from `now` until `self` (zero when it has passed), for a poll or read timeout.
    pub fn duration_from(self, now: Now) -> std::time::Duration {
        std::time::Duration::from_millis(now.instant.millis_until(self))
    }
}
