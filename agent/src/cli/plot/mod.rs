//! Charts of a scored series as SVG, for `replay --plot` and `backtest --plot-dir`.
//!
//! One chart per series: a header with the title, a subtitle and the legend; a value panel
//! with the series, its expected range (shaded) and markers (alerts, detections); below it the
//! anomaly score (0..1) with the threshold line; labelled windows shaded across both panels.
//! Drawn with plotters' SVG backend, which writes text as `<text>` elements: no font files are
//! read. Long series are thinned to at most two points per pixel column ([`downsample`]), so
//! the file size is bounded by the chart's width, not the series' length.

mod downsample;
mod time_axis;

use std::path::Path;

use anyhow::Context;
use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use downsample::Columns;

/// The colours of the chart, public so that tests can find each element by its colour.
pub mod palette {
    /// An sRGB colour.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Colour(pub u8, pub u8, pub u8);

    impl Colour {
        /// As the SVG writes it: `#RRGGBB`, upper case.
        pub fn hex(self) -> String {
            format!("#{:02X}{:02X}{:02X}", self.0, self.1, self.2)
        }
    }

    /// The series' values (line).
    pub const VALUE: Colour = Colour(0x1F, 0x77, 0xB4);
    /// The expected range (filled polygons).
    pub const EXPECTED: Colour = Colour(0x9E, 0xCA, 0xE1);
    /// The anomaly score (line, lower panel).
    pub const SCORE: Colour = Colour(0xFF, 0x7F, 0x0E);
    /// The detection threshold (line, lower panel).
    pub const THRESHOLD: Colour = Colour(0x59, 0x59, 0x59);
    /// A labelled anomaly window (filled rectangles, one per panel).
    pub const WINDOW: Colour = Colour(0xFF, 0xB0, 0x00);
    /// An alert fired (triangles) or, in a backtest, a detection outside every window.
    pub const FIRED: Colour = Colour(0xD6, 0x27, 0x28);
    /// An alert resolved (circles) or, in a backtest, a detection inside a window (triangles).
    pub const RESOLVED: Colour = Colour(0x2C, 0xA0, 0x2C);
}

use palette::Colour;

impl From<Colour> for RGBColor {
    fn from(c: Colour) -> Self {
        RGBColor(c.0, c.1, c.2)
    }
}

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 720;
const HEADER: u32 = 96;
const FONT: &str = "sans-serif";

/// What a marker stands for: its shape, colour and legend text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkerKind {
    /// Replay: the alert lifecycle fired (or re-sent) an alert at this row.
    AlertFired,
    /// Replay: the alert resolved at this row.
    AlertResolved,
    /// Backtest: a score at or above the threshold inside a labelled window.
    DetectionInWindow,
    /// Backtest: a score at or above the threshold outside every window.
    DetectionOutside,
}

impl MarkerKind {
    fn colour(self) -> Colour {
        match self {
            MarkerKind::AlertFired | MarkerKind::DetectionOutside => palette::FIRED,
            MarkerKind::AlertResolved | MarkerKind::DetectionInWindow => palette::RESOLVED,
        }
    }

    fn label(self) -> &'static str {
        match self {
            MarkerKind::AlertFired => "alert fired",
            MarkerKind::AlertResolved => "alert resolved",
            MarkerKind::DetectionInWindow => "detection in a window",
            MarkerKind::DetectionOutside => "detection outside the windows",
        }
    }

    fn is_circle(self) -> bool {
        self == MarkerKind::AlertResolved
    }
}

/// Rows of one kind of marker, in row order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Markers {
    pub kind: MarkerKind,
    pub rows: Vec<usize>,
}

