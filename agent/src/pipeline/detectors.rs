//! The configuration's detector settings mapped onto the detectors crate: one detector per
//! signal, built on first sight.

use std::sync::Arc;

use seismo_config::{DetectorKind, DetectorSettings};
use seismo_detectors::{
    Cusum, CusumParams, DetectorState, Ensemble, EnsembleParams, EwmaParams, KMeansDetector,
    KMeansParams, KnnConformal, KnnParams, Learned, MadParams, RobustEwma, Seasonal,
    SeasonalParams, SlidingMad,
};

use crate::polarity::{self, Polarity};

/// Builds and restores the pipeline's detectors, and gives every ensemble with the same
/// parameters one shared copy of them: thousands of signals, a few settings groups.
#[derive(Debug, Default)]
pub struct Detectors {
    shared: Vec<Arc<EnsembleParams>>,
}

impl Detectors {
    /// [`build_detector`], its ensemble parameters shared.
    pub fn build(
        &mut self,
        s: &DetectorSettings,
        signal: &str,
    ) -> anyhow::Result<Box<dyn Learned>> {
        build(s, signal, |p| self.shared(p))
    }

    /// A detector read back from a snapshot, its ensemble parameters shared.
    pub fn restore(&mut self, state: DetectorState) -> Box<dyn Learned> {
        match state {
            DetectorState::Ensemble(mut e) => {
                let shared = self.shared(*e.params());
                e.share_params(&shared);
                e
            }
            other => other.into_detector(),
        }
    }

    /// The shared copy of `p`. Copies no signal holds any more (settings that a reload
    /// changed) are dropped as new ones come, so the list stays as long as the settings
    /// groups in use.
    fn shared(&mut self, p: EnsembleParams) -> Arc<EnsembleParams> {
        if let Some(found) = self.shared.iter().find(|s| ***s == p) {
            return Arc::clone(found);
        }
        self.shared.retain(|s| Arc::strong_count(s) > 1);
        let new = Arc::new(p);
        self.shared.push(Arc::clone(&new));
        new
    }
}

/// Builds the detector the settings ask for, for `signal`; unset kind parameters keep the
/// detector's default. The ensemble's early jump rule is on where a rise is bad news
/// ([`Polarity::HigherIsWorse`]: a resource's use, an error rate), off for throughputs and
/// signals of unknown meaning, whose short bursts are ordinary; its filling rule is on for a
/// filesystem's used share ([`polarity::fills_to_capacity`]).
pub fn build_detector(s: &DetectorSettings, signal: &str) -> anyhow::Result<Box<dyn Learned>> {
    build(s, signal, Arc::new)
}

