//! Per-source mining: each line is mined into a template, counted, and every `interval` the
//! source emits its signals, ranked by an exponentially decayed count so the set is stable.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_config::{FileSourceConfig, JournalSourceConfig, TemplateFilter};
use seismo_detectors::{split_header, LogFormat, MinerConfig, TemplateMiner, VariableForm};

use super::id_map::IdMap;
use super::template_budget::{Report, TemplateBudget};
use super::templates;
use crate::clock::now_ms;
use crate::event::Normal;
use crate::event::{Anomaly, K8sPod, LogEvidence, Range, Sample};
use crate::telemetry::stats::Stats;

/// Per interval, a template's ranking weight decays by this factor before its count is added.
const RANK_DECAY: f64 = 0.9;
/// Ranking weights below this are forgotten (bounded memory).
const RANK_FLOOR: f64 = 0.01;

/// One source's signals for one interval, for the pipeline.
#[derive(Debug)]
pub struct LogUpdate {
    pub source: String,
    pub samples: Vec<Sample>,
    /// Evidence to attach to alerts on these signals.
    pub evidence: HashMap<Arc<str>, Arc<LogEvidence>>,
    /// Templates first seen after warm-up: anomalies of their own.
    pub novel: Vec<(Anomaly, Arc<LogEvidence>)>,
    /// Later intervals of those templates: normal points that resolve their alerts.
    pub normals: Vec<(Arc<str>, Normal, Arc<LogEvidence>)>,
    /// History's intervals (see `history`): detectors learn them; nothing is scored or alerted.
    pub learn_only: bool,
}

/// Per template, within one interval.
#[derive(Default, Clone)]
pub(crate) struct Tally {
    pub(crate) count: u64,
    pub(crate) samples: Vec<String>,
    /// Per sample: its container stream, `-` when its record said none.
    pub(crate) streams: Vec<&'static str>,
    /// The Kubernetes pod of the first sample.
    k8s: Option<Arc<K8sPod>>,
}

/// Where a line comes from, besides its source: its container stream and pod, if known.
#[derive(Clone, Copy, Default)]
pub(crate) struct Origin<'a> {
    pub(crate) stream: Option<&'static str>,
    pub(crate) k8s: Option<&'a Arc<K8sPod>>,
}

impl Tally {
    fn add(&mut self, line: &str, origin: Origin) {
        self.count += 1;
        if self.samples.len() < LogEvidence::MAX_SAMPLES {
            if self.samples.is_empty() {
                self.k8s = origin.k8s.cloned();
            }
            self.samples.push(LogEvidence::sample(line));
            self.streams.push(origin.stream.unwrap_or("-"));
        }
    }
}

pub(crate) struct Source {
    pub(crate) name: String,
    pub(crate) format: Option<LogFormat>,
    pub(crate) error_pattern: regex::Regex,
    pub(crate) interval: Duration,
    pub(crate) top: usize,
    pub(crate) warmup: u64,
    /// Which templates may have signals of their own.
    pub(crate) budget: TemplateBudget,
    pub(crate) miner: TemplateMiner,
    pub(crate) miner_dirty: bool,
    pub(crate) miner_path: PathBuf,
    pub(crate) intervals: u64,
    pub(crate) next_emit: Instant,
    /// A reloaded `interval`, applied once the current interval closes.
    pub(crate) next_interval: Option<Duration>,
    // This interval:
    pub(crate) lines: u64,
    pub(crate) errors: u64,
    pub(crate) templates: IdMap<Tally>,
    pub(crate) error_templates: IdMap<Tally>,
    pub(crate) new_templates: Vec<u64>,
    // Across intervals:
    pub(crate) rank: HashMap<u64, f64>,
    /// Novel templates whose alert still needs normal intervals to resolve.
    pub(crate) resolving: HashMap<u64, u32>,
    /// Template state was loaded from disk: history is not read again for this source.
    pub(crate) restored: bool,
    /// History being learned (see `history`).
    pub(crate) history: Option<super::history_tally::History>,
}