/// One chart: the series, what its detector made of it, and what to mark.
#[derive(Debug, Clone)]
pub(crate) struct Chart<'a> {
    pub title: String,
    pub subtitle: String,
    /// The values' unit, for the value axis.
    pub unit: crate::unit::Unit,
    /// Unix ms per row, in file order (not necessarily sorted).
    pub ts_ms: &'a [i64],
    pub values: &'a [f64],
    /// The expected range per row (low, high; non-finite where there is none); `None` when
    /// the scores came without one (a backtest reads only scores).
    pub expected: Option<(&'a [f64], &'a [f64])>,
    /// The anomaly score per row; NaN where the point was not scored (warm-up).
    pub scores: &'a [f64],
    pub threshold: f64,
    pub markers: Vec<Markers>,
    /// Labelled windows as inclusive row ranges.
    pub windows: Vec<(usize, usize)>,
}

/// Renders `chart` and writes it to `path` through a temporary file renamed into place, so the
/// file is complete or absent. Returns the size written.
pub(crate) fn write(chart: &Chart<'_>, path: &Path) -> anyhow::Result<usize> {
    let svg = render(chart).with_context(|| format!("cannot draw {}", path.display()))?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        anyhow::bail!(
            "cannot write {}: the folder {} does not exist",
            path.display(),
            folder.display()
        );
    }
    // A chart is for reading: 0666 less the umask, as any file a command writes, not the
    // temporary file's 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".seismo-plot-")
        .suffix(".svg")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(folder)
        .map_err(|e| {
            // tempfile names its random file in the error: say what the user can act on.
            anyhow::anyhow!(
                "cannot write {}: cannot create a file in {}: {}",
                path.display(),
                folder.display(),
                std::io::Error::from(e.kind())
            )
        })?;
    use std::io::Write as _;
    tmp.write_all(svg.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(svg.len())
}

/// The chart as an SVG document.
pub(crate) fn render(chart: &Chart<'_>) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(chart, &root)?;
        root.present()?;
    }
    Ok(svg)
}

/// The x span: first and last instant, widened when there is only one.
fn time_span(ts: &[i64]) -> (i64, i64) {
    let t0 = ts.iter().copied().min().unwrap_or(0);
    let t1 = ts.iter().copied().max().unwrap_or(0);
    if t1 > t0 {
        (t0, t1)
    } else {
        (t0.saturating_sub(30_000), t1.saturating_add(30_000))
    }
}

/// The value axis: the finite values' range, widened by the expected range up to one value
/// span either way (a detector's range can be far wider than the data), padded by 5%.
fn value_span(values: &[f64], expected: Option<(&[f64], &[f64])>) -> (f64, f64) {
    let finite = |v: &&f64| v.is_finite();
    let lo = values
        .iter()
        .filter(finite)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let hi = values
        .iter()
        .filter(finite)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
    let span = if hi > lo {
        hi - lo
    } else if lo != 0.0 {
        lo.abs() * 0.1
    } else {
        1.0
    };
    let (mut y0, mut y1) = (lo, hi);
    if let Some((low, high)) = expected {
        let band_lo = low.iter().filter(finite).copied().fold(lo, f64::min);
        let band_hi = high.iter().filter(finite).copied().fold(hi, f64::max);
        y0 = band_lo.max(lo - span);
        y1 = band_hi.min(hi + span);
    }
    let pad = (y1 - y0).max(span) * 0.05;
    (y0 - pad, y1 + pad)
}

