//! Scraped series into signals, with what is remembered between scrapes: counters become
//! per-second rates (a counter that went down was reset: its value is the increase since),
//! gauges stay, histograms give p50, p99 and the observation rate of the interval (from the
//! delta of their cumulative buckets, interpolated as PromQL's `histogram_quantile` does),
//! summaries give their quantiles and observation rate. At most `max_series` series are
//! admitted; once admitted, a series keeps its place until it is absent from a scrape.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prometheus_parse::{Scrape, Value};

use seismo_config::SeriesFilter;

use super::labels::decode;
use super::names::{label_suffix, push_safe, quantile_name};
use super::refused::RefusedFamilies;
use crate::event::Sample;

/// What one conversion dropped.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// New series refused at `max_series`.
    pub limit: u64,
    /// The same, by metric family.
    pub refused: RefusedFamilies,
    /// Series left out by the target's `include` / `exclude`.
    pub excluded: u64,
    /// Series whose signal name another series of the same scrape already took (label values
    /// that differ only in characters a signal name cannot hold).
    pub duplicate: u64,
}

/// The cumulative state of one series at the previous scrape.
#[derive(Debug, Clone)]
enum Last {
    Counter(f64),
    /// Cumulative bucket counts by upper bound, sorted, `+Inf` last.
    Histogram(Vec<(f64, f64)>),
    Gauge,
}

/// Series of one target, between scrapes.
pub(crate) struct Series {
    prefix: String,
    max_series: usize,
    filter: SeriesFilter,
    /// Admitted series by base name, with their state at the previous scrape.
    admitted: HashMap<Arc<str>, Last>,
    last_ts_ms: Option<i64>,
}

impl Series {
    pub(crate) fn new(source: &str, max_series: usize, filter: SeriesFilter) -> Self {
        let mut prefix = String::from("scrape.");
        push_safe(&mut prefix, source);
        prefix.push('.');
        Self {
            prefix,
            max_series,
            filter,
            admitted: HashMap::new(),
            last_ts_ms: None,
        }
    }

