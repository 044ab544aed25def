//! Scraped series into signals, with what is remembered between scrapes: counters become
//! per-second rates (a counter that went down was reset: its value is the increase since),
//! gauges stay, histograms give p50, p99 and the observation rate of the interval (from the
//! delta of their cumulative buckets, interpolated as PromQL's `histogram_quantile` does),
//! summaries give their quantiles and observation rate. At most `max_series` series are
//! admitted; once admitted, a series keeps its place until it is absent from a scrape.
//!
//! An admitted series keeps its signal names (`Arc<str>`), made once: every later sample
//! shares them (and so does the pipeline's map of detectors), so a scrape of known series
//! allocates no name; its key is built in a reused buffer to find the series.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prometheus_parse::{Scrape, Value};

use seismo_config::SeriesFilter;

use super::labels::decode;
use super::names::{push_label_suffix, push_safe, quantile_name};
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

/// What a signal of a series stands for besides its own value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stat {
    PerS,
    /// A quantile, by the bits of its `f64`.
    Quantile(u64),
}

impl Stat {
    fn name(self) -> String {
        match self {
            Stat::PerS => "per_s".to_owned(),
            Stat::Quantile(bits) => quantile_name(f64::from_bits(bits)),
        }
    }
}

/// An admitted series between scrapes.
#[derive(Debug)]
struct Admitted {
    /// Its key: `scrape.{source}.{metric}{labels}` (the name of a gauge's signal), with
    /// `#count` after a summary's count.
    key: Arc<str>,
    /// Where the base name ends in `key`: a stat's name goes there.
    base_len: usize,
    last: Last,
    /// The last scrape it was in (duplicates of a scrape find it taken).
    seen: u64,
    /// Its signals other than `key`, made on first use.
    names: Vec<(Stat, Arc<str>)>,
}

impl Admitted {
    fn new(key: Arc<str>, base_len: usize) -> Self {
        Self {
            key,
            base_len,
            last: Last::Gauge,
            seen: 0,
            names: Vec::new(),
        }
    }

    /// The signal of `stat` (`None`: the series' own value).
    fn signal(&mut self, stat: Option<Stat>) -> Arc<str> {
        let Some(stat) = stat else {
            return Arc::clone(&self.key);
        };
        if let Some((_, name)) = self.names.iter().find(|(s, _)| *s == stat) {
            return Arc::clone(name);
        }
        // `#` is never part of a base name or label suffix (see `push_safe`).
        let key: &str = &self.key;
        let key = key.strip_suffix("#count").unwrap_or(key);
        let (base, labels) = key.split_at(self.base_len);
        let name: Arc<str> = format!("{base}.{}{labels}", stat.name()).into();
        // Exactly one more: most series have one or two such names.
        self.names.reserve_exact(1);
        self.names.push((stat, Arc::clone(&name)));
        name
    }