/// `v` to three decimals without trailing zeros: `0.49`, `0.5`, `1`.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw(chart: &Chart<'_>, root: &Area<'_>) -> anyhow::Result<()> {
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(HEADER);
    let lower_height = (HEIGHT - HEADER) * 3 / 10;
    let (upper, lower) = body.split_vertically(HEIGHT - HEADER - lower_height);

    let (t0, t1) = time_span(chart.ts_ms);
    let (y0, y1) = value_span(chart.values, chart.expected);
    // Leave room for the labels: one per 150 px is readable with a date in it.
    let ticks = time_axis::ticks(t0, t1, (WIDTH / 150) as usize);
    let x_label = |t: &i64| ticks.label(*t).unwrap_or_default().to_string();
    let y_span = y1 - y0;
    let y_label = |v: &f64| chart.unit.axis(*v, y_span);
    let grid = BLACK.mix(0.12);

    let mut values = ChartBuilder::on(&upper)
        .margin_left(10)
        .margin_right(40)
        .margin_top(4)
        .y_label_area_size(80)
        .build_cartesian_2d((t0..t1).with_key_points(ticks.at.clone()), y0..y1)?;
    values
        .configure_mesh()
        .bold_line_style(grid)
        .light_line_style(TRANSPARENT)
        .y_labels(6)
        .y_label_formatter(&y_label)
        .y_desc("value")
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()?;

    let mut scores = ChartBuilder::on(&lower)
        .margin_left(10)
        .margin_right(40)
        .margin_top(8)
        .margin_bottom(6)
        .x_label_area_size(46)
        .y_label_area_size(80)
        .build_cartesian_2d((t0..t1).with_key_points(ticks.at.clone()), -0.02f64..1.02)?;
    scores
        .configure_mesh()
        .bold_line_style(grid)
        .light_line_style(TRANSPARENT)
        .y_labels(3)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .x_label_formatter(&x_label)
        .y_desc("anomaly score")
        .x_desc(format!(
            "time (UTC), {} to {}",
            time_axis::date_time(t0),
            time_axis::date_time(t1)
        ))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()?;

    let (width, _) = values.plotting_area().dim_in_pixel();
    let cols = Columns::new(t0, t1, width);
    // A window of one row still gets two pixels.
    let min_width = (t1 - t0) / i64::from(width.max(1)) * 2;
    let clamp = |v: f64| v.clamp(y0, y1);
    let ts = chart.ts_ms;
    let at = |row: usize| ts.get(row).copied().unwrap_or(t0);

    let window_style = RGBColor::from(palette::WINDOW).mix(0.3).filled();
    for &(first, last) in &chart.windows {
        let (a, b) = (at(first).min(at(last)), at(first).max(at(last)));
        let b = b.max(a + min_width).min(t1);
        values.draw_series(std::iter::once(Rectangle::new(
            [(a, y0), (b, y1)],
            window_style,
        )))?;
        scores.draw_series(std::iter::once(Rectangle::new(
            [(a, -0.02), (b, 1.02)],
            window_style,
        )))?;
    }

    if let Some((low, high)) = chart.expected {
        let style = RGBColor::from(palette::EXPECTED).mix(0.6).filled();
        for band in downsample::bands(ts, low, high, cols) {
            let upper_edge = band.iter().map(|&(t, _, h)| (t, clamp(h)));
            let lower_edge = band.iter().rev().map(|&(t, l, _)| (t, clamp(l)));
            let outline: Vec<(i64, f64)> = upper_edge.chain(lower_edge).collect();
            values.draw_series(std::iter::once(Polygon::new(outline, style)))?;
        }
    }

    let value_style = RGBColor::from(palette::VALUE).stroke_width(1);
    for line in downsample::lines(ts, chart.values, cols) {
        values.draw_series(LineSeries::new(line, value_style))?;
    }

    for markers in &chart.markers {
        let colour = RGBColor::from(markers.kind.colour()).filled();
        let rows: Vec<usize> = markers
            .rows
            .iter()
            .copied()
            .filter(|&r| chart.values.get(r).is_some_and(|v| v.is_finite()))
            .collect();
        for row in downsample::one_per_column(&rows, ts, cols) {
            let point = (at(row), clamp(chart.values[row]));
            if markers.kind.is_circle() {
                values.draw_series(std::iter::once(Circle::new(point, 4, colour)))?;
            } else {
                values.draw_series(std::iter::once(TriangleMarker::new(point, 7, colour)))?;
            }
        }
    }

    let score_style = RGBColor::from(palette::SCORE).stroke_width(1);
    let score_values: Vec<f64> = chart.scores.iter().map(|s| s.clamp(0.0, 1.0)).collect();
    for line in downsample::lines(ts, &score_values, cols) {
        scores.draw_series(LineSeries::new(line, score_style))?;
    }
    let threshold = chart.threshold.clamp(-0.02, 1.02);
    scores.draw_series(LineSeries::new(
        [(t0, threshold), (t1, threshold)],
        RGBColor::from(palette::THRESHOLD).stroke_width(1),
    ))?;

    draw_header(chart, &header)?;
    Ok(())
}