/// A source's settings that the log stage applies (the tailer's are its own), built before
/// a reload applies anything so that nothing fails half-way.
#[derive(Clone)]
pub(crate) struct SourceSettings {
    pub(crate) format: Option<LogFormat>,
    pub(crate) error_pattern: regex::Regex,
    pub(crate) interval: Duration,
    pub(crate) top: usize,
    pub(crate) warmup: u64,
    pub(crate) variables: VariableForm,
    pub(crate) templates: TemplateFilter,
    pub(crate) max_templates: usize,
}

impl SourceSettings {
    pub(crate) fn new(cfg: &FileSourceConfig) -> anyhow::Result<SourceSettings> {
        let format = match cfg.header_format() {
            Some(f) => Some(
                LogFormat::parse(f)
                    .map_err(|e| anyhow::anyhow!("source {}: invalid format: {e}", cfg.name))?,
            ),
            None => None,
        };
        Ok(SourceSettings {
            format,
            error_pattern: cfg.error_pattern.regex().clone(),
            interval: cfg.interval,
            top: cfg.top_templates,
            warmup: u64::from(cfg.new_template_warmup),
            variables: cfg.template_variables.form(),
            templates: cfg.template_filter(),
            max_templates: cfg.max_templates,
        })
    }

    /// The settings of every journal unit: messages have no header to split.
    pub(crate) fn journal(cfg: &JournalSourceConfig) -> SourceSettings {
        SourceSettings {
            format: None,
            error_pattern: cfg.error_pattern.regex().clone(),
            interval: cfg.interval,
            top: cfg.top_templates,
            warmup: u64::from(cfg.new_template_warmup),
            variables: cfg.template_variables.form(),
            templates: cfg.template_filter(),
            max_templates: cfg.max_templates,
        }
    }
}

/// A source ready to join the running log stage (its template state loaded).
pub(crate) struct PreparedSource(pub(crate) Box<Source>);

impl PreparedSource {
    pub(crate) fn new(cfg: &FileSourceConfig, logs_dir: &Path) -> anyhow::Result<Self> {
        Ok(PreparedSource(Box::new(Source::new(cfg, logs_dir, 0)?)))
    }
}

impl Source {
    pub(crate) fn new(
        cfg: &FileSourceConfig,
        logs_dir: &Path,
        intervals: u64,
    ) -> anyhow::Result<Source> {
        let settings = SourceSettings::new(cfg)?;
        Ok(Source::with(
            cfg.name.clone(),
            settings,
            logs_dir,
            intervals,
        ))
    }

    /// A source named `name` (signals `log.{name}.*`), its template state loaded.
    pub(crate) fn with(
        name: String,
        settings: SourceSettings,
        logs_dir: &Path,
        intervals: u64,
    ) -> Source {
        let miner_path = logs_dir.join(format!("{name}.templates"));
        let miner_config = MinerConfig {
            variables: settings.variables,
            ..MinerConfig::default()
        };
        let learned = match std::fs::read(&miner_path) {
            Ok(bytes) => match templates::load(miner_config.clone(), &bytes) {
                Ok(l) => Some(l),
                Err(e) => {
                    let aside = miner_path.with_extension("templates.corrupt");
                    let _ = std::fs::rename(&miner_path, &aside);
                    tracing::error!(source = %name, error = %e, moved_to = %aside.display(), "template state unreadable; starting with no templates");
                    None
                }
            },
            Err(_) => None,
        };
        let restored = learned.is_some();
        let (miner, rank, resolving) = match learned {
            Some(l) => (l.miner, l.rank, l.resolving),
            None => (
                TemplateMiner::new(miner_config).unwrap_or_default(),
                HashMap::new(),
                HashMap::new(),
            ),
        };
        Source {
            next_emit: Instant::now() + settings.interval,
            name,
            format: settings.format,
            error_pattern: settings.error_pattern,
            interval: settings.interval,
            top: settings.top,
            warmup: settings.warmup,
            budget: TemplateBudget::new(settings.templates, settings.max_templates),
            miner,
            miner_dirty: false,
            miner_path,
            intervals,
            next_interval: None,
            lines: 0,
            errors: 0,
            templates: IdMap::default(),
            error_templates: IdMap::default(),
            new_templates: Vec::new(),
            rank,
            resolving,
            restored,
            history: None,
        }
    }

