//! Thinning a long series to what a chart can show: at most a few points per pixel column.
//!
//! A line keeps, for each run of rows that fall in the same pixel column, the lowest and the
//! highest value in the order they occur (min/max decimation), so a one-row spike is drawn as
//! tall as it is; a band keeps the widest range of its column. Rows are taken in file order,
//! so a series that steps back in time is drawn as it was recorded.

use std::collections::HashSet;

/// Maps instants to the pixel columns of a plot `width` pixels wide spanning `t0..=t1`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns {
    t0: i64,
    span: i128,
    last: i128,
}

impl Columns {
    pub fn new(t0: i64, t1: i64, width: u32) -> Self {
        Columns {
            t0,
            span: i128::from(t1) - i128::from(t0),
            last: i128::from(width.max(1) - 1),
        }
    }

    /// The pixel column of `ts`.
    pub fn of(&self, ts: i64) -> i64 {
        if self.span <= 0 {
            return 0;
        }
        let col = (i128::from(ts) - i128::from(self.t0)) * self.last / self.span;
        // |col| <= width for instants inside the span; saturate for the others.
        i64::try_from(col).unwrap_or(if col < 0 { i64::MIN } else { i64::MAX })
    }
}

/// One point of a line: the instant and the value.
pub(crate) type Point = (i64, f64);

/// The rows of one pixel column run: where its extremes are.
struct Run {
    col: i64,
    min: (usize, Point),
    max: (usize, Point),
}

impl Run {
    fn new(col: i64, row: usize, p: Point) -> Self {
        Run {
            col,
            min: (row, p),
            max: (row, p),
        }
    }

    fn add(&mut self, row: usize, p: Point) {
        if p.1 < self.min.1 .1 {
            self.min = (row, p);
        }
        if p.1 > self.max.1 .1 {
            self.max = (row, p);
        }
    }

    fn emit(&self, line: &mut Vec<Point>) {
        let (a, b) = if self.min.0 <= self.max.0 {
            (self.min, self.max)
        } else {
            (self.max, self.min)
        };
        line.push(a.1);
        if b.0 != a.0 {
            line.push(b.1);
        }
    }
}

/// Polylines through the finite `values` (row `i` at `ts[i]`), at most two points per pixel
/// column run; a non-finite value ends a line.
pub(crate) fn lines(ts: &[i64], values: &[f64], cols: Columns) -> Vec<Vec<Point>> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut run: Option<Run> = None;
    for (row, (&t, &v)) in ts.iter().zip(values).enumerate() {
        if !v.is_finite() {
            if let Some(r) = run.take() {
                r.emit(&mut line);
            }
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            continue;
        }
        let col = cols.of(t);
        match &mut run {
            Some(r) if r.col == col => r.add(row, (t, v)),
            _ => {
                if let Some(r) = run.replace(Run::new(col, row, (t, v))) {
                    r.emit(&mut line);
                }
            }
        }
    }
    if let Some(r) = run {
        r.emit(&mut line);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// One point of a band: the instant, the low and the high edge.
pub(crate) type BandPoint = (i64, f64, f64);

/// Stretches of the band `low..=high` (row `i` at `ts[i]`): per pixel column run, the lowest
/// low and the highest high, at the run's first and last instant. A row without a finite
/// band (warm-up, skipped value) ends a stretch.
pub(crate) fn bands(ts: &[i64], low: &[f64], high: &[f64], cols: Columns) -> Vec<Vec<BandPoint>> {
    struct Span {
        col: i64,
        first: i64,
        last: i64,
        low: f64,
        high: f64,
    }
    fn emit(s: &Span, band: &mut Vec<BandPoint>) {
        band.push((s.first, s.low, s.high));
        if s.last != s.first {
            band.push((s.last, s.low, s.high));
        }
    }
    let mut out = Vec::new();
    let mut band = Vec::new();
    let mut span: Option<Span> = None;
    for ((&t, &lo), &hi) in ts.iter().zip(low).zip(high) {
        if !(lo.is_finite() && hi.is_finite()) {
            if let Some(s) = span.take() {
                emit(&s, &mut band);
            }
            if !band.is_empty() {
                out.push(std::mem::take(&mut band));
            }
            continue;
        }
        let col = cols.of(t);
        match &mut span {
            Some(s) if s.col == col => {
                s.last = t;
                s.low = s.low.min(lo);
                s.high = s.high.max(hi);
            }
            _ => {
                let next = Span {
                    col,
                    first: t,
                    last: t,
                    low: lo,
                    high: hi,
                };
                if let Some(s) = span.replace(next) {
                    emit(&s, &mut band);
                }
            }
        }
    }
    if let Some(s) = span {
        emit(&s, &mut band);
    }
    if !band.is_empty() {
        out.push(band);
    }
    out
}

/// The first of `rows` (indices into `ts`) in each pixel column: one marker per column is all
/// a reader can tell apart.
pub(crate) fn one_per_column(rows: &[usize], ts: &[i64], cols: Columns) -> Vec<usize> {
    let mut seen = HashSet::new();
    rows.iter()
        .copied()
        .filter(|&r| ts.get(r).is_some_and(|&t| seen.insert(cols.of(t))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spike_survives_and_the_points_are_bounded() {
        let n = 20_000;
        let ts: Vec<i64> = (0..n).map(|i| i * 300_000).collect();
        let mut values: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
        values[12_345] = 1000.0;
        let cols = Columns::new(ts[0], ts[n as usize - 1], 1000);
        let lines = lines(&ts, &values, cols);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].len() <= 2 * 1000, "{}", lines[0].len());
        assert!(lines[0].contains(&(ts[12_345], 1000.0)));
        // Points stay in row order.
        assert!(lines[0].windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn short_series_are_kept_whole_and_gaps_split_lines() {
        let ts = [0, 10, 20, 30, 40];
        let values = [1.0, 2.0, f64::NAN, 4.0, 5.0];
        let cols = Columns::new(0, 40, 1000);
        assert_eq!(
            lines(&ts, &values, cols),
            vec![vec![(0, 1.0), (10, 2.0)], vec![(30, 4.0), (40, 5.0)]]
        );
        let low = [f64::NAN, 1.0, 1.0, 0.5, 0.0];
        let high = [f64::NAN, 3.0, 3.5, 4.0, f64::INFINITY];
        assert_eq!(
            bands(&ts, &low, &high, cols),
            vec![vec![(10, 1.0, 3.0), (20, 1.0, 3.5), (30, 0.5, 4.0)]]
        );
    }

    #[test]
    fn bands_keep_the_widest_range_of_a_column() {
        let ts: Vec<i64> = (0..100).collect();
        let low: Vec<f64> = (0..100).map(|i| -(i as f64)).collect();
        let high: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let b = bands(&ts, &low, &high, Columns::new(0, 99, 2));
        assert_eq!(
            b,
            vec![vec![(0, -98.0, 98.0), (98, -98.0, 98.0), (99, -99.0, 99.0)]]
        );
    }

    #[test]
    fn markers_thin_to_one_per_column() {
        let ts: Vec<i64> = (0..100).collect();
        let rows: Vec<usize> = (0..100).collect();
        assert_eq!(one_per_column(&rows, &ts, Columns::new(0, 99, 4)).len(), 4);
        assert_eq!(
            one_per_column(&[5, 50], &ts, Columns::new(0, 99, 1000)),
            vec![5, 50]
        );
        assert_eq!(Columns::new(7, 7, 100).of(7), 0);
    }
}