/// A legend entry's sample.
#[derive(Clone, Copy)]
enum Swatch {
    Line(Colour),
    Fill(Colour, f64),
    Triangle(Colour),
    Circle(Colour),
}

/// Title, subtitle and the legend in one row: the legend never hides data.
fn draw_header(chart: &Chart<'_>, header: &Area<'_>) -> anyhow::Result<()> {
    let left = 90;
    header.draw(&Text::new(
        chart.title.clone(),
        (left, 10),
        (FONT, 20).into_font().style(FontStyle::Bold).color(&BLACK),
    ))?;
    header.draw(&Text::new(
        chart.subtitle.clone(),
        (left, 38),
        (FONT, 14).into_font().color(&BLACK.mix(0.75)),
    ))?;

    let mut entries: Vec<(Swatch, String)> = vec![(Swatch::Line(palette::VALUE), "value".into())];
    if chart.expected.is_some() {
        entries.push((
            Swatch::Fill(palette::EXPECTED, 0.6),
            "expected range".into(),
        ));
    }
    if !chart.windows.is_empty() {
        entries.push((
            Swatch::Fill(palette::WINDOW, 0.3),
            format!("labelled window ({})", chart.windows.len()),
        ));
    }
    for m in &chart.markers {
        let swatch = if m.kind.is_circle() {
            Swatch::Circle(m.kind.colour())
        } else {
            Swatch::Triangle(m.kind.colour())
        };
        entries.push((swatch, format!("{} ({})", m.kind.label(), m.rows.len())));
    }
    entries.push((Swatch::Line(palette::SCORE), "anomaly score".into()));
    entries.push((
        Swatch::Line(palette::THRESHOLD),
        format!("threshold {}", short(chart.threshold)),
    ));

    let (y, mut x) = (74, left);
    let label_style = TextStyle::from((FONT, 13).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (swatch, label) in entries {
        match swatch {
            Swatch::Line(c) => header.draw(&PathElement::new(
                vec![(x, y), (x + 20, y)],
                RGBColor::from(c).stroke_width(2),
            ))?,
            Swatch::Fill(c, alpha) => header.draw(&Rectangle::new(
                [(x, y - 6), (x + 20, y + 6)],
                RGBColor::from(c).mix(alpha).filled(),
            ))?,
            Swatch::Triangle(c) => header.draw(&TriangleMarker::new(
                (x + 10, y),
                7,
                RGBColor::from(c).filled(),
            ))?,
            Swatch::Circle(c) => {
                header.draw(&Circle::new((x + 10, y), 4, RGBColor::from(c).filled()))?
            }
        }
        // About 6.5 px per character at 13 px: a guess, as the SVG's reader picks the font.
        let width = i32::try_from(label.chars().count() * 13 / 2).unwrap_or(i32::MAX / 2);
        header.draw(&Text::new(label, (x + 26, y), label_style.clone()))?;
        x = x.saturating_add(26 + width + 18);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_reads_short() {
        assert_eq!(short(0.489_755_884_917), "0.49");
        assert_eq!(short(1.0), "1");
        assert_eq!(short(0.5), "0.5");
    }

    #[test]
    fn the_value_axis_follows_the_data_not_a_runaway_band() {
        let values = [10.0, 20.0];
        let low = [0.0, -1e9];
        let high = [25.0, 1e9];
        let (y0, y1) = value_span(&values, Some((&low, &high)));
        // Band reaches below to 0 (inside one span) and above to 30 (capped at one span).
        assert!((y0 - (0.0 - 1.5)).abs() < 1e-9, "{y0}");
        assert!((y1 - (30.0 + 1.5)).abs() < 1e-9, "{y1}");
        assert_eq!(value_span(&[f64::NAN], None), (-0.05, 1.05));
        let (a, b) = value_span(&[5.0, 5.0], None);
        assert!(a < 5.0 && b > 5.0);
    }
}
