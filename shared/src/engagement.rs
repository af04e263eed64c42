//! Engaged dwell time: milliseconds during which the page was visible AND
//! focused AND the user was active within the idle window. The shell reports
//! state changes and activity with their times; this module does the sums.

#[allow(unused_imports)]
use crate::prelude::*;

/// Default idle window: activity counts for this long (ms).
pub const DEFAULT_IDLE_MS: f64 = 30_000.0;
/// Default heartbeat while engaged (ms).
pub const DEFAULT_HEARTBEAT_MS: f64 = 15_000.0;

/// Engaged-time accounting for one page view.
#[derive(Debug, Clone, PartialEq)]
pub struct Dwell {
    idle_ms: f64,
    visible: bool,
    focused: bool,
    last_activity: f64,
    /// Time up to which engagement has been summed.
    counted_to: f64,
    unreported: f64,
    total: f64,
}

impl Dwell {
    /// A page view starting at `now`; the start counts as activity.
    pub fn new(now: f64, idle_ms: f64, visible: bool, focused: bool) -> Dwell {
        Dwell {
            idle_ms,
            visible,
            focused,
            last_activity: now,
            counted_to: now,
            unreported: 0.0,
            total: 0.0,
        }
    }

    /// Sums engaged time up to `now` under the state held since the last call.
    fn accrue(&mut self, now: f64) {
        if now <= self.counted_to {
            return; // the clock went backwards: count nothing
        }
        if self.visible && self.focused {
            let end = now.min(self.last_activity + self.idle_ms);
            if end > self.counted_to {
                self.unreported += end - self.counted_to;
                self.total += end - self.counted_to;
            }
        }
        self.counted_to = now;
    }

    /// Visibility or focus changed at `now`.
    pub fn set_state(&mut self, now: f64, visible: bool, focused: bool) {
        self.accrue(now);
        let was = self.visible && self.focused;
        self.visible = visible;
        self.focused = focused;
        if !was && visible && focused {
            // Coming back to the page is itself activity.
            self.last_activity = now;
        }
    }

    /// The user did something (scroll, key, pointer, touch) at `now`.
    pub fn activity(&mut self, now: f64) {
        self.accrue(now);
        if now > self.last_activity {
            self.last_activity = now;
        }
    }

    /// True while time is being counted.
    pub fn engaged(&self, now: f64) -> bool {
        self.visible && self.focused && now - self.last_activity < self.idle_ms
    }

    /// Engaged ms since the last report and the total so far, when there is
    /// anything new to report; marks it reported.
    pub fn take_report(&mut self, now: f64) -> Option<(u32, u32)> {
        self.accrue(now);
        let ms = self.unreported as u32;
        if ms == 0 {
            return None;
        }
        self.unreported -= ms as f64;
        Some((ms, self.total as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_focused_and_active_time_is_counted() {
        let mut d = Dwell::new(0.0, 30_000.0, true, true);
        d.activity(10_000.0);
        assert_eq!(d.take_report(20_000.0), Some((20_000, 20_000)));
        assert_eq!(d.take_report(25_000.0), Some((5_000, 25_000)));
    }

    #[test]
    fn idle_time_after_the_window_is_not_counted() {
        let mut d = Dwell::new(0.0, 30_000.0, true, true);
        assert_eq!(d.take_report(100_000.0), Some((30_000, 30_000)));
        assert!(!d.engaged(100_000.0));
        d.activity(100_000.0);
        assert_eq!(d.take_report(110_000.0), Some((10_000, 40_000)));
    }

    #[test]
    fn a_hidden_or_unfocused_tab_accrues_nothing() {
        let mut d = Dwell::new(0.0, 30_000.0, true, true);
        d.set_state(1_000.0, false, true);
        d.activity(2_000.0);
        assert_eq!(d.take_report(20_000.0), Some((1_000, 1_000)));
        d.set_state(20_000.0, true, false);
        d.activity(21_000.0);
        assert_eq!(d.take_report(25_000.0), None);
        d.set_state(25_000.0, true, true);
        assert_eq!(d.take_report(27_000.0), Some((2_000, 3_000)));
    }

    #[test]
    fn a_page_that_starts_hidden_counts_from_when_it_is_shown() {
        let mut d = Dwell::new(0.0, 30_000.0, false, false);
        assert_eq!(d.take_report(60_000.0), None);
        d.set_state(60_000.0, true, true);
        assert_eq!(d.take_report(65_000.0), Some((5_000, 5_000)));
    }

    #[test]
    fn a_clock_that_goes_backwards_counts_nothing() {
        let mut d = Dwell::new(50_000.0, 30_000.0, true, true);
        assert_eq!(d.take_report(10_000.0), None);
        assert_eq!(d.take_report(51_000.0), Some((1_000, 1_000)));
    }
}