    /// Turns this scrape's `sample` into signal values (none for a counter's first scrape).
    fn emit(
        &mut self,
        sample: &prometheus_parse::Sample,
        kind: Kind,
        ts_ms: i64,
        elapsed_s: Option<f64>,
        out: &mut Vec<Sample>,
    ) {
        let mut push = |this: &mut Self, stat: Option<Stat>, value: f64| {
            if value.is_finite() {
                out.push(Sample {
                    signal: this.signal(stat),
                    ts_ms,
                    value,
                });
            }
        };
        match (&sample.value, kind) {
            (Value::Gauge(v) | Value::Untyped(v), Kind::Gauge) => {
                self.last = Last::Gauge;
                push(self, None, *v);
            }
            (Value::Counter(v) | Value::Untyped(v), Kind::Counter | Kind::Count) => {
                if let (Last::Counter(prev), Some(dt)) = (&self.last, elapsed_s) {
                    let rate = increase(*prev, *v) / dt;
                    push(self, Some(Stat::PerS), rate);
                }
                self.last = if v.is_finite() {
                    Last::Counter(*v)
                } else {
                    Last::Gauge
                };
            }
            (Value::Histogram(buckets), Kind::Histogram) => {
                let Some(now) = cumulative(buckets.iter().map(|b| (b.less_than, b.count))) else {
                    self.last = Last::Gauge;
                    return;
                };
                if let (Last::Histogram(prev), Some(dt)) = (&self.last, elapsed_s) {
                    let delta = bucket_delta(prev, &now);
                    let total = delta.last().map_or(0.0, |b| b.1);
                    push(self, Some(Stat::PerS), total / dt);
                    if total > 0.0 {
                        for q in [0.5f64, 0.99] {
                            if let Some(v) = histogram_quantile(q, &delta) {
                                push(self, Some(Stat::Quantile(q.to_bits())), v);
                            }
                        }
                    }
                }
                self.last = Last::Histogram(now);
            }
            (Value::Summary(quantiles), Kind::Summary) => {
                for q in quantiles {
                    if q.quantile.is_finite() {
                        push(self, Some(Stat::Quantile(q.quantile.to_bits())), q.count);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Series of one target, between scrapes.
pub(crate) struct Series {
    prefix: String,
    max_series: usize,
    filter: SeriesFilter,
    /// Admitted series by key, with their state at the previous scrape.
    admitted: HashMap<Arc<str>, Admitted>,
    last_ts_ms: Option<i64>,
    /// Scrapes converted so far (what `Admitted::seen` counts in).
    scrapes: u64,
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
            scrapes: 0,
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
        self.scrapes += 1;
        let this_scrape = self.scrapes;
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

        let mut out = Vec::with_capacity(self.admitted.len() + 1);
        // The key of each sample is built here, and only a series not admitted yet gets a
        // key of its own.
        let mut key = String::new();
        let mut pairs = Vec::new();
        let mut fresh: Vec<(&prometheus_parse::Sample, &str, Kind, Arc<str>, usize)> = Vec::new();
        let mut fresh_keys: HashSet<Arc<str>> = HashSet::new();
        for sample in &scrape.samples {
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
            key.clear();
            key.push_str(&self.prefix);
            push_safe(&mut key, metric);
            let base_len = key.len();
            push_label_suffix(&mut key, &sample.labels, &mut pairs);
            // A summary's quantiles and its count share the label set: keep their keys apart.
            if kind == Kind::Count {
                key.push_str("#count");
            }
            // Series of the same name after the first (in the body's order) are duplicates.
            if let Some(series) = self.admitted.get_mut(key.as_str()) {
                if series.seen == this_scrape {
                    dropped.duplicate += 1;
                } else {
                    series.seen = this_scrape;
                    series.emit(sample, kind, ts_ms, elapsed_s, &mut out);
                }
                continue;
            }
            if fresh_keys.contains(key.as_str()) {
                dropped.duplicate += 1;
                continue;
            }
            let new_key: Arc<str> = key.as_str().into();
            fresh_keys.insert(Arc::clone(&new_key));
            fresh.push((sample, metric, kind, new_key, base_len));
        }
        // Series absent from this scrape give up their place (and their baseline) first.
        self.admitted.retain(|_, s| s.seen == this_scrape);
        // New series in name order, so which ones the cap admits does not depend on the
        // body's order.
        fresh.sort_by(|a, b| a.3.cmp(&b.3));
        for (sample, family, kind, key, base_len) in fresh {
            if self.admitted.len() >= self.max_series {
                dropped.limit += 1;
                dropped.refused.add(family);
                continue;
            }
            let mut series = Admitted::new(Arc::clone(&key), base_len);
            series.seen = this_scrape;
            series.emit(sample, kind, ts_ms, elapsed_s, &mut out);
            self.admitted.insert(key, series);
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
    fn known_series_reuse_their_signal_names() {
        let mut s = Series::new("app", 100, SeriesFilter::default());
        let mut d = Dropped::default();
        let text = |n: u32| {
            format!(
                "# TYPE reqs_total counter\nreqs_total{{code=\"200\"}} {n}\n\
                 # TYPE temp gauge\ntemp{{room=\"a/b\"}} {n}\n\
                 # TYPE lat histogram\nlat_bucket{{le=\"1\"}} {n}\nlat_bucket{{le=\"+Inf\"}} {n}\nlat_count {n}\nlat_sum 1\n\
                 # TYPE rpc summary\nrpc{{quantile=\"0.5\"}} 0.2\nrpc_sum 1\nrpc_count {n}\n"
            )
        };
        s.convert(&parse(&text(1)), 0, &mut d);
        let first = s.convert(&parse(&text(2)), 1_000, &mut d);
        let second = s.convert(&parse(&text(3)), 2_000, &mut d);
        let mut names: Vec<&str> = first.iter().map(|x| &*x.signal).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "scrape.app.lat.p50",
                "scrape.app.lat.p99",
                "scrape.app.lat.per_s",
                "scrape.app.reqs_total.per_s.code_200",
                "scrape.app.rpc.p50",
                "scrape.app.rpc.per_s",
                "scrape.app.temp.room_a_b",
            ]
        );
        // Every signal of a known series is the allocation made for it the first time (the
        // parser may give the series in another order).
        assert_eq!(first.len(), second.len());
        let made: HashMap<&str, &Arc<str>> =
            first.iter().map(|x| (&*x.signal, &x.signal)).collect();
        for b in &second {
            let a = made[&*b.signal];
            assert!(Arc::ptr_eq(a, &b.signal), "{} was made anew", b.signal);
        }
        assert_eq!(d, Dropped::default());
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