    /// Reloaded settings; the learned templates and rankings are kept. A new interval applies
    /// from the next one, so the current interval's rates stay right.
    pub(crate) fn set(&mut self, s: SourceSettings) {
        self.format = s.format;
        self.error_pattern = s.error_pattern;
        self.top = s.top;
        self.warmup = s.warmup;
        self.budget.set(s.templates, s.max_templates);
        if s.variables != self.miner.config().variables {
            self.set_variables(s.variables);
        }
        if s.interval != self.interval {
            self.next_interval = Some(s.interval);
        }
    }

    /// A reloaded `template_variables`: the templates are kept under their ids, brought to
    /// the new form where they can be (finer templates collapse to whole tokens; whole-token
    /// templates stay as they are, and lines that no longer match them start finer ones).
    fn set_variables(&mut self, form: VariableForm) {
        let config = MinerConfig {
            variables: form,
            ..self.miner.config().clone()
        };
        let mut saved: Vec<(u64, u64, String)> = self
            .miner
            .templates()
            .map(|t| (t.id, t.count, t.template.to_owned()))
            .collect();
        saved.reverse(); // least recently used first, as `with_templates` takes them
        let list = saved.iter().map(|(id, n, t)| (*id, *n, t.as_str()));
        match TemplateMiner::with_templates(config, self.miner.next_id(), list) {
            Ok(m) => {
                self.miner = m;
                self.miner_dirty = true;
            }
            Err(e) => {
                tracing::error!(source = %self.name, error = %e, "template_variables not applied; keeping the current form");
            }
        }
    }

    /// One line: its template, whether it is an error, the interval's counts.
    #[cfg(test)]
    pub(crate) fn observe(&mut self, line: &str, stats: &Stats) {
        self.observe_as(line, None, stats);
    }

    /// One line whose record says whether it is an error (`None`: the level in its header,
    /// else `error_pattern`, decides).
    pub(crate) fn observe_as(&mut self, line: &str, error: Option<bool>, stats: &Stats) {
        self.observe_from(line, error, Origin::default(), stats);
    }

    /// One line, with where it comes from (kept with the evidence samples).
    pub(crate) fn observe_from(
        &mut self,
        line: &str,
        error: Option<bool>,
        origin: Origin,
        stats: &Stats,
    ) {
        let (template_id, is_error) = self.mine(line, error, stats, true);
        self.lines += 1;
        self.templates
            .entry(template_id)
            .or_default()
            .add(line, origin);
        if is_error {
            self.errors += 1;
            self.error_templates
                .entry(template_id)
                .or_default()
                .add(line, origin);
        }
    }

    /// Mines one line into its template: its id, and whether the line is an error. A template
    /// first seen `live` after warm-up is news; one first seen in history is simply known.
    pub(crate) fn mine(
        &mut self,
        line: &str,
        error: Option<bool>,
        stats: &Stats,
        live: bool,
    ) -> (u64, bool) {
        let (level, content) = match &self.format {
            Some(f) => match f.split(line) {
                Some(fields) => (fields.level(), fields.content()),
                None => {
                    Stats::add(&stats.log_lines_unparsed, 1);
                    (None, line)
                }
            },
            // No format: the miner's own header recognition keeps timestamps, pids and hosts
            // out of the template (the level stays with `error_pattern`, as configured).
            None => (None, split_header(line).content()),
        };
        let m = self.miner.add(content);
        if m.is_new {
            Stats::add(&stats.log_templates_new, 1);
            if live && self.intervals >= self.warmup {
                self.new_templates.push(m.template_id);
            }
        }
        self.miner_dirty |= m.is_new || m.template_changed;
        if let Some(gone) = m.evicted {
            self.templates.remove(&gone);
            self.error_templates.remove(&gone);
            self.rank.remove(&gone);
            self.resolving.remove(&gone);
            self.budget.forget(gone);
        }
        let is_error = match (error, level) {
            (Some(e), _) => e,
            (None, Some(l)) => is_error_level(l),
            (None, None) => self.error_pattern.is_match(line),
        };
        (m.template_id, is_error)
    }

