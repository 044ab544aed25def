//! Practical significance: whether a true anomaly is worth a page. A detector says a move is
//! unusual for the signal; an operator also asks whether it is big enough to matter, and
//! whether the signal is merely going back to where it usually sits, or getting better. Three
//! rules; the first two the same for every signal, the third for the signals whose names say
//! which way is worse:
//!
//! - **Small moves are not pages.** The move (how far the value, or a level shift's new level,
//!   lies from the level the firing component compared it with) must reach `min_move` of the
//!   signal's own scale: the range of its levels over the long horizon. A ratio (0..1) must
//!   also move at least `min_ratio_move` of its whole scale: half a point of a filesystem's
//!   used space is not an incident, however unusual for that filesystem.
//! - **A usual level is not news.** A move to a level the signal held for at least
//!   `usual_share` of its long horizon (within the smallest move that pages) is a return to
//!   normal: the CPU falling back to idle when a build ends.
//! - **Relief is not a page.** For a signal where higher is worse (a resource's use or
//!   saturation, an error rate: [`Polarity`]), a move down is relief, whatever its size: the
//!   CPU idle again after a build the early stage learned as its level, before the profile
//!   knew idle as usual. Never for a signal of unknown polarity: a fall there can be an outage.
//!
//! The long horizon is a [`Profile`] per signal: the means of blocks of [`BLOCK`] points, the
//! last [`LEVELS`] of them (about 34 minutes at a 1 s interval, 5.7 hours at 10 s). Until it
//! holds [`MIN_LEVELS`] blocks, only the ratio bound is judged (the alert says `young`). It is
//! part of the signal's alert state, so it is saved in snapshots and survives a restart.

use std::collections::VecDeque;

use seismo_config::AlertingConfig;
use seismo_detectors::Finding;
use serde::{Deserialize, Serialize};

use crate::event::Significance;
use crate::polarity::Polarity;
use crate::unit::Unit;

/// Points averaged into one level of the profile.
pub(crate) const BLOCK: u32 = 16;
/// Levels kept: the long horizon is `BLOCK * LEVELS` points.
pub(crate) const LEVELS: usize = 128;
/// Levels before the signal's own scale and usual levels are judged.
pub(crate) const MIN_LEVELS: usize = 8;

/// The rules' settings (`[alerting]` `significance`, `min_move`, `min_ratio_move`,
/// `usual_share`, `page_relief`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub enabled: bool,
    pub min_move: f64,
    pub min_ratio_move: f64,
    pub usual_share: f64,
    pub page_relief: bool,
}

impl Rules {
    pub(crate) fn of(c: &AlertingConfig) -> Self {
        Rules {
            enabled: c.significance,
            min_move: c.min_move.get(),
            min_ratio_move: c.min_ratio_move.get(),
            usual_share: c.usual_share.get(),
            page_relief: c.page_relief,
        }
    }
}

/// What the rules said of one anomaly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Judgement {
    /// It may page; the evidence says which rule let it through.
    Pages(Significance),
    /// The move is smaller than the signal's scale makes worth a page.
    SmallMove,
    /// The new level is one the signal usually holds.
    UsualLevel,
    /// The signal got better: it moved down, and higher is worse for it.
    Relief,
}

impl Judgement {
    /// Why an anomaly was held back, for the log; `None` when it pages.
    pub(crate) fn reason(&self) -> Option<&'static str> {
        match self {
            Judgement::Pages(_) => None,
            Judgement::SmallMove => Some("small move: below the smallest move that pages"),
            Judgement::UsualLevel => Some("a return to a level the signal usually holds"),
            Judgement::Relief => Some("relief: a fall of a signal where higher is worse"),
        }
    }
}

/// An anomaly held back as a small move, watched for [`HELD_POINTS`] points: when the
/// signal's level moves on from where that move started until the move is large enough (a
/// memory climb, a filesystem filling), the alert fires then. The detector flags the start of
/// an episode, when the move is still small, and stays quiet while it goes on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Held {
    /// The level the move started from.
    from: f64,
    /// The level since: an average of the values after it, each weighing 1/8.
    level: f64,
    /// Points since it was held back.
    points: u32,
    /// The held anomaly's score.
    pub score: f64,
}

/// Points a held-back move is watched for.
pub(crate) const HELD_POINTS: u32 = 512;

