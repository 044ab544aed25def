//! `[[sources.scrape]]`: a Prometheus `/metrics` endpoint (text exposition format) scraped at
//! an interval, its series turned into signals.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::detectors::DetectorKind;
use crate::series_pattern::{SeriesFilter, SeriesPattern};
use crate::sink_fields::{self, http_url, HeaderRules};
use crate::values::{self, NameGlob};

/// One `[[sources.scrape]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeSourceConfig {
    /// Names the target in signals (`scrape.{name}.{metric}...`).
    #[serde(deserialize_with = "crate::files::source_name")]
    pub name: String,
    /// The endpoint, e.g. `http://127.0.0.1:8080/metrics` (https:// uses the system's roots).
    #[serde(deserialize_with = "url")]
    pub url: String,
    #[serde(
        default = "default_interval",
        deserialize_with = "values::sample_interval"
    )]
    pub interval: Duration,
    /// How long one scrape may take, connection included; shorter than `interval`. Default:
    /// the lesser of 10 s and half the interval.
    #[serde(default, deserialize_with = "timeout")]
    pub timeout: Option<Duration>,
    /// Series (a metric with one label set) turned into signals at most; further series are
    /// dropped and counted (`seismo_scrape_series_dropped_total`).
    #[serde(default = "default_max_series", deserialize_with = "max_series")]
    pub max_series: usize,
    /// Response bodies larger than this are refused (counted as `too_large`).
    #[serde(
        default = "default_max_body_bytes",
        deserialize_with = "max_body_bytes"
    )]
    pub max_body_bytes: usize,
    /// Extra request headers (an `authorization` token, say).
    #[serde(default, deserialize_with = "headers")]
    pub headers: BTreeMap<String, String>,
    /// Series patterns (see [`SeriesPattern`]): when any is given, only matching series are
    /// kept.
    #[serde(default, deserialize_with = "crate::series_pattern::pattern_list")]
    pub include: Vec<SeriesPattern>,
    /// Series patterns: matching series are never turned into signals (nor count against
    /// `max_series`).
    #[serde(default, deserialize_with = "crate::series_pattern::pattern_list")]
    pub exclude: Vec<SeriesPattern>,
    /// The detector kind of this target's signals (`scrape.{name}.*`), in place of
    /// `[detectors.defaults] kind`; `[[detectors.overrides]]` still win over it.
    #[serde(default)]
    pub detector: Option<DetectorKind>,
}

impl ScrapeSourceConfig {
    /// The effective per-scrape timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .unwrap_or_else(|| (self.interval / 2).min(Duration::from_secs(10)))
    }

    /// The target's `include` and `exclude` together.
    pub fn series_filter(&self) -> SeriesFilter {
        SeriesFilter {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }

    /// The glob of this target's signals, `scrape.{name}.*` (names are letters, digits, `_`
    /// and `-`, so nothing in them is a glob character).
    pub fn signals_glob(&self) -> Result<NameGlob, String> {
        NameGlob::new(&format!("scrape.{}.*", self.name))
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_max_series() -> usize {
    1000
}
fn default_max_body_bytes() -> usize {
    10 << 20
}

fn url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    http_url(
        &s,
        "http://127.0.0.1:8080/metrics",
        "http://127.0.0.1:8080/metrics",
    )
}

fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    values::duration_in(d, Duration::from_millis(100), Duration::from_secs(300)).map(Some)
}

fn bounded<'de, D: Deserializer<'de>>(
    d: D,
    min: i64,
    max: i64,
    eg: &str,
) -> Result<usize, D::Error> {
    let n = i64::deserialize(d)?;
    if !(min..=max).contains(&n) {
        return Err(de::Error::custom(format!(
            "{n} is out of range: write a whole number from {min} to {max}, such as {eg}"
        )));
    }
    usize::try_from(n).map_err(de::Error::custom)
}

fn max_series<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    bounded(d, 1, 100_000, "1000")
}

fn max_body_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    bounded(d, 1024, 256 << 20, "10485760")
}

