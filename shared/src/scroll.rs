//! Scroll depth: how much of a page (or a scrollable container) has been seen,
//! and which milestones that crosses. The shell reads the three metrics at most
//! once per animation frame and asks this module what they mean.

#[allow(unused_imports)]
use crate::prelude::*;

/// Milestones announced once each per page view, in order.
pub const MILESTONES: [u8; 5] = [25, 50, 75, 90, 100];

/// The milestones among `bits` (as [`ScrollDepth::observe`] returns them),
/// in ascending order.
pub fn milestones(bits: u8) -> impl Iterator<Item = u8> {
    MILESTONES
        .into_iter()
        .enumerate()
        .filter(move |(i, _)| bits & 1 << i != 0)
        .map(|(_, m)| m)
}

/// Percent of the content seen: the bottom of the viewport over the content
/// height, 0..=100. Content that fits in the viewport is seen entirely.
/// Metrics are read fresh each time, so growing content and resizes are
/// measured as they are now, not as they were at load.
pub fn depth_pct(scroll_top: f64, viewport: f64, content: f64) -> u8 {
    if !(scroll_top.is_finite() && viewport.is_finite() && content.is_finite()) {
        return 0;
    }
    if content <= viewport || content <= 0.0 {
        return 100;
    }
    // Comparisons rather than `f64::max`, a libm call in the wasm tracker
    // (the same values: the metrics are finite here).
    let at_least_0 = |v: f64| if v < 0.0 { 0.0 } else { v };
    let seen = (at_least_0(scroll_top) + at_least_0(viewport)) / content * 100.0;
    // Browsers round scroll positions to device pixels: allow half a percent.
    let pct = (seen + 0.5) as u32;
    pct.min(100) as u8
}

/// The maximum depth of one page view (or container) and the milestones
/// already announced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrollDepth {
    /// Maximum depth seen, percent.
    pub max: u8,
    /// Depth last reported in an event (so that leaving reports only news).
    pub reported: u8,
    announced: u8,
}

impl ScrollDepth {
    /// Records a measurement; returns the milestones it crosses for the first
    /// time as bits of `MILESTONES` (0 when nothing new; see [`milestones`]).
    pub fn observe(&mut self, pct: u8) -> u8 {
        let pct = pct.min(100);
        if pct > self.max {
            self.max = pct;
        }
        let mut news = 0;
        for (i, m) in MILESTONES.iter().enumerate() {
            if self.max >= *m {
                news |= 1 << i;
            }
        }
        news &= !self.announced;
        self.announced |= news;
        news
    }

    /// The depth to report on leaving, if it is more than was last reported.
    pub fn take_unreported(&mut self) -> Option<u8> {
        (self.max > self.reported).then(|| {
            self.reported = self.max;
            self.max
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_the_share_of_content_above_the_viewport_bottom() {
        assert_eq!(depth_pct(0.0, 1000.0, 10_000.0), 10);
        assert_eq!(depth_pct(7000.0, 1000.0, 10_000.0), 80);
        assert_eq!(depth_pct(9000.0, 1000.0, 10_000.0), 100);
        assert_eq!(
            depth_pct(8999.6, 1000.0, 10_000.0),
            100,
            "sub-pixel rounding"
        );
        assert_eq!(
            depth_pct(0.0, 800.0, 600.0),
            100,
            "short page is fully seen"
        );
        assert_eq!(depth_pct(f64::NAN, 800.0, 600.0), 0);
        assert_eq!(depth_pct(-50.0, 1000.0, 10_000.0), 10, "overscroll bounce");
    }

    #[test]
    fn depth_is_as_with_f64_max() {
        let before = |t: f64, v: f64, c: f64| -> u8 {
            if !(t.is_finite() && v.is_finite() && c.is_finite()) {
                return 0;
            }
            if c <= v || c <= 0.0 {
                return 100;
            }
            let seen = (t.max(0.0) + v.max(0.0)) / c * 100.0;
            ((seen + 0.5) as u32).min(100) as u8
        };
        let xs = [
            -1e9, -50.0, -0.5, -0.0, 0.0, 0.4, 1.0, 333.3, 1000.0, 5e3, 1e12,
        ];
        for t in xs {
            for v in xs {
                for c in xs {
                    assert_eq!(depth_pct(t, v, c), before(t, v, c), "{t} {v} {c}");
                }
            }
        }
    }

    fn crossed(s: &mut ScrollDepth, pct: u8) -> Vec<u8> {
        milestones(s.observe(pct)).collect()
    }

    #[test]
    fn scrolling_to_eighty_percent_announces_25_50_75_once_each() {
        let mut s = ScrollDepth::default();
        assert_eq!(crossed(&mut s, 10), Vec::<u8>::new());
        assert_eq!(crossed(&mut s, 55), vec![25, 50]);
        assert_eq!(
            crossed(&mut s, 30),
            Vec::<u8>::new(),
            "scrolling back announces nothing"
        );
        assert_eq!(crossed(&mut s, 80), vec![75]);
        assert_eq!(crossed(&mut s, 80), Vec::<u8>::new());
        assert_eq!(s.max, 80);
        assert_eq!(s.take_unreported(), Some(80));
        assert_eq!(s.take_unreported(), None);
    }

    #[test]
    fn content_that_grows_lowers_the_current_depth_but_not_the_maximum() {
        let mut s = ScrollDepth::default();
        s.observe(depth_pct(1000.0, 1000.0, 2000.0));
        assert_eq!(s.max, 100);
        // An infinite list appended 8000 px: now at 20 %, the maximum stays.
        assert_eq!(depth_pct(1000.0, 1000.0, 10_000.0), 20);
        assert_eq!(crossed(&mut s, 20), Vec::<u8>::new());
        assert_eq!(s.max, 100);
    }
}