impl Held {
    /// The move a level shift `from -> now` (or a value `now` against the reference `from`)
    /// starts, scored `score`.
    pub(crate) fn new(from: f64, now: f64, score: f64) -> Self {
        Held {
            from,
            level: now,
            points: 0,
            score,
        }
    }

    /// Learns the signal's next value; false once the watch is over.
    pub(crate) fn learn(&mut self, value: f64) -> bool {
        if value.is_finite() {
            self.level += (value - self.level) / 8.0;
            self.points += 1;
        }
        self.points <= HELD_POINTS && self.from.is_finite()
    }

    /// The move so far, as the finding of a level shift from where it started.
    pub(crate) fn finding(&self) -> Finding {
        Finding::LevelShift {
            before: self.from,
            after: self.level,
            spread: 0.0,
            points: self.points,
        }
    }
}

/// Where a value (or a level shift's new level) lies, and the level it moved from: the
/// firing component's own reference where it has one, else `usual`.
pub(crate) fn move_of(
    observed: f64,
    primary: Option<&Finding>,
    usual: Option<f64>,
) -> (f64, Option<f64>) {
    match primary {
        Some(Finding::LevelShift { before, after, .. }) => (*after, Some(*before)),
        Some(Finding::EarlyLevel { median, mean, .. }) => (*mean, Some(*median)),
        Some(Finding::Spike { median, .. }) => (observed, Some(*median)),
        Some(Finding::Filling { previous, .. }) => (observed, Some(*previous)),
        Some(Finding::Seasonal { usual, .. }) => (observed, Some(*usual)),
        _ => (observed, usual),
    }
}

/// Whether a move went down: the value against the level the firing component compared it
/// with (a new minimum, a shift's new level below the old one, a mean below the early median,
/// a value below its slot's usual one or the signal's usual level); for a pattern, which has
/// no direction of its own, and without such a level, the value against the range expected
/// (`low..high`). `None` when it cannot be told (a pattern within the range).
pub(crate) fn fell(
    observed: f64,
    primary: Option<&Finding>,
    usual: Option<f64>,
    (low, high): (f64, f64),
) -> Option<bool> {
    let (now, from) = match primary {
        Some(Finding::NewExtreme { maximum, .. }) => return Some(!maximum),
        Some(Finding::AtBound {
            bound, previous, ..
        }) => return Some(bound < previous),
        Some(Finding::Pattern { .. }) => (observed, None),
        _ => move_of(observed, primary, usual),
    };
    match from {
        Some(from) if now < from => Some(true),
        Some(from) if now > from => Some(false),
        _ if observed < low => Some(true),
        _ if observed > high => Some(false),
        _ => None,
    }
}

/// A signal's levels over the long horizon (see the module documentation).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Profile {
    /// Block means, oldest first. `f32`: a level needs no more digits to be compared.
    levels: VecDeque<f32>,
    /// The block being filled.
    sum: f64,
    n: u32,
}

impl Profile {
    /// Learns one value of the signal (every scored or warming-up point, anomalous or not).
    pub(crate) fn learn(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.sum += value;
        self.n += 1;
        if self.n >= BLOCK {
            if self.levels.len() >= LEVELS {
                self.levels.pop_front();
            }
            let mean =
                (self.sum / f64::from(self.n)).clamp(-f64::from(f32::MAX), f64::from(f32::MAX));
            self.levels.push_back(mean as f32);
            (self.sum, self.n) = (0.0, 0);
        }
    }

