//! `seismo replay --plot` and `seismo backtest --plot-dir`, run as a user would on small files
//! written here; the charts are read back with an XML parser and their elements found by the
//! chart's palette (`seismo::cli::plot::palette`).

use std::fs;
use std::path::{Path, PathBuf};

use seismo::cli::plot::palette::{self, Colour};

mod common;
use common::{backtest, replay_nab, s, seismo, series, stamp, text};

/// A noisy level around 10.
fn noise(i: usize) -> f64 {
    10.0 + ((i * 7919) % 13) as f64 / 10.0
}

/// A chart read back: the elements that matter, with their attributes.
struct Svg {
    text: String,
}

impl Svg {
    fn read(path: &Path) -> Svg {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Well-formed XML with an <svg> root.
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        Svg { text }
    }

    fn doc(&self) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(&self.text).unwrap()
    }

    /// How many elements `tag` have the attribute `attr` set to `colour`.
    fn count(&self, tag: &str, attr: &str, colour: Colour) -> usize {
        let hex = colour.hex();
        self.doc()
            .descendants()
            .filter(|n| n.has_tag_name(tag) && n.attribute(attr) == Some(hex.as_str()))
            .count()
    }

    /// The points of every element `tag` with `attr` = `colour`.
    fn points(&self, tag: &str, attr: &str, colour: Colour) -> Vec<Vec<(f64, f64)>> {
        let hex = colour.hex();
        self.doc()
            .descendants()
            .filter(|n| n.has_tag_name(tag) && n.attribute(attr) == Some(hex.as_str()))
            .map(|n| {
                n.attribute("points")
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    /// The trimmed content of every `<text>`, with its x.
    fn texts(&self) -> Vec<(String, f64)> {
        self.doc()
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| {
                let x = n.attribute("x").unwrap_or("0").parse().unwrap();
                (n.text().unwrap_or_default().trim().to_string(), x)
            })
            .collect()
    }

    fn has_text(&self, wanted: &str) -> bool {
        self.texts().iter().any(|(t, _)| t == wanted)
    }

    /// The x of the `nth` (0-based) text equal to `wanted`.
    fn text_x(&self, wanted: &str, nth: usize) -> f64 {
        self.texts()
            .into_iter()
            .filter(|(t, _)| t == wanted)
            .nth(nth)
            .unwrap_or_else(|| panic!("no text `{wanted}` #{nth} in {:?}", self.texts()))
            .1
    }
}

#[test]
fn replay_plot_draws_values_band_score_alerts_time_axis_and_legend() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cpu.csv");
    // A noisy level with one unreadable value (row 150) and a jump to 90 for rows 300..=302
    // (2020-01-02 01:00 to 01:10).
    fs::write(
        &file,
        series(400, |i| match i {
            150 => "NaN".to_string(),
            300..=302 => "90".to_string(),
            _ => noise(i).to_string(),
        }),
    )
    .unwrap();
    // EWMA with a short warm-up: a detector whose behaviour on this input is plain.
    let config = dir.path().join("seismo.toml");
    fs::write(
        &config,
        "[[detectors.overrides]]\nsignals = [\"cpu\"]\nkind = \"ewma\"\nwarmup = 20\nthreshold = 0.6\n",
    )
    .unwrap();
    let svg = dir.path().join("cpu.svg");
    let out = seismo(&[
        "replay",
        s(&file),
        "--config",
        s(&config),
        "--plot",
        s(&svg),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The rows still go to stdout.
    assert_eq!(text(&out.stdout).lines().count(), 401);
    assert!(
        text(&out.stderr).contains("cpu.svg"),
        "{}",
        text(&out.stderr)
    );
    let chart = Svg::read(&svg);

    // Lines: the values in two pieces (the NaN splits them), the score in two (warm-up and the
    // skipped NaN leave gaps), the threshold; each also once in the legend.
    assert_eq!(chart.count("polyline", "stroke", palette::VALUE), 2 + 1);
    assert_eq!(chart.count("polyline", "stroke", palette::SCORE), 2 + 1);
    assert_eq!(chart.count("polyline", "stroke", palette::THRESHOLD), 1 + 1);
    // The expected range: one shaded polygon per stretch with a band (from the end of the
    // warm-up to the NaN, and after it); its legend sample is a rectangle.
    assert_eq!(chart.count("polygon", "fill", palette::EXPECTED), 2);
    assert_eq!(chart.count("rect", "fill", palette::EXPECTED), 1);
    // No windows in a replay.
    assert_eq!(chart.count("rect", "fill", palette::WINDOW), 0);

    // One alert fired (triangle) at the jump and resolved (circle) after it; plus the legend.
    let fired = chart.points("polygon", "fill", palette::FIRED);
    assert_eq!(fired.len(), 1 + 1, "{fired:?}");
    assert_eq!(chart.count("circle", "fill", palette::RESOLVED), 1 + 1);
    // The marker sits between the ticks of 2020-01-02 00:00 and 06:00 (the second `06:00`).
    let marker_x = fired
        .iter()
        .map(|p| p.iter().map(|(x, _)| x).sum::<f64>() / p.len() as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let (midnight, six) = (
        chart.text_x("2020-01-02 00:00", 0),
        chart.text_x("06:00", 1),
    );
    assert!(
        midnight < marker_x && marker_x < midnight + (six - midnight) / 6.0 * 1.5,
        "marker at {marker_x}, ticks at {midnight} and {six}"
    );

    // Time axis with dates, axis names, title, subtitle and legend.
    for wanted in [
        "2020-01-01 00:00",
        "06:00",
        "12:00",
        "18:00",
        "2020-01-02 00:00",
        "time (UTC), 2020-01-01 00:00:00 to 2020-01-02 09:15:00",
        "value",
        "anomaly score",
        "cpu.csv",
        "400 rows · signal cpu · detector ewma · 1 alert(s) fired",
        "expected range",
        "alert fired (1)",
        "alert resolved (1)",
        "threshold 0.6",
    ] {
        assert!(
            chart.has_text(wanted),
            "no `{wanted}` in {:?}",
            chart.texts()
        );
    }
}

#[test]
fn a_long_series_is_thinned_and_its_spike_survives() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.csv");
    // 30 s apart: 50,000 rows in 17 days of January.
    let n = 50_000;
    let mut rows = String::from("timestamp,value\n");
    for i in 0..n {
        let sec = i * 30;
        let value = if i == 31_337 { 1000.0 } else { noise(i) };
        rows.push_str(&format!(
            "2020-01-{:02} {:02}:{:02}:{:02},{value}\n",
            1 + sec / 86_400,
            (sec % 86_400) / 3600,
            (sec % 3600) / 60,
            sec % 60
        ));
    }
    fs::write(&file, rows).unwrap();
    let svg = dir.path().join("long.svg");
    let out = seismo(&["replay", s(&file), "--detector", "ewma", "--plot", s(&svg)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let chart = Svg::read(&svg);
    let size = fs::metadata(&svg).unwrap().len();
    assert!(size < 150_000, "{size} bytes for {n} rows");
    let lines = chart.points("polyline", "stroke", palette::VALUE);
    // The series and the legend sample; at most two points per pixel column of a 1200 px chart.
    assert_eq!(lines.len(), 2);
    let line = lines.iter().max_by_key(|l| l.len()).unwrap();
    assert!(line.len() <= 2 * 1200, "{} points", line.len());
    // The one-row spike is drawn at full height: far above the rest of the line.
    let mut ys: Vec<f64> = line.iter().map(|&(_, y)| y).collect();
    ys.sort_by(f64::total_cmp);
    assert!(ys[0] + 200.0 < ys[1], "{:?}", &ys[..3]);
}

/// Backtest fixtures: `data/sub/a.csv` with a level shift inside the first of its two windows,
/// `data/sub/b.csv` with a spike and no window; results from `replay --nab`.
fn backtest_fixture(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let data = dir.join("data");
    fs::create_dir_all(data.join("sub")).unwrap();
    fs::write(
        data.join("sub/a.csv"),
        series(300, |i| {
            if (200..=204).contains(&i) {
                "60".to_string()
            } else {
                noise(i).to_string()
            }
        }),
    )
    .unwrap();
    fs::write(
        data.join("sub/b.csv"),
        series(300, |i| {
            if i == 100 {
                "80".to_string()
            } else {
                noise(i).to_string()
            }
        }),
    )
    .unwrap();
    let windows = dir.join("windows.json");
    let w = |a: usize, b: usize| format!("[\"{}.000000\", \"{}.000000\"]", stamp(a), stamp(b));
    fs::write(
        &windows,
        format!(
            "{{\"sub/a.csv\": [{}, {}], \"sub/b.csv\": []}}",
            w(195, 210),
            w(250, 260)
        ),
    )
    .unwrap();
    let results = dir.join("results/det");
    let out = replay_nab(&data, &results, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (data, windows, results)
}

#[test]
fn backtest_plot_dir_draws_one_chart_per_file_with_windows_detections_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let (data, windows, results) = backtest_fixture(dir.path());
    // A folder that does not exist yet: created.
    let plots = dir.path().join("new/plots");
    let out = backtest(&data, &windows, &results, &["--plot-dir", s(&plots)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("plotted 2 of 2 files"),
        "{}",
        text(&out.stderr)
    );
    let mut written: Vec<String> = fs::read_dir(plots.join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["a.svg", "b.svg"]);

    let table = text(&out.stdout);
    for (name, windows) in [("a", 2), ("b", 0)] {
        // The file's standard row: Detector,Profile,File,Threshold,Score,...
        let row: Vec<&str> = table
            .lines()
            .find(|l| l.starts_with(&format!("det,standard,sub/{name}.csv,")))
            .unwrap()
            .split(',')
            .collect();
        let threshold: f64 = row[3].parse().unwrap();
        let score: f64 = row[4].parse().unwrap();
        let chart = Svg::read(&plots.join(format!("sub/{name}.svg")));
        let title = format!("sub/{name}.csv · NAB standard score {score:.3}");
        assert!(
            chart.has_text(&title),
            "no `{title}` in {:?}",
            chart.texts()
        );

        // Each window shaded in both panels, plus the legend sample.
        let shaded = chart.count("rect", "fill", palette::WINDOW);
        assert_eq!(
            shaded,
            if windows > 0 { 2 * windows + 1 } else { 0 },
            "{name}"
        );

        // Detections: the results' scores at or above the threshold, split by the windows
        // (a's first window covers rows 195..=210, its second 250..=260).
        let scores: Vec<f64> = fs::read_to_string(results.join(format!("sub/det_{name}.csv")))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
            .collect();
        let in_window =
            |row: usize| name == "a" && ((195..=210).contains(&row) || (250..=260).contains(&row));
        let detected: Vec<usize> = (0..scores.len())
            .filter(|&r| scores[r] >= threshold)
            .collect();
        let inside = detected.iter().filter(|&&r| in_window(r)).count();
        let outside = detected.len() - inside;
        assert!(inside + outside > 0, "{name}: nothing detected");
        // Triangles: green inside, red outside, each plus its legend sample.
        assert_eq!(
            chart.count("polygon", "fill", palette::RESOLVED),
            inside + 1,
            "{name}"
        );
        assert_eq!(
            chart.count("polygon", "fill", palette::FIRED),
            outside + 1,
            "{name}"
        );
        for wanted in [
            format!("detection in a window ({inside})"),
            format!("detection outside the windows ({outside})"),
            "value".to_string(),
            "anomaly score".to_string(),
        ] {
            assert!(chart.has_text(&wanted), "{name}: no `{wanted}`");
        }
        assert_eq!(
            chart.has_text(&format!("labelled window ({windows})")),
            windows > 0
        );
        // The results hold scores only: no expected range to draw.
        assert_eq!(chart.count("polygon", "fill", palette::EXPECTED), 0);
        assert!(!chart.has_text("expected range"));
    }
}

#[test]
fn plot_errors_say_what_was_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cpu.csv");
    fs::write(&file, series(50, |i| noise(i).to_string())).unwrap();

    // --plot into a folder that does not exist: exit 1, named, nothing written.
    let svg = dir.path().join("missing/cpu.svg");
    let out = seismo(&["replay", s(&file), "--plot", s(&svg)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot write {}: the folder {} does not exist",
            svg.display(),
            svg.parent().unwrap().display()
        )),
        "{stderr}"
    );
    assert!(!svg.parent().unwrap().exists());

    // --plot with --nab: bad usage.
    let out = seismo(&[
        "replay",
        "--nab",
        s(dir.path()),
        "--out",
        s(&dir.path().join("r/x")),
        "--plot",
        s(&dir.path().join("x.svg")),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // --plot-dir that is a file: the table is printed, then exit 1 naming the folder.
    let (data, windows, results) = backtest_fixture(&dir.path().join("bt"));
    let not_a_dir = dir.path().join("plots");
    fs::write(&not_a_dir, "").unwrap();
    let out = backtest(&data, &windows, &results, &["--plot-dir", s(&not_a_dir)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--plot-dir {}: cannot create the folder",
            not_a_dir.display()
        )),
        "{stderr}"
    );
    assert!(text(&out.stdout).starts_with("Detector,Profile,File"));
}

/// A NAB file (22,695 rows, one step back in time) plotted whole: with SEISMO_EVAL_DATA set it
/// must find the file; without it the test prints a notice and passes.
#[test]
fn nab_file_plots_within_bounds() {
    let Some(root) = std::env::var_os("SEISMO_EVAL_DATA") else {
        eprintln!("SEISMO_EVAL_DATA is not set: skipping the NAB plot test");
        return;
    };
    let file =
        PathBuf::from(root).join("nab/data/realKnownCause/machine_temperature_system_failure.csv");
    assert!(
        file.is_file(),
        "SEISMO_EVAL_DATA is set but {} is missing",
        file.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("machine_temperature.svg");
    let out = seismo(&["replay", s(&file), "--allow-unsorted", "--plot", s(&svg)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let chart = Svg::read(&svg);
    let size = fs::metadata(&svg).unwrap().len();
    eprintln!("{}: {size} bytes", svg.display());
    assert!(size < 200_000, "{size} bytes");
    assert!(chart.has_text("machine_temperature_system_failure.csv"));
    let points: usize = chart
        .points("polyline", "stroke", palette::VALUE)
        .iter()
        .map(Vec::len)
        .sum();
    // Two points per pixel column, and a few more where the file steps back in time.
    assert!(points <= 2 * 1200 + 16, "{points} points");
    assert!(chart.has_text("2014-01-02"), "{:?}", chart.texts());
}

#[test]
fn replay_plot_shades_the_labelled_windows_of_a_nab_layout_or_of_windows() {
    // NAB's layout: ROOT/data/CAT/F.csv beside ROOT/labels/combined_windows.json.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/realThings");
    fs::create_dir_all(&data).unwrap();
    fs::create_dir_all(dir.path().join("labels")).unwrap();
    let file = data.join("f.csv");
    fs::write(&file, series(400, |i| noise(i).to_string())).unwrap();
    let labels = dir.path().join("labels/combined_windows.json");
    fs::write(
        &labels,
        format!(
            "{{\"realThings/f.csv\": [[\"{}\", \"{}\"], [\"{}\", \"{}\"]]}}",
            stamp(100),
            stamp(120),
            stamp(300),
            stamp(310)
        ),
    )
    .unwrap();
    let shaded = |svg: &Path| Svg::read(svg).count("rect", "fill", palette::WINDOW);

    // Found from the layout: each window in both panels, plus the legend sample.
    let svg = dir.path().join("found.svg");
    let out = seismo(&["replay", s(&file), "--plot", s(&svg)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(shaded(&svg), 2 * 2 + 1);
    assert!(Svg::read(&svg).has_text("labelled window (2)"));

    // Given with --windows (keyed by the bare file name for a file outside NAB's layout).
    let alone = dir.path().join("g.csv");
    fs::copy(&file, &alone).unwrap();
    let other = dir.path().join("windows.json");
    fs::write(
        &other,
        format!("{{\"g.csv\": [[\"{}\", \"{}\"]]}}", stamp(50), stamp(60)),
    )
    .unwrap();
    let svg = dir.path().join("given.svg");
    let out = seismo(&[
        "replay",
        s(&alone),
        "--plot",
        s(&svg),
        "--windows",
        s(&other),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(shaded(&svg), 2 + 1);

    // No layout, no --windows: nothing shaded.
    let svg = dir.path().join("none.svg");
    let out = seismo(&["replay", s(&alone), "--plot", s(&svg)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(shaded(&svg), 0);

    // --windows without the file's entry: refused, saying which entry is missing.
    let svg = dir.path().join("missing.svg");
    let out = seismo(&[
        "replay",
        s(&file),
        "--plot",
        s(&svg),
        "--windows",
        s(&other),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no entry for `realThings/f.csv`"),
        "{}",
        text(&out.stderr)
    );
    // --windows needs --plot.
    let out = seismo(&["replay", s(&file), "--windows", s(&other)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// Distinct heights (whole pixels) of the expected band's upper edge right of `x_from`.
fn band_heights(chart: &Svg, x_from: f64) -> usize {
    let mut ys: Vec<i64> = chart
        .points("polygon", "fill", palette::EXPECTED)
        .into_iter()
        .flat_map(|outline| {
            // The upper edge is the first half of each outline.
            let half = outline.len() / 2;
            outline.into_iter().take(half).collect::<Vec<_>>()
        })
        .filter(|&(x, _)| x >= x_from)
        .map(|(_, y)| y.round() as i64)
        .collect();
    ys.sort_unstable();
    ys.dedup();
    ys.len()
}

#[test]
fn replay_plot_band_follows_the_seasonal_baseline_of_the_ensemble() {
    // Ten days of a daily rhythm at 5 minutes: the ensemble's own expected range (everything
    // seen) stops moving after the first days; its seasonal baseline rises and falls daily.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daily.csv");
    fs::write(
        &file,
        series(2880, |i| {
            let phase = std::f64::consts::TAU * i as f64 / 288.0;
            format!("{:.3}", 50.0 + 10.0 * phase.sin() + noise(i) - 10.6)
        }),
    )
    .unwrap();
    let svg = dir.path().join("daily.svg");
    let out = seismo(&["replay", s(&file), "--plot", s(&svg)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let chart = Svg::read(&svg);
    assert!(
        chart
            .texts()
            .iter()
            .any(|(t, _)| t.ends_with("band: seasonal baseline")),
        "{:?}",
        chart.texts()
    );
    // Right half of the chart: a band that follows the rhythm has many heights, the range of
    // everything seen a couple.
    let xs: Vec<f64> = chart
        .points("polyline", "stroke", palette::VALUE)
        .into_iter()
        .flatten()
        .map(|(x, _)| x)
        .collect();
    let (x0, x1) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let heights = band_heights(&chart, x0 + (x1 - x0) / 2.0);
    assert!(heights > 40, "{heights} heights");

    // Another detector kind keeps its own expected range, and says nothing of a baseline.
    let config = dir.path().join("seismo.toml");
    fs::write(
        &config,
        "[[detectors.overrides]]\nsignals = [\"daily\"]\nkind = \"mad\"\n",
    )
    .unwrap();
    let svg = dir.path().join("mad.svg");
    let out = seismo(&[
        "replay",
        s(&file),
        "--config",
        s(&config),
        "--plot",
        s(&svg),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!Svg::read(&svg)
        .texts()
        .iter()
        .any(|(t, _)| t.contains("seasonal baseline")));
}