    pub(crate) fn evidence(&self, id: Option<u64>, tally: Option<&Tally>) -> Arc<LogEvidence> {
        let empty = Tally::default();
        let t = tally.unwrap_or(&empty);
        let samples = &t.samples;
        let sample_streams = if t.streams.iter().any(|s| *s != "-") {
            t.streams.clone()
        } else {
            Vec::new()
        };
        Arc::new(LogEvidence {
            source: self.name.clone(),
            template_id: id,
            template: id.and_then(|i| self.miner.template(i)).map(str::to_owned),
            sample_lines: samples.to_vec(),
            sample_streams,
            k8s: t.k8s.clone(),
        })
    }

    /// Ranks templates by a decayed count, with this interval's `counts` added; the top ones
    /// the budget admits get a signal of their own (returned, highest first).
    pub(crate) fn rank_interval(&mut self, counts: &[(u64, u64)]) -> Vec<(u64, f64)> {
        for w in self.rank.values_mut() {
            *w *= RANK_DECAY;
        }
        for (id, n) in counts {
            *self.rank.entry(*id).or_insert(0.0) += *n as f64;
        }
        self.rank.retain(|_, w| *w >= RANK_FLOOR);
        let mut ranked: Vec<(u64, f64)> = self.rank.iter().map(|(k, v)| (*k, *v)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut kept = Vec::with_capacity(self.top.min(ranked.len()));
        for (id, weight) in ranked {
            if kept.len() >= self.top {
                break;
            }
            if self.budget.admits(id, self.miner.template(id)) {
                kept.push((id, weight));
            }
        }
        kept
    }

    /// The budget's refusals on /metrics, and in the log when they grew materially.
    fn report_budget(&mut self, stats: &Stats) {
        let refused = self.budget.refused();
        stats.log_templates_refused.set(&self.name, refused as u64);
        match self.budget.report() {
            Some(Report::Refused(n)) => tracing::warn!(
                source = %self.name,
                refused = n,
                max_templates = self.budget.max(),
                "the source has more templates than max_templates: the refused ones get no signal of their own, their lines count in the source's totals and template.other.count (seismo_log_templates_refused); raise max_templates or leave templates out with exclude_templates"
            ),
            Some(Report::Cleared) => tracing::info!(
                source = %self.name,
                "the source's templates fit in max_templates again: none is refused"
            ),
            None => {}
        }
    }

    /// Closes the interval: samples, evidence, novel templates.
    pub(crate) fn emit(&mut self, now: Instant, resolve_after: u32, stats: &Stats) -> LogUpdate {
        let ts = now_ms();
        let secs = self.interval.as_secs_f64();
        let prefix = format!("log.{}", self.name);
        let signal = |rest: &str| -> Arc<str> { format!("{prefix}.{rest}").into() };
        let mut samples = Vec::new();
        let mut evidence = HashMap::new();
        let sample = |signal: &Arc<str>, value: f64| Sample {
            signal: Arc::clone(signal),
            ts_ms: ts,
            value,
        };

        let busiest = |m: &IdMap<Tally>| {
            m.iter()
                .max_by_key(|(id, t)| (t.count, std::cmp::Reverse(**id)))
                .map(|(id, t)| (*id, t.clone()))
        };
        let lines = signal("lines_per_s");
        samples.push(sample(&lines, self.lines as f64 / secs));
        if let Some((id, t)) = busiest(&self.templates) {
            evidence.insert(Arc::clone(&lines), self.evidence(Some(id), Some(&t)));
        }
        let errors = signal("errors_per_s");
        samples.push(sample(&errors, self.errors as f64 / secs));
        if let Some((id, t)) = busiest(&self.error_templates) {
            evidence.insert(Arc::clone(&errors), self.evidence(Some(id), Some(&t)));
        }

        let counts: Vec<(u64, u64)> = self
            .templates
            .iter()
            .map(|(id, t)| (*id, t.count))
            .collect();
        let ranked = self.rank_interval(&counts);
        let mut tracked_total = 0;
        for (id, _) in &ranked {
            let t = self.templates.get(id);
            let count = t.map_or(0, |t| t.count);
            tracked_total += count;
            let s = signal(&format!("template.{id}.count"));
            samples.push(sample(&s, count as f64));
            evidence.insert(s, self.evidence(Some(*id), t));
        }
        if self.top > 0 {
            let other = signal("template.other.count");
            samples.push(sample(
                &other,
                self.lines.saturating_sub(tracked_total) as f64,
            ));
            let mut rest = Tally::default();
            for (id, t) in &self.templates {
                if !ranked.iter().any(|(r, _)| r == id) {
                    let take = LogEvidence::MAX_SAMPLES - rest.samples.len();
                    if rest.samples.is_empty() {
                        rest.k8s = t.k8s.clone();
                    }
                    rest.samples.extend(t.samples.iter().take(take).cloned());
                    rest.streams.extend(t.streams.iter().take(take).copied());
                }
                if rest.samples.len() >= LogEvidence::MAX_SAMPLES {
                    break;
                }
            }
            evidence.insert(other, self.evidence(None, Some(&rest)));
        }

        // Novel templates fire now; earlier ones count down to their resolution.
        let mut novel = Vec::new();
        let mut normals = Vec::new();
        let mut ids: Vec<u64> = self.resolving.keys().copied().collect();
        ids.sort_unstable();
        for id in &ids {
            let count = self.templates.get(id).map_or(0, |t| t.count) as f64;
            let s = signal(&format!("template.{id}.new"));
            let point = Normal {
                ts_ms: ts,
                observed: count,
                score: 0.0,
                expected: Range {
                    low: 0.0,
                    high: count,
                },
            };
            normals.push((s, point, self.evidence(Some(*id), self.templates.get(id))));
            if let Some(left) = self.resolving.get_mut(id) {
                // Restored countdowns start again from the full count (see `templates.rs`).
                *left = (*left).min(resolve_after).saturating_sub(1);
            }
        }
        self.resolving.retain(|_, left| *left > 0);
        // New-template alerts still resolving are saved with the templates, so that one
        // firing across a restart still resolves.
        self.miner_dirty |= !ids.is_empty() || !self.new_templates.is_empty();
        for id in std::mem::take(&mut self.new_templates) {
            let Some(t) = self.templates.get(&id) else {
                continue;
            };
            // Past the budget (or left out by the filter): no alert, no signal of its own.
            if !self.budget.admits(id, self.miner.template(id)) {
                continue;
            }
            let anomaly = Anomaly {
                signal: signal(&format!("template.{id}.new")),
                ts_ms: ts,
                score: 1.0,
                observed: t.count as f64,
                expected_low: 0.0,
                expected_high: 0.0,
                detector: "new_template",
                evidence: seismo_detectors::Evidence::default(),
            };
            Stats::add(&stats.anomalies, 1);
            novel.push((anomaly, self.evidence(Some(id), Some(t))));
            self.resolving.insert(id, resolve_after);
        }

        self.report_budget(stats);
        self.intervals += 1;
        self.lines = 0;
        self.errors = 0;
        self.templates.clear();
        self.error_templates.clear();
        self.next_emit += self.interval;
        if let Some(interval) = self.next_interval.take() {
            self.interval = interval;
            self.next_emit = now + interval;
        }
        if self.next_emit <= now {
            self.next_emit = now + self.interval;
        }
        LogUpdate {
            source: self.name.clone(),
            samples,
            evidence,
            novel,
            normals,
            learn_only: false,
        }
    }
}

/// A line's bytes as text for mining: NUL bytes removed, invalid UTF-8 replaced (both counted).
pub(crate) fn clean_text<'a>(
    raw: &'a [u8],
    cleaned: &'a mut Vec<u8>,
    stats: &Stats,
) -> Cow<'a, str> {
    // memchr's vector search: `<[u8]>::contains` reads a word at a time, and this runs on
    // every line.
    let raw = if memchr::memchr(0, raw).is_some() {
        Stats::add(&stats.log_lines_with_nul, 1);
        cleaned.clear();
        cleaned.extend(raw.iter().copied().filter(|&b| b != 0));
        &cleaned[..]
    } else {
        raw
    };
    match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            Stats::add(&stats.log_lines_invalid_utf8, 1);
            String::from_utf8_lossy(raw)
        }
    }
}