/// Header names are HTTP tokens (kept lower-cased); values printable ASCII.
fn headers<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    sink_fields::headers(
        d,
        &HeaderRules {
            example: "authorization",
            reserved: |h| {
                matches!(
                    h,
                    "host" | "content-length" | "transfer-encoding" | "accept-encoding"
                )
            },
            setter: "the scraper",
        },
    )
}

/// Checks each table (the timeout fits in the interval) and refuses two targets with the
/// same name.
pub(crate) fn checked_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<ScrapeSourceConfig>, D::Error> {
    let check = |s: &ScrapeSourceConfig| {
        if s.timeout() >= s.interval {
            return Err(format!(
                "in [[sources.scrape]] `{}`, `timeout` ({}) is not shorter than `interval` ({}): make it shorter, so a hanging target cannot delay the next scrape",
                s.name,
                humantime::format_duration(s.timeout()),
                humantime::format_duration(s.interval)
            ));
        }
        Ok(())
    };
    values::named_list(
        d,
        |s: &ScrapeSourceConfig| &s.name,
        check,
        |n| {
            format!("two [[sources.scrape]] are named `{n}`: give each target a distinct name (it names its signals)")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::tests::refusal as err;

    #[test]
    fn targets_with_defaults_and_settings() {
        let c = parse(
            "[[sources.scrape]]\nname = \"app\"\nurl = \"http://127.0.0.1:8080/metrics\"\n\
             [[sources.scrape]]\nname = \"db\"\nurl = \"https://db.local:9187/metrics\"\ninterval = \"1s\"\ntimeout = \"800ms\"\nmax_series = 10\nmax_body_bytes = 4096\nheaders = { Authorization = \"Bearer x\" }\n",
            "t",
        )
        .unwrap();
        let s = &c.sources.scrape;
        assert_eq!(s[0].interval, Duration::from_secs(10));
        assert_eq!(s[0].timeout(), Duration::from_secs(5));
        assert_eq!((s[0].max_series, s[0].max_body_bytes), (1000, 10 << 20));
        assert_eq!(s[1].timeout(), Duration::from_millis(800));
        assert_eq!(s[1].headers["authorization"], "Bearer x");
        assert_eq!(s[1].max_series, 10);
    }

    #[test]
    fn bad_targets_are_explained() {
        let e = err("[[sources.scrape]]\nname = \"a\"\n");
        assert!(e.contains("missing required key `url`"), "{e}");
        let e = err("[[sources.scrape]]\nname = \"a\"\nurl = \"127.0.0.1:8080\"\n");
        assert!(
            e.contains("t.toml:3:") && e.contains("not an http:// or https:// URL"),
            "{e}"
        );
        let e = err("[[sources.scrape]]\nname = \"a\"\nurl = \"http://a\"\ninterval = \"2s\"\ntimeout = \"2s\"\n");
        assert!(e.contains("not shorter than `interval`"), "{e}");
        let e = err("[[sources.scrape]]\nname = \"a\"\nurl = \"http://a\"\nmax_series = 0\n");
        assert!(e.contains("from 1 to 100000"), "{e}");
        let e = err(
            "[[sources.scrape]]\nname = \"a\"\nurl = \"http://a\"\nheaders = { Host = \"x\" }\n",
        );
        assert!(e.contains("set by the scraper itself"), "{e}");
        let e = err("[[sources.scrape]]\nname = \"a\"\nurl = \"http://a\"\n[[sources.scrape]]\nname = \"a\"\nurl = \"http://b\"\n");
        assert!(e.contains("distinct name"), "{e}");
        let e = err("[[sources.scrape]]\nname = \"a\"\nurl = \"http://a\"\nmax_bodybytes = 1\n");
        assert!(e.contains("Did you mean `max_body_bytes`?"), "{e}");
    }
    #[test]
    fn filters_and_detector_parse_and_bad_patterns_are_located() {
        let c = parse(
            "[[sources.scrape]]\nname = \"app\"\nurl = \"http://a\"\ndetector = \"ewma\"\n\
             include = [\"app_*\", 'http_requests_total{code=\"5*\"}']\nexclude = [\"*{le=*}\"]\n\
             [[sources.scrape]]\nname = \"db\"\nurl = \"http://b\"\n\
             [[detectors.overrides]]\nsignals = [\"scrape.app.special*\"]\nkind = \"mad\"\n\
             [[detectors.overrides]]\nsignals = [\"scrape.app.*\"]\nthreshold = 0.7\n",
            "t",
        )
        .unwrap();
        let f = c.sources.scrape[0].series_filter();
        assert_eq!((f.include.len(), f.exclude.len()), (2, 1));
        assert!(f.keeps("http_requests_total", |l| (l == "code").then_some("503")));
        assert!(!f.keeps("app_x", |_| Some("0.5")));
        assert!(c.sources.scrape[1].series_filter().is_empty());
        // Defaults, then the target's kind, then the overrides in file order.
        let d = &c.detectors;
        let app = d.settings_for("scrape.app.queue").unwrap();
        assert_eq!(app.kind, DetectorKind::Ewma);
        assert_eq!(
            app.threshold,
            d.settings_for("scrape.app.up").unwrap().threshold
        );
        assert_eq!(
            d.settings_for("scrape.app.special_x").unwrap().kind,
            DetectorKind::Mad
        );
        assert_eq!(
            d.settings_for("scrape.db.queue").unwrap().kind,
            DetectorKind::Ensemble
        );
        assert_eq!(
            d.settings_for("scrape.app2.queue").unwrap().kind,
            DetectorKind::Ensemble
        );
        assert_eq!(
            d.settings_for("host.cpu.utilization").unwrap().kind,
            DetectorKind::Ensemble
        );
        // Changing the target's detector changes the detectors' configuration (a reload sees it).
        let other = parse(
            "[[sources.scrape]]\nname = \"app\"\nurl = \"http://a\"\ndetector = \"mad\"\n",
            "t",
        )
        .unwrap();
        let same = parse(
            "[[sources.scrape]]\nname = \"app\"\nurl = \"http://a\"\ndetector = \"ewma\"\n",
            "t",
        )
        .unwrap();
        assert_ne!(other.detectors, same.detectors);
    }

    #[test]
    fn bad_filters_and_detectors_are_explained_where_they_are() {
        let base = "[[sources.scrape]]\nname = \"a\"\nurl = \"http://a\"\n";
        let e = err(&format!("{base}exclude = [\"go_*\", \"x{{code=5*\"]\n"));
        assert!(
            e.contains("t.toml:4:") && e.contains("not closed with `}`"),
            "{e}"
        );
        let e = err(&format!("{base}include = [\"scrape.a.go_*\"]\n"));
        assert!(
            e.contains("t.toml:4:") && e.contains("not signal names"),
            "{e}"
        );
        let e = err(&format!("{base}include = [\"\"]\n"));
        assert!(e.contains("matches nothing"), "{e}");
        let e = err(&format!("{base}include = \"go_*\"\n"));
        assert!(e.contains("t.toml:4:") && e.contains("sequence"), "{e}");
        let many: Vec<String> = (0..1001).map(|i| format!("\"m{i}\"")).collect();
        let e = err(&format!("{base}exclude = [{}]\n", many.join(",")));
        assert!(e.contains("more than the 1000"), "{e}");
        let e = err(&format!("{base}detector = \"fast\"\n"));
        assert!(e.contains("t.toml:4:") && e.contains("ewma"), "{e}");
    }

    #[test]
    fn the_documented_example_parses() {
        let c = crate::tests::documented_example("[[sources.scrape]]");
        let s = &c.sources.scrape[0];
        assert_eq!(s.name, "app");
        assert_eq!(s.headers["authorization"], "Bearer token");
        assert_eq!((s.include.len(), s.exclude.len()), (2, 2));
        assert_eq!(s.detector, Some(DetectorKind::Ewma));
    }
}