    /// Turns one scrape taken at `ts_ms` into samples.
    pub(crate) fn convert(
        &mut self,
        scrape: &Scrape,
        ts_ms: i64,
        dropped: &mut Dropped,
    ) -> Vec<Sample> {
        let elapsed_s = self
            .last_ts_ms
            .map(|t| (ts_ms - t) as f64 / 1000.0)
            .filter(|s| *s > 0.0);
        self.last_ts_ms = Some(ts_ms);
        // `_count`, `_sum` and `_created` of histograms and summaries come through the parser as
        // untyped series of their own; they are part of their family instead.
        let families: HashSet<&str> = scrape
            .samples
            .iter()
            .filter(|s| matches!(s.value, Value::Histogram(_) | Value::Summary(_)))
            .map(|s| s.metric.as_str())
            .collect();
        let summaries: HashSet<&str> = scrape
            .samples
            .iter()
            .filter(|s| matches!(s.value, Value::Summary(_)))
            .map(|s| s.metric.as_str())
            .collect();

        // In name order, so which series the cap admits does not depend on the parser's order.
        let mut ordered: Vec<&prometheus_parse::Sample> = scrape.samples.iter().collect();
        ordered.sort_by_cached_key(|s| (s.metric.clone(), s.labels.to_string()));
        // Each series with its kind, labels and key; series of the same name after the first
        // are dropped as duplicates.
        let mut series = Vec::with_capacity(ordered.len());
        let mut seen: HashSet<Arc<str>> = HashSet::new();
        for sample in ordered {
            // (series base name, what kind of series).
            let (metric, kind) = match &sample.value {
                Value::Untyped(_) => {
                    let part_of = ["_count", "_sum", "_created"].iter().find_map(|suffix| {
                        let base = sample.metric.strip_suffix(suffix)?;
                        families.contains(base).then_some((base, *suffix))
                    });
                    match part_of {
                        // A summary's count is its observation rate.
                        Some((base, "_count")) if summaries.contains(base) => (base, Kind::Count),
                        Some(_) => continue,
                        None => (sample.metric.as_str(), Kind::Gauge),
                    }
                }
                Value::Gauge(_) => (sample.metric.as_str(), Kind::Gauge),
                Value::Counter(_) => (sample.metric.as_str(), Kind::Counter),
                Value::Histogram(_) => (sample.metric.as_str(), Kind::Histogram),
                Value::Summary(_) => (sample.metric.as_str(), Kind::Summary),
            };
            // Filtered out before the cap: an excluded series never takes a place.
            if !self.filter.is_empty()
                && !self
                    .filter
                    .keeps(metric, |l| sample.labels.get(l).map(|v| decode(v)))
            {
                dropped.excluded += 1;
                continue;
            }
            let labels = label_suffix(&sample.labels);
            let mut base = self.prefix.clone();
            push_safe(&mut base, metric);
            // A summary's quantiles and its count share the label set: keep their keys apart.
            let key: Arc<str> = match kind {
                Kind::Count => format!("{base}{labels}#count").into(),
                _ => format!("{base}{labels}").into(),
            };
            if !seen.insert(Arc::clone(&key)) {
                dropped.duplicate += 1;
                continue;
            }
            series.push((sample, metric, kind, base, labels, key));
        }
        // Series absent from this scrape give up their place (and their baseline) first.
        self.admitted.retain(|k, _| seen.contains(k));

        let mut out = Vec::new();
        for (sample, family, kind, base, labels, key) in series {
            if !self.admitted.contains_key(&key) {
                if self.admitted.len() >= self.max_series {
                    dropped.limit += 1;
                    dropped.refused.add(family);
                    continue;
                }
                self.admitted.insert(Arc::clone(&key), Last::Gauge);
            }
            let Some(last) = self.admitted.get_mut(&key) else {
                continue;
            };
            let mut push = |stat: Option<&str>, value: f64| {
                if !value.is_finite() {
                    return;
                }
                let signal = match stat {
                    Some(stat) => format!("{base}.{stat}{labels}"),
                    None => format!("{base}{labels}"),
                };
                out.push(Sample {
                    signal: signal.into(),
                    ts_ms,
                    value,
                });
            };
            match (&sample.value, kind) {
                (Value::Gauge(v) | Value::Untyped(v), Kind::Gauge) => {
                    *last = Last::Gauge;
                    push(None, *v);
                }
                (Value::Counter(v) | Value::Untyped(v), Kind::Counter | Kind::Count) => {
                    if let (Last::Counter(prev), Some(dt)) = (&*last, elapsed_s) {
                        push(Some("per_s"), increase(*prev, *v) / dt);
                    }
                    *last = if v.is_finite() {
                        Last::Counter(*v)
                    } else {
                        Last::Gauge
                    };
                }
                (Value::Histogram(buckets), Kind::Histogram) => {
                    let Some(now) = cumulative(buckets.iter().map(|b| (b.less_than, b.count)))
                    else {
                        *last = Last::Gauge;
                        continue;
                    };
                    if let (Last::Histogram(prev), Some(dt)) = (&*last, elapsed_s) {
                        let delta = bucket_delta(prev, &now);
                        let total = delta.last().map_or(0.0, |b| b.1);
                        push(Some("per_s"), total / dt);
                        if total > 0.0 {
                            for q in [0.5, 0.99] {
                                if let Some(v) = histogram_quantile(q, &delta) {
                                    push(Some(&quantile_name(q)), v);
                                }
                            }
                        }
                    }
                    *last = Last::Histogram(now);
                }
                (Value::Summary(quantiles), Kind::Summary) => {
                    for q in quantiles {
                        if q.quantile.is_finite() {
                            push(Some(&quantile_name(q.quantile)), q.count);
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
    Summary,
    /// A summary's `_count`.
    Count,
}

/// The increase of a counter from `prev` to `now`; a counter that went down was reset, and
/// counts `now` since (as PromQL's `rate` does). Never negative.
fn increase(prev: f64, now: f64) -> f64 {
    if now >= prev {
        now - prev
    } else {
        now.max(0.0)
    }
}

/// Buckets sorted by upper bound, ending with `+Inf`; `None` when that bucket is missing or a
/// value is not a number.
fn cumulative(buckets: impl Iterator<Item = (f64, f64)>) -> Option<Vec<(f64, f64)>> {
    let mut b: Vec<(f64, f64)> = buckets.collect();
    if b.iter().any(|(le, c)| le.is_nan() || !c.is_finite()) {
        return None;
    }
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    b.dedup_by(|x, y| x.0 == y.0);
    (b.last()?.0 == f64::INFINITY).then_some(b)
}

/// The observations of the interval per bucket (still cumulative). When the bounds changed or
/// any bucket went down, the histogram was reset: its counts are the interval's.
fn bucket_delta(prev: &[(f64, f64)], now: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let same_bounds = prev.len() == now.len() && prev.iter().zip(now).all(|(p, n)| p.0 == n.0);
    if !same_bounds || prev.iter().zip(now).any(|(p, n)| n.1 < p.1) {
        return now.to_vec();
    }
    prev.iter()
        .zip(now)
        .map(|(p, n)| (n.0, n.1 - p.1))
        .collect()
}

/// The q-quantile of cumulative buckets ending with `+Inf`, interpolated linearly within the
/// bucket that holds it, as PromQL's `histogram_quantile`: in the `+Inf` bucket it is the
/// highest finite bound; in the first bucket the lower bound is 0 (unless that bound is not
/// positive).
pub(crate) fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || buckets.len() < 2 {
        return None;
    }
    // Counts that go down between bounds (a racy exposition) are evened out.
    let mut fixed = Vec::with_capacity(buckets.len());
    let mut running = 0.0f64;
    for &(le, c) in buckets {
        running = running.max(c);
        fixed.push((le, running));
    }
    let total = fixed.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let b = fixed.iter().position(|(_, c)| *c >= rank)?;
    if b == fixed.len() - 1 {
        return Some(fixed[b - 1].0);
    }
    let (end, count_end) = fixed[b];
    if b == 0 && end <= 0.0 {
        return Some(end);
    }
    let (start, count_start) = if b == 0 { (0.0, 0.0) } else { fixed[b - 1] };
    let in_bucket = count_end - count_start;
    if in_bucket <= 0.0 {
        return Some(end);
    }
    Some(start + (end - start) * (rank - count_start) / in_bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Scrape {
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
    }

    fn values(samples: &[Sample]) -> HashMap<String, f64> {
        samples
            .iter()
            .map(|s| (s.signal.to_string(), s.value))
            .collect()
    }

    #[test]
    fn quantiles_interpolate_like_promql() {
        // 10 observations ≤ 0.1, 80 in (0.1, 0.5], 10 in (0.5, 1].
        let b = [
            (0.1, 10.0),
            (0.5, 90.0),
            (1.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert_eq!(histogram_quantile(0.5, &b), Some(0.1 + 0.4 * 40.0 / 80.0));
        assert!((histogram_quantile(0.99, &b).unwrap() - (0.5 + 0.5 * 9.0 / 10.0)).abs() < 1e-12);
        assert_eq!(histogram_quantile(0.05, &b), Some(0.05));
        // In the +Inf bucket: the highest finite bound.
        let tail = [(1.0, 1.0), (f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.99, &tail), Some(1.0));
        assert_eq!(
            histogram_quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(histogram_quantile(0.5, &[(f64::INFINITY, 3.0)]), None);
        // Non-monotonic counts are evened out rather than giving nonsense.
        let racy = [(0.1, 10.0), (0.5, 8.0), (f64::INFINITY, 20.0)];
        assert_eq!(histogram_quantile(0.5, &racy), Some(0.1));
    }

    #[test]
    fn counters_become_rates_and_resets_are_never_negative() {
        let mut s = Series::new("app", 100, SeriesFilter::default());
        let mut d = Dropped::default();
        let text = |n: f64| format!("# TYPE reqs_total counter\nreqs_total{{code=\"200\"}} {n}\n");
        assert!(s.convert(&parse(&text(100.0)), 0, &mut d).is_empty());
        let v = values(&s.convert(&parse(&text(150.0)), 2_000, &mut d));
        assert_eq!(v["scrape.app.reqs_total.per_s.code_200"], 25.0);
        // Reset: the counter restarted from 0 and is at 10 now.
        let v = values(&s.convert(&parse(&text(10.0)), 4_000, &mut d));
        assert_eq!(v["scrape.app.reqs_total.per_s.code_200"], 5.0);
        assert_eq!(d, Dropped::default());
    }

    #[test]
    fn histograms_give_interval_quantiles_and_rate() {
        let mut s = Series::new("app", 100, SeriesFilter::default());
        let mut d = Dropped::default();
        let text = |b: [u32; 4], sum: u32| {
            format!(
                "# TYPE lat histogram\nlat_bucket{{le=\"0.1\"}} {}\nlat_bucket{{le=\"0.5\"}} {}\nlat_bucket{{le=\"1\"}} {}\nlat_bucket{{le=\"+Inf\"}} {}\nlat_sum {sum}\nlat_count {}\n",
                b[0], b[1], b[2], b[3], b[3]
            )
        };
        assert!(s
            .convert(&parse(&text([5, 5, 5, 5], 1)), 0, &mut d)
            .is_empty());
        // The interval adds 10 ≤ 0.1, 80 in (0.1, 0.5], 10 in (0.5, 1].
        let v = values(&s.convert(&parse(&text([15, 95, 105, 105], 30)), 1_000, &mut d));
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v["scrape.app.lat.per_s"], 100.0);
        assert_eq!(v["scrape.app.lat.p50"], 0.1 + 0.4 * 40.0 / 80.0);
        assert!((v["scrape.app.lat.p99"] - 0.95).abs() < 1e-12);
        // No observations: a zero rate and no quantiles.
        let v = values(&s.convert(&parse(&text([15, 95, 105, 105], 30)), 2_000, &mut d));
        assert_eq!(v.len(), 1);
        assert_eq!(v["scrape.app.lat.per_s"], 0.0);
    }

    #[test]
    fn summaries_give_quantiles_and_a_rate() {
        let mut s = Series::new("app", 100, SeriesFilter::default());
        let mut d = Dropped::default();
        let text = |count: u32| {
            format!(
                "# TYPE rpc summary\nrpc{{quantile=\"0.5\"}} 0.2\nrpc{{quantile=\"0.99\"}} NaN\nrpc_sum 10\nrpc_count {count}\n# TYPE temp gauge\ntemp 21.5\n"
            )
        };
        let v = values(&s.convert(&parse(&text(10)), 0, &mut d));
        assert_eq!(v["scrape.app.rpc.p50"], 0.2);
        assert_eq!(v["scrape.app.temp"], 21.5);
        assert!(
            !v.contains_key("scrape.app.rpc.p99"),
            "NaN is skipped: {v:?}"
        );
        let v = values(&s.convert(&parse(&text(30)), 2_000, &mut d));
        assert_eq!(v["scrape.app.rpc.per_s"], 10.0);
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(d, Dropped::default());
    }

    #[test]
    fn the_series_cap_admits_in_name_order_and_keeps_its_choice() {
        let mut s = Series::new("app", 3, SeriesFilter::default());
        let mut d = Dropped::default();
        let all = "b 2\na 1\nd 4\nc 3\ne 5\n";
        let v = values(&s.convert(&parse(all), 0, &mut d));
        let mut names: Vec<&str> = v.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["scrape.app.a", "scrape.app.b", "scrape.app.c"]);
        assert_eq!(d.limit, 2);
        // `a` is gone: its place goes to the first refused series.
        let v = values(&s.convert(&parse("e 5\nd 4\nc 3\nb 2\n"), 1_000, &mut d));
        let mut names: Vec<&str> = v.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["scrape.app.b", "scrape.app.c", "scrape.app.d"]);
        assert_eq!(d.limit, 3);
        // Label values that only differ in unsafe characters would share a name: one is kept.
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let v = s.convert(&parse("x{p=\"/a\"} 1\nx{p=\"_a\"} 2\n"), 0, &mut d);
        assert_eq!(v.len(), 1);
        assert_eq!(d.duplicate, 1);
    }

    #[test]
    fn filters_apply_before_the_cap_and_refusals_are_counted_by_family() {
        let patterns = |p: &[&str]| {
            p.iter()
                .map(|t| seismo_config::SeriesPattern::new(t).unwrap())
                .collect()
        };
        let filter = SeriesFilter {
            include: patterns(&["app_*", "http_requests_total{code=5*}", "q_*", "z_*"]),
            exclude: patterns(&["app_debug_*", "*{path=\"/a,*\"}"]),
        };
        let mut s = Series::new("t", 3, filter);
        let mut d = Dropped::default();
        let text = "# TYPE http_requests_total counter\n\
                    http_requests_total{code=\"200\"} 1\nhttp_requests_total{code=\"503\"} 1\n\
                    go_goroutines 7\napp_debug_x 1\napp_level{path=\"/a%2Cb\"} 1\napp_level 2\n\
                    q_depth{q=\"1\"} 1\nq_depth{q=\"2\"} 1\nq_depth{q=\"3\"} 1\nz_x 1\n\
                    # TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 1\nlat_count 1\nlat_sum 1\n";
        let v = values(&s.convert(&parse(text), 0, &mut d));
        let mut names: Vec<&str> = v.keys().map(String::as_str).collect();
        names.sort_unstable();
        // Excluded: code 200, go_*, app_debug_*, the label value (decoded) /a,b, the histogram.
        assert_eq!(d.excluded, 5);
        // Admitted in name order: app_level, http_requests_total 503 (a counter: no value
        // yet), q_depth 1; refused: q_depth 2 and 3, z_x.
        assert_eq!(names, ["scrape.t.app_level", "scrape.t.q_depth.q_1"]);
        assert_eq!(d.limit, 3);
        assert_eq!(d.refused.top(), [("q_depth".into(), 2), ("z_x".into(), 1)]);
        let mut d = Dropped::default();
        let v = values(&s.convert(&parse(text), 1_000, &mut d));
        assert!(
            v.contains_key("scrape.t.http_requests_total.per_s.code_503"),
            "{v:?}"
        );
        assert!(
            !v.keys()
                .any(|k| k.contains("code_200") || k.contains("go_")),
            "{v:?}"
        );
    }

    #[test]
    fn garbage_parses_to_nothing_without_panicking() {
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let mut d = Dropped::default();
        for text in [
            "\u{0}\u{1}garbage{{{ \n}}} 1 2 3\n",
            "# TYPE x histogram\nx_bucket{le=\"abc\"} 1\nx_bucket 3\n",
            "# TYPE y summary\ny{quantile=\"x\"} 1\n",
            "a{b=\"c\",=} 1 999999999999999999999\n",
            "<html><body>Not Found</body></html>",
        ] {
            let _ = s.convert(&parse(text), 0, &mut d);
        }
    }
}