/// Level names that mean an error, across syslog, log4j, Python, Go and friends.
fn is_error_level(level: &str) -> bool {
    const ERROR_LEVELS: [&str; 12] = [
        "error",
        "err",
        "fatal",
        "crit",
        "critical",
        "alert",
        "emerg",
        "emergency",
        "panic",
        "severe",
        "e",
        "f",
    ];
    let l = level.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    ERROR_LEVELS.iter().any(|e| l.eq_ignore_ascii_case(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::journal_units::JournalUnits;
    use std::collections::BTreeMap;

    fn source(text: &str) -> Source {
        let config = seismo_config::parse(text, "t").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        Source::new(&config.sources.files[0], tmp.path(), 0).unwrap()
    }

    #[test]
    fn template_variables_choose_the_form_and_a_reload_keeps_the_ids() {
        let base = "[[sources.files]]\nname = \"app\"\npaths = [\"/x\"]\n";
        let stats = Stats::default();
        let mut parts = source(&format!("{base}template_variables = \"parts\"\n"));
        parts.observe("Deleting block blk_12 now", &stats);
        let id = parts.miner.templates().next().unwrap().id;
        assert_eq!(parts.miner.template(id), Some("Deleting block blk_<*> now"));
        // Reloaded to the default, whole-token form: the template is kept under its id.
        let config = seismo_config::parse(base, "t").unwrap();
        parts.set(SourceSettings::new(&config.sources.files[0]).unwrap());
        assert_eq!(parts.miner.template(id), Some("Deleting block <*> now"));
        parts.observe("Deleting block blk_99 now", &stats);
        assert_eq!(parts.miner.len(), 1);
        assert_eq!(parts.miner.count(id), Some(2));
        let mut whole = source(base);
        whole.observe("Deleting block blk_12 now", &stats);
        assert_eq!(
            whole.miner.templates().next().unwrap().template,
            "Deleting block <*> now"
        );
        assert!(
            seismo_config::parse(&format!("{base}template_variables = \"half\"\n"), "t").is_err()
        );
    }

    #[test]
    fn counts_lines_errors_and_top_templates() {
        let mut s = source(
            "[[sources.files]]\nname = \"app\"\npaths = [\"/x\"]\ntop_templates = 1\nnew_template_warmup = 1\nformat = \"<Level> <Content>\"\n",
        );
        let stats = Stats::default();
        for i in 0..6 {
            s.observe(&format!("INFO request {i} served in {i} ms"), &stats);
        }
        s.observe("ERROR disk /dev/sda1 is full", &stats);
        s.observe("garbage", &stats);
        let u = s.emit(Instant::now(), 3, &stats);
        let value = |name: &str| {
            u.samples
                .iter()
                .find(|x| &*x.signal == name)
                .map(|x| x.value)
                .unwrap_or_else(|| panic!("no {name} in {:?}", u.samples))
        };
        assert_eq!(value("log.app.lines_per_s"), 0.8);
        assert_eq!(value("log.app.errors_per_s"), 0.1);
        assert_eq!(value("log.app.template.1.count"), 6.0);
        assert_eq!(value("log.app.template.other.count"), 2.0);
        assert_eq!(Stats::get(&stats.log_lines_unparsed), 1);
        let ev = &u.evidence[&Arc::<str>::from("log.app.errors_per_s")];
        assert_eq!(ev.sample_lines, ["ERROR disk /dev/sda1 is full"]);
        assert!(u.novel.is_empty(), "still warming up");

        // After warm-up, a template never seen before is an anomaly with its evidence.
        s.observe("INFO request 7 served in 3 ms", &stats);
        s.observe("WARN certificate expires in 3 days", &stats);
        let u = s.emit(Instant::now(), 2, &stats);
        assert_eq!(u.novel.len(), 1);
        let (a, ev) = &u.novel[0];
        assert!(a.signal.ends_with(".new"), "{}", a.signal);
        assert_eq!(ev.sample_lines, ["WARN certificate expires in 3 days"]);
        assert!(ev.template.as_deref().unwrap().contains("certificate"));
        assert_eq!(s.emit(Instant::now(), 2, &stats).normals.len(), 1);
        assert_eq!(s.emit(Instant::now(), 2, &stats).normals.len(), 1);
        assert!(s.emit(Instant::now(), 2, &stats).normals.is_empty());
    }

    #[test]
    fn templates_past_the_budget_or_left_out_count_in_the_totals_only() {
        let mut s = source(
            "[[sources.files]]\nname = \"app\"\npaths = [\"/x\"]\ntop_templates = 2\nnew_template_warmup = 1\nmax_templates = 2\nexclude_templates = [\"heartbeat *\"]\n",
        );
        let stats = Stats::default();
        for i in 0..5 {
            s.observe(&format!("heartbeat ok from {i}"), &stats);
        }
        for i in 0..3 {
            s.observe(&format!("request served in {i} ms"), &stats);
        }
        s.observe("cache warmed", &stats);
        let u = s.emit(Instant::now(), 3, &stats);
        let names = |u: &LogUpdate| -> Vec<String> {
            u.samples.iter().map(|x| x.signal.to_string()).collect()
        };
        let value = |u: &LogUpdate, name: &str| {
            u.samples
                .iter()
                .find(|x| &*x.signal == name)
                .map(|x| x.value)
        };
        // The busiest template is left out: the next two take the budget's places.
        let counts: Vec<String> = names(&u)
            .into_iter()
            .filter(|n| n.contains(".template.") && !n.contains(".other."))
            .collect();
        assert_eq!(counts.len(), 2, "{counts:?}");
        for c in &counts {
            let e = &u.evidence[&Arc::<str>::from(c.as_str())];
            assert!(!e.template.as_deref().unwrap().contains("heartbeat"), "{c}");
        }
        assert_eq!(value(&u, "log.app.template.other.count"), Some(5.0));
        assert_eq!(value(&u, "log.app.lines_per_s"), Some(0.9));
        assert_eq!(Stats::get(&stats.log_templates_new), 3);
        assert!(stats.log_templates_refused.snapshot().is_empty());

        // After the warm-up, three new templates: none has a place; all count in the totals.
        s.observe("disk error on sda", &stats);
        s.observe("disk error on sda again now", &stats);
        s.observe("connection reset by the peer at last", &stats);
        let u = s.emit(Instant::now(), 3, &stats);
        assert!(u.novel.is_empty(), "{:?}", u.novel);
        assert_eq!(value(&u, "log.app.errors_per_s"), Some(0.2));
        assert_eq!(value(&u, "log.app.lines_per_s"), Some(0.3));
        assert_eq!(value(&u, "log.app.template.other.count"), Some(3.0));
        assert_eq!(
            stats.log_templates_refused.snapshot(),
            [("app".to_owned(), 3)]
        );
        // Raised by a reload: the places are taken afresh, and a new template alerts again.
        let config = seismo_config::parse(
            "[[sources.files]]\nname = \"app\"\npaths = [\"/x\"]\ntop_templates = 2\nnew_template_warmup = 1\nmax_templates = 0\n",
            "t",
        )
        .unwrap();
        s.set(SourceSettings::new(&config.sources.files[0]).unwrap());
        s.observe("a brand new kind of line", &stats);
        let u = s.emit(Instant::now(), 3, &stats);
        assert_eq!(u.novel.len(), 1);
        assert!(stats.log_templates_refused.snapshot().is_empty());
    }

    #[test]
    fn lines_without_a_format_are_mined_on_their_message() {
        let mut s = source("[[sources.files]]\nname = \"raw\"\npaths = [\"/x\"]\n");
        let stats = Stats::default();
        // Different times, hosts, pids and programs' pids: one message, one template.
        for line in [
            "Jun 14 15:16:01 combo sshd[19939]: session opened for user root",
            "Jun 14 15:17:44 web-2 sshd[2]: session opened for user news",
            "2024-05-01T10:00:00.123Z INFO [main] auth.Session: session opened for user bob",
        ] {
            s.observe(line, &stats);
        }
        assert_eq!(
            s.miner.len(),
            1,
            "{:?}",
            s.miner.templates().collect::<Vec<_>>()
        );
        assert_eq!(
            s.miner.templates().next().unwrap().template,
            "session opened for user <*>"
        );
        // The evidence keeps the whole line; a journal message with its own header too.
        assert!(s.templates.values().next().unwrap().samples[0].starts_with("Jun 14"));
        s.observe_as("10:00:01 WARN disk almost full", None, &stats);
        assert_eq!(
            s.miner.templates().next().unwrap().template,
            "disk almost full"
        );
        assert_eq!(Stats::get(&stats.log_lines_unparsed), 0);
    }

    #[test]
    fn journal_units_are_mined_apart_with_priority_errors_and_a_bounded_count() {
        let tmp = tempfile::tempdir().unwrap();
        let stats = Stats::default();
        let cfg = JournalSourceConfig {
            max_units: 2,
            ..JournalSourceConfig::default()
        };
        let mut units = JournalUnits::new(cfg, BTreeMap::new());
        let mut sources = BTreeMap::new();
        let mut slot = |u: &str| units.slot(u, &mut sources, tmp.path(), &stats);
        let nginx = slot("nginx.service");
        assert_eq!(slot("nginx"), nginx);
        let cron = slot("cron.service");
        let over = slot("sshd.service");
        assert_eq!(slot("getty@tty1.service"), over);
        assert_ne!(nginx, cron);
        assert_eq!(Stats::get(&stats.journal_records_unit_overflow), 2);
        assert_eq!(Stats::get(&stats.journal_units), 2);
        assert_eq!(sources[&over].name, "journal._overflow");
        let s = sources.get_mut(&nginx).unwrap();
        // The priority decides, whatever the text says.
        s.observe_as("upstream timed out after 30 s", Some(true), &stats);
        s.observe_as("error page served to 10.0.0.1", Some(false), &stats);
        s.observe_as("fatal: no priority, the pattern decides", None, &stats);
        let u = s.emit(Instant::now(), 3, &stats);
        let value = |name: &str| {
            u.samples
                .iter()
                .find(|x| &*x.signal == name)
                .map(|x| x.value)
        };
        assert_eq!(value("log.journal.nginx.lines_per_s"), Some(0.3));
        assert_eq!(value("log.journal.nginx.errors_per_s"), Some(0.2));
        assert!(sources[&cron].templates.is_empty(), "units are mined apart");
    }

    #[test]
    fn error_levels() {
        for l in ["ERROR", "err", "[FATAL]", "E", "Critical"] {
            assert!(is_error_level(l), "{l}");
        }
        for l in ["INFO", "WARN", "debug", "notice"] {
            assert!(!is_error_level(l), "{l}");
        }
    }

    #[test]
    fn samples_are_cut() {
        let long = "x".repeat(2000);
        let s = LogEvidence::sample(&long);
        assert_eq!(s.chars().count(), LogEvidence::MAX_SAMPLE_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