    /// Nothing learned yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.levels.is_empty() && self.n == 0
    }

    /// The median of its levels, once there are enough of them to judge.
    pub(crate) fn usual(&self) -> Option<f64> {
        if self.levels.len() < MIN_LEVELS {
            return None;
        }
        let mut sorted: Vec<f32> = self.levels.iter().copied().collect();
        sorted.sort_by(f32::total_cmp);
        sorted.get(sorted.len() / 2).map(|&l| f64::from(l))
    }

    /// Judges an anomaly of `signal` at value `observed`, whose strongest component found
    /// `primary` and expected `expected` (low, high).
    pub(crate) fn judge(
        &self,
        rules: &Rules,
        signal: &str,
        observed: f64,
        primary: Option<&Finding>,
        expected: (f64, f64),
    ) -> Judgement {
        if !rules.page_relief
            && Polarity::of(signal) == Polarity::HigherIsWorse
            && fell(observed, primary, self.usual(), expected) == Some(true)
        {
            return Judgement::Relief;
        }
        let unit = Unit::of(signal);
        let mature = self.levels.len() >= MIN_LEVELS;
        let mut sorted: Vec<f64> = self.levels.iter().map(|&l| f64::from(l)).collect();
        sorted.sort_by(f64::total_cmp);
        let (now, from) = move_of(observed, primary, self.usual());
        let moved = from.map_or(f64::NAN, |f| (now - f).abs());
        let scale = match (sorted.first(), sorted.last()) {
            (Some(lo), Some(hi)) if mature => hi - lo,
            _ => 0.0,
        };
        let bound = if unit == Unit::Ratio {
            rules.min_ratio_move
        } else {
            0.0
        };
        let needed = (rules.min_move * scale).max(bound);
        if moved < needed {
            return Judgement::SmallMove;
        }
        let usual_share = if mature {
            let near = sorted
                .iter()
                .filter(|&&l| (l - now).abs() <= needed)
                .count();
            near as f64 / sorted.len() as f64
        } else {
            f64::NAN
        };
        if rules.usual_share > 0.0 && usual_share >= rules.usual_share {
            return Judgement::UsualLevel;
        }
        Judgement::Pages(Significance {
            rule: if mature && moved.is_finite() {
                "large_move"
            } else {
                "young"
            },
            moved,
            needed,
            usual_share,
            horizon_points: self.levels.len() as u32 * BLOCK + self.n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::of(&seismo_config::parse("", "t").unwrap().alerting)
    }

    fn profile(values: impl IntoIterator<Item = f64>) -> Profile {
        let mut p = Profile::default();
        values.into_iter().for_each(|v| p.learn(v));
        p
    }

    /// Signals of unknown polarity: a ratio and a plain number.
    const RATIO: &str = "scrape.app.cache_used_ratio";
    const PLAIN: &str = "scrape.app.queue_depth";
    /// No expected range: the direction comes from the finding.
    const NONE: (f64, f64) = (f64::NAN, f64::NAN);

    fn shift(before: f64, after: f64) -> Finding {
        Finding::LevelShift {
            before,
            after,
            spread: 0.001,
            points: 8,
        }
    }

    #[test]
    fn the_profile_keeps_block_means_over_a_bounded_horizon() {
        let p = profile((0..10_000).map(f64::from));
        assert_eq!(p.levels.len(), LEVELS);
        assert_eq!(p.n, 10_000 % BLOCK);
        // The newest full block: 9984..9999, mean 9991.5.
        assert_eq!(p.levels.back(), Some(&9991.5));
        // Non-finite values are not learned.
        let mut q = profile([1.0; 15]);
        q.learn(f64::NAN);
        q.learn(f64::INFINITY);
        assert!(q.levels.is_empty() && q.n == 15);
    }

    #[test]
    fn a_small_move_of_a_ratio_is_held_back_a_large_one_pages() {
        let p = profile((0..2000).map(|i| 0.829 + 1e-4 * f64::from(i % 3)));
        let r = rules();
        let j = p.judge(&r, RATIO, 0.834, Some(&shift(0.829, 0.834)), NONE);
        assert_eq!(j, Judgement::SmallMove);
        // The same figures of a plain signal: its own scale is tiny, the move is large.
        let j = p.judge(&r, PLAIN, 0.834, Some(&shift(0.829, 0.834)), NONE);
        assert!(
            matches!(j, Judgement::Pages(s) if s.rule == "large_move"),
            "{j:?}"
        );
        // Filling fast: 12 points of the filesystem.
        let Judgement::Pages(s) = p.judge(&r, RATIO, 0.95, Some(&shift(0.83, 0.95)), NONE) else {
            panic!()
        };
        assert_eq!(s.rule, "large_move");
        assert!((s.moved - 0.12).abs() < 1e-9 && s.needed == 0.05 && s.usual_share == 0.0);
        assert_eq!(s.horizon_points, 2000);
    }

    #[test]
    fn a_return_to_a_usual_level_is_held_back() {
        // Idle at 5% for most of the horizon, a build at 100% for the last stretch.
        let p = profile((0..2048).map(|i| if i < 1400 { 0.05 } else { 1.0 }));
        let r = rules();
        let j = p.judge(&r, RATIO, 0.06, Some(&shift(1.0, 0.06)), NONE);
        assert_eq!(j, Judgement::UsualLevel);
        // A level it held only in one short episode is news.
        let p = profile((0..2048).map(|i| if (1000..1100).contains(&i) { 1.0 } else { 0.05 }));
        let j = p.judge(&r, RATIO, 1.0, Some(&shift(0.05, 1.0)), NONE);
        assert!(matches!(j, Judgement::Pages(_)), "{j:?}");
    }

    #[test]
    fn without_history_only_the_ratio_bound_is_judged() {
        let p = profile([0.5; 20]);
        let r = rules();
        assert_eq!(
            p.judge(&r, RATIO, 0.52, Some(&shift(0.5, 0.52)), NONE),
            Judgement::SmallMove
        );
        let Judgement::Pages(s) = p.judge(&r, PLAIN, 0.52, Some(&shift(0.5, 0.52)), NONE) else {
            panic!()
        };
        assert_eq!(s.rule, "young");
        assert!(s.usual_share.is_nan() && s.needed == 0.0);
        // A new maximum with no history to compare it with: it pages, as young.
        let j = p.judge(
            &r,
            PLAIN,
            9.0,
            Some(&Finding::NewExtreme {
                previous: 0.5,
                maximum: true,
            }),
            NONE,
        );
        assert!(
            matches!(j, Judgement::Pages(s) if s.rule == "young"),
            "{j:?}"
        );
    }

    #[test]
    fn a_fall_of_a_signal_where_higher_is_worse_is_relief() {
        let r = rules();
        // Busy at 100% for the little the profile holds (the early stage learned it busy).
        let busy = profile([1.0; 40]);
        let early = |mean: f64| Finding::EarlyLevel {
            median: 1.0,
            spread: 0.01,
            reference: 12,
            mean,
            points: 3,
        };
        for signal in [
            "host.cpu.utilization",
            "host.cpu.core.3.utilization",
            "process.busy.cpu.utilization",
            "log.app.errors_per_s",
        ] {
            let fall = busy.judge(&r, signal, 0.02, Some(&early(0.03)), NONE);
            assert_eq!(fall, Judgement::Relief, "{signal}");
            // The rise still pages.
            let rise = profile([0.02; 40]).judge(&r, signal, 1.0, Some(&shift(0.02, 1.0)), NONE);
            assert!(matches!(rise, Judgement::Pages(_)), "{signal}: {rise:?}");
        }
        // Unknown polarity: a fall can be an outage, it pages.
        for signal in [
            "log.app.lines_per_s",
            "scrape.app.busy_ratio",
            "host.processes.count",
        ] {
            let j = busy.judge(&r, signal, 0.02, Some(&early(0.03)), NONE);
            assert!(matches!(j, Judgement::Pages(_)), "{signal}: {j:?}");
        }
        // The direction of each kind of finding, and of a range without a reference.
        let idle = profile([0.05; 2048]);
        let cpu = "host.cpu.utilization";
        let new_min = Finding::NewExtreme {
            previous: 0.05,
            maximum: false,
        };
        assert_eq!(
            idle.judge(&r, cpu, 0.0, Some(&new_min), NONE),
            Judgement::Relief
        );
        let spike_down = Finding::Spike {
            median: 0.9,
            mad: 0.01,
            spread: 0.015,
            window: 64,
        };
        assert_eq!(
            idle.judge(&r, cpu, 0.1, Some(&spike_down), NONE),
            Judgement::Relief
        );
        assert_eq!(
            busy.judge(&r, cpu, 0.1, Some(&Finding::Band), (0.8, 1.0)),
            Judgement::Relief
        );
        // A pattern has no direction: within the range it pages, below it it is relief.
        let pattern = Finding::Pattern { points: 8, z: 9.0 };
        let usual_high = profile([0.95; 2048]);
        assert!(matches!(
            usual_high.judge(&r, cpu, 0.85, Some(&pattern), (0.8, 1.0)),
            Judgement::Pages(_)
        ));
        assert_eq!(
            usual_high.judge(&r, cpu, 0.5, Some(&pattern), (0.8, 1.0)),
            Judgement::Relief
        );
        // `page_relief = true` turns the rule off.
        let on = Rules {
            page_relief: true,
            ..r
        };
        let j = busy.judge(&on, cpu, 0.02, Some(&early(0.03)), NONE);
        assert!(matches!(j, Judgement::Pages(_)), "{j:?}");
    }
}
