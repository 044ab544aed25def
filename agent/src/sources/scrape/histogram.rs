//! A histogram's interval from its cumulative buckets, as PromQL reads one: the counter reset
//! rule, the buckets' delta and `histogram_quantile`. Each works in buffers the caller keeps,
//! so a known histogram's scrape allocates nothing.

/// The increase of a counter from `prev` to `now`; a counter that went down was reset, and
/// counts `now` since (as PromQL's `rate` does). Never negative.
pub(crate) fn increase(prev: f64, now: f64) -> f64 {
    if now >= prev {
        now - prev
    } else {
        now.max(0.0)
    }
}

/// Writes into `out` the buckets given as `(upper bound, count)` sorted by bound (the first of
/// equal bounds kept); false, with `out` unusable, when a bound is NaN, a count is not a
/// number, or the `+Inf` bucket is missing.
pub(crate) fn cumulative(
    sorted: impl Iterator<Item = (f64, f64)>,
    out: &mut Vec<(f64, f64)>,
) -> bool {
    out.clear();
    for (le, count) in sorted {
        if le.is_nan() || !count.is_finite() {
            return false;
        }
        if out.last().is_none_or(|l| l.0 != le) {
            out.push((le, count));
        }
    }
    out.last().is_some_and(|l| l.0 == f64::INFINITY)
}

/// Writes into `out` the observations of the interval per bucket (still cumulative). When
/// the bounds changed or any bucket went down, the histogram was reset: its counts are the
/// interval's.
pub(crate) fn bucket_delta(prev: &[(f64, f64)], now: &[(f64, f64)], out: &mut Vec<(f64, f64)>) {
    out.clear();
    let same_bounds = prev.len() == now.len() && prev.iter().zip(now).all(|(p, n)| p.0 == n.0);
    if !same_bounds || prev.iter().zip(now).any(|(p, n)| n.1 < p.1) {
        out.extend_from_slice(now);
        return;
    }
    out.extend(prev.iter().zip(now).map(|(p, n)| (n.0, n.1 - p.1)));
}

/// The q-quantile of cumulative buckets ending with `+Inf`, interpolated linearly within the
/// bucket that holds it, as PromQL's `histogram_quantile`: in the `+Inf` bucket it is the
/// highest finite bound; in the first bucket the lower bound is 0 (unless that bound is not
/// positive). Counts that go down between bounds (a racy exposition) are evened out.
pub(crate) fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || buckets.len() < 2 {
        return None;
    }
    let total = buckets.iter().fold(0.0f64, |m, b| m.max(b.1));
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    // The previous bucket's bound and (evened) count.
    let mut before = (0.0, 0.0);
    let mut running = 0.0f64;
    for (b, &(end, count)) in buckets.iter().enumerate() {
        running = running.max(count);
        if running < rank {
            before = (end, running);
            continue;
        }
        if b == buckets.len() - 1 {
            return Some(before.0);
        }
        if b == 0 && end <= 0.0 {
            return Some(end);
        }
        let (start, count_start) = before;
        let in_bucket = running - count_start;
        if in_bucket <= 0.0 {
            return Some(end);
        }
        return Some(start + (end - start) * (rank - count_start) / in_bucket);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // A first bound at or below 0 is the answer in the first bucket.
        assert_eq!(
            histogram_quantile(0.5, &[(-1.0, 5.0), (f64::INFINITY, 6.0)]),
            Some(-1.0)
        );
    }

    #[test]
    fn buckets_are_checked_sorted_and_their_delta_taken() {
        let mut now = Vec::new();
        assert!(cumulative(
            [(1.0, 3.0), (1.0, 9.0), (f64::INFINITY, 4.0)].into_iter(),
            &mut now
        ));
        assert_eq!(now, [(1.0, 3.0), (f64::INFINITY, 4.0)]);
        assert!(!cumulative([(1.0, 3.0)].into_iter(), &mut now));
        assert!(!cumulative(
            [(f64::NAN, 3.0), (f64::INFINITY, 4.0)].into_iter(),
            &mut now
        ));
        assert!(!cumulative(
            [(1.0, f64::NAN), (f64::INFINITY, 4.0)].into_iter(),
            &mut now
        ));
        let mut delta = Vec::new();
        bucket_delta(
            &[(1.0, 2.0), (f64::INFINITY, 3.0)],
            &[(1.0, 5.0), (f64::INFINITY, 9.0)],
            &mut delta,
        );
        assert_eq!(delta, [(1.0, 3.0), (f64::INFINITY, 6.0)]);
        // A bucket went down: reset, the counts are the interval's.
        bucket_delta(
            &[(1.0, 2.0), (f64::INFINITY, 3.0)],
            &[(1.0, 1.0), (f64::INFINITY, 9.0)],
            &mut delta,
        );
        assert_eq!(delta, [(1.0, 1.0), (f64::INFINITY, 9.0)]);
        assert_eq!(increase(10.0, 4.0), 4.0);
        assert_eq!(increase(10.0, 14.0), 4.0);
    }
}
