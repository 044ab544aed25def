//! The configuration's detector settings mapped onto the detectors crate: one detector per
//! signal, built on first sight.

use seismo_config::{DetectorKind, DetectorSettings};
use seismo_detectors::{
    Cusum, CusumParams, Ensemble, EnsembleParams, EwmaParams, KMeansDetector, KMeansParams,
    KnnConformal, KnnParams, Learned, MadParams, RobustEwma, Seasonal, SeasonalParams, SlidingMad,
};

use crate::polarity::{self, Polarity};

/// Builds the detector the settings ask for, for `signal`; unset kind parameters keep the
/// detector's default. The ensemble's early jump rule is on where a rise is bad news
/// ([`Polarity::HigherIsWorse`]: a resource's use, an error rate), off for throughputs and
/// signals of unknown meaning, whose short bursts are ordinary.
pub fn build_detector(s: &DetectorSettings, signal: &str) -> anyhow::Result<Box<dyn Learned>> {
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
            Box::new(Ensemble::new(EnsembleParams {
                warmup: warmup(d.warmup),
                early_warmup: count(s.early_warmup, d.early_warmup),
                threshold,
                quiet: count(s.quiet.map(|q| q.get()), d.quiet),
                seed: s.seed.unwrap_or(d.seed),
                min_scale,
                period_ms: period_ms(s.period),
                early_jump: Polarity::of(signal) == Polarity::HigherIsWorse,
                early_fill: polarity::fills_to_capacity(signal),
            })?)
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