/// [`build_detector`] with the ensemble's parameters made into an `Arc` by `share`.
fn build(
    s: &DetectorSettings,
    signal: &str,
    share: impl FnOnce(EnsembleParams) -> Arc<EnsembleParams>,
) -> anyhow::Result<Box<dyn Learned>> {
    let threshold = s.threshold.get();
    let (min_scale, min_rel_scale) = (s.min_scale.get(), s.min_rel_scale.get());
    let warmup = |default: usize| s.warmup.map_or(default, |w| w as usize);
    let count = |c: Option<u32>, default: usize| c.map_or(default, |c| c as usize);
    // The config bounds a period to 1 s..366 days, far inside i64 milliseconds.
    let period_ms = |p: Option<std::time::Duration>| {
        p.map(|p| i64::try_from(p.as_millis()).unwrap_or(i64::MAX))
    };
    Ok(match s.kind {
        DetectorKind::Ensemble => {
            let d = EnsembleParams::default();
            Box::new(Ensemble::with_shared(share(EnsembleParams {
                warmup: warmup(d.warmup),
                early_warmup: count(s.early_warmup, d.early_warmup),
                threshold,
                quiet: count(s.quiet.map(|q| q.get()), d.quiet),
                seed: s.seed.unwrap_or(d.seed),
                min_scale,
                period_ms: period_ms(s.period),
                early_jump: Polarity::of(signal) == Polarity::HigherIsWorse,
                early_fill: polarity::fills_to_capacity(signal),
            }))?)
        }
        DetectorKind::Ewma => {
            let params = EwmaParams {
                alpha: s.alpha.get(),
                warmup: s.warmup.unwrap_or(EwmaParams::default().warmup),
                threshold,
                clip: s.clip.get(),
                min_scale,
                min_rel_scale,
            };
            Box::new(RobustEwma::new(params)?)
        }
        DetectorKind::Mad => {
            let d = MadParams::default();
            let window = count(s.window.map(|w| w.get()), d.window);
            Box::new(SlidingMad::new(MadParams {
                window,
                // A warm-up longer than the window would wait for values it cannot hold.
                warmup: warmup(d.warmup).clamp(4, window),
                threshold,
                min_scale,
                min_rel_scale,
            })?)
        }
        DetectorKind::Seasonal => {
            let d = SeasonalParams::default();
            Box::new(Seasonal::new(SeasonalParams {
                daily_bins: count(s.daily_bins.map(|b| b.get()), d.daily_bins),
                weekly_bins: count(s.weekly_bins.map(|b| b.get()), d.weekly_bins),
                period_ms: period_ms(s.period),
                warmup: warmup(d.warmup),
                threshold,
                min_scale,
                min_rel_scale,
                ..d
            })?)
        }
        DetectorKind::Cusum => {
            let d = CusumParams::default();
            Box::new(Cusum::new(CusumParams {
                drift: s.drift.map_or(d.drift, |v| v.get()),
                decision: s.decision.map_or(d.decision, |v| v.get()),
                warmup: warmup(d.warmup),
                threshold,
                min_scale,
                min_rel_scale,
                ..d
            })?)
        }
        DetectorKind::Kmeans => {
            let d = KMeansParams::default();
            Box::new(KMeansDetector::new(KMeansParams {
                k: count(s.clusters.map(|k| k.get()), d.k),
                train_size: count(s.train_size.map(|t| t.get()), d.train_size),
                retrain_every: count(s.retrain_every.map(|r| r.get()), d.retrain_every),
                threshold,
                seed: s.seed.unwrap_or(d.seed),
            })?)
        }
        DetectorKind::Knn => {
            let d = KnnParams::default();
            Box::new(KnnConformal::new(KnnParams {
                window: count(s.context.map(|c| c.get()), d.window),
                memory: count(s.memory.map(|m| m.get()), d.memory),
                k: count(s.neighbours.map(|k| k.get()), d.k),
                threshold,
            })?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_detectors::SavedDetector;

    fn params_of(d: &dyn Learned) -> *const EnsembleParams {
        match d.save() {
            SavedDetector::Ensemble(e) => e.params(),
            _ => panic!("not an ensemble"),
        }
    }

    #[test]
    fn ensembles_of_one_settings_group_share_their_parameters() {
        let s = seismo_config::parse("", "x").unwrap().detectors.defaults;
        let mut build = Detectors::default();
        let built: Vec<Box<dyn Learned>> = (0..1000)
            .map(|i| build.build(&s, &format!("scrape.app.series_{i}")).unwrap())
            .collect();
        let first = params_of(built[0].as_ref());
        assert!(built.iter().all(|d| params_of(d.as_ref()) == first));
        // Another group (the jump rule is on for a resource's use): its own copy.
        let cpu = build.build(&s, "host.cpu.utilization").unwrap();
        assert_ne!(params_of(cpu.as_ref()), first);
        assert_eq!(build.shared.len(), 2);
        // A restored ensemble takes the shared copy of its group, and scores as saved.
        let mut saved = build.build(&s, "scrape.app.other").unwrap();
        for i in 0..400 {
            saved.observe(i * 10_000, (i % 7) as f64);
        }
        let bytes = postcard::to_allocvec(&saved.save()).unwrap();
        let state: DetectorState = postcard::from_bytes(&bytes).unwrap();
        let mut restored = build.restore(state);
        assert_eq!(params_of(restored.as_ref()), first);
        for i in 400..500 {
            let v = if i == 450 { 50.0 } else { (i % 7) as f64 };
            assert_eq!(
                format!("{:?}", restored.observe(i * 10_000, v)),
                format!("{:?}", saved.observe(i * 10_000, v))
            );
        }
        // Copies no signal holds any more go as new ones come.
        drop(cpu);
        let other = seismo_config::parse("[detectors.defaults]\nquiet = 5\n", "x")
            .unwrap()
            .detectors
            .defaults;
        let _quiet = build.build(&other, "scrape.app.series_0").unwrap();
        assert_eq!(build.shared.len(), 2);
    }

    #[test]
    fn every_kind_builds_with_extreme_settings() {
        let config = seismo_config::parse(
            "[detectors.defaults]\nwarmup = 100000\nwindow = 8\nclusters = 32\ntrain_size = 64\ncontext = 64\nmemory = 32\nneighbours = 16\n",
            "x",
        )
        .unwrap();
        for kind in [
            "ensemble", "ewma", "mad", "seasonal", "cusum", "kmeans", "knn",
        ] {
            let mut s = config.detectors.defaults.clone();
            s.kind =
                seismo_config::parse(&format!("[detectors.defaults]\nkind = \"{kind}\"\n"), "x")
                    .unwrap()
                    .detectors
                    .defaults
                    .kind;
            let built = build_detector(&s, "host.cpu.utilization");
            assert!(built.is_ok(), "{kind}: {:?}", built.err());
        }
    }

    #[test]
    fn a_filesystem_s_share_is_judged_by_where_a_fill_leads_memory_s_is_not() {
        use seismo_detectors::{Finding, Verdict};
        let config = seismo_config::parse("[detectors.defaults]\nmin_scale = 0.02\n", "x").unwrap();
        // 20 points at 10%, then 15 points of the capacity a point (4 MiB/s on 256 MiB).
        let v: Vec<f64> = (0..40)
            .map(|i| 0.1 + if i >= 20 { 0.15 * (i - 19) as f64 } else { 0.0 })
            .map(|x: f64| x.min(1.0))
            .collect();
        let first = |signal: &str| {
            let mut d = build_detector(&config.detectors.defaults, signal).unwrap();
            v.iter()
                .enumerate()
                .find_map(|(i, &x)| match d.observe(i as i64 * 10_000, x) {
                    Verdict::Scored(o) if o.anomalous => {
                        Some((i, o.evidence.primary().unwrap().finding))
                    }
                    _ => None,
                })
        };
        let (i, finding) = first("host.filesystem.data.used_ratio").unwrap();
        assert_eq!(i, 20);
        assert!(matches!(finding, Finding::Filling { .. }), "{finding:?}");
        // Memory's share is no fill: judged by the jump rule, 16 spreads of 2 points on 2.
        let (i, finding) = first("host.memory.used_ratio").unwrap();
        assert!(
            i > 20 && matches!(finding, Finding::EarlyLevel { .. }),
            "{i} {finding:?}"
        );
    }
}
