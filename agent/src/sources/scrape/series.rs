//! A target's series between scrapes, and each body read into samples: counters become
//! per-second rates (a counter that went down was reset: its value is the increase since),
//! gauges stay, histograms give p50, p99 and the observation rate of the interval (from the
//! delta of their cumulative buckets, interpolated as PromQL's `histogram_quantile` does),
//! summaries give their quantiles and observation rate. At most `max_series` series are
//! admitted (new ones in name order); once admitted, a series keeps its place until it is
//! absent from a scrape.
//!
//! A known line costs no allocation: each sample line's series text (`name{labels}` as
//! written) is hashed and looked up among the lines of the previous scrapes, which point to
//! their series' slot (an admitted series with its signal names and last state, an excluded
//! one, or nothing for a part that gives no signal, such as a histogram's `_sum`). Only a line
//! not seen before has its labels read, its role found (`# TYPE`, the `_bucket` / `_count` /
//! `_sum` / `_total` / `_created` suffixes), the target's `include` / `exclude` applied and its
//! signal name made. Lines are keyed by a 128-bit hash with keys drawn at random per target
//! (two SipHash-1-3), so that no stored copy of the text is needed and no exposition can be
//! built to make two lines collide.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Arc;

use seismo_config::SeriesFilter;

use super::error::ScrapeError;
use super::histogram::{bucket_delta, cumulative, histogram_quantile, increase};
use super::labels::{self, Label};
use super::line::{self, Line, SampleLine};
use super::names::{push_label_suffix, push_safe, quantile_name};
use super::refused::RefusedFamilies;
use crate::event::Sample;

/// What one scrape dropped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dropped {
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

/// What one body gave.
#[derive(Debug)]
pub struct Read {
    pub samples: Vec<Sample>,
    /// Lines that are neither comments nor samples: skipped and counted.
    pub invalid_lines: u64,
    /// The first of them: its line number (from 1) and what is wrong with it.
    pub first_invalid: Option<(usize, &'static str)>,
}

/// A 128-bit hash of a series text or of a signal key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(u64, u64);

/// The maps' hasher: their keys are random already, so they are taken as they are.
#[derive(Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = self.0.rotate_left(29) ^ v;
    }
}

type Map<V> = HashMap<Key, V, BuildHasherDefault<Spread>>;

/// The slot of lines that give no signal.
const NONE: u32 = u32::MAX;

/// A line seen in an earlier scrape.
#[derive(Debug, Clone, Copy)]
struct Known {
    slot: u32,
    /// The scrape it was last in (its low bits).
    seen: u32,
    /// A bucket's upper bound or a summary's quantile.
    bound: f64,
    /// The kind it was read as (its slot's, unless that changed since).
    kind: Kind,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
    Summary,
    /// A summary's `_count`.
    Count,
}

/// A `# TYPE` line's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Other,
}

impl Type {
    fn parse(word: &[u8]) -> Type {
        match word {
            b"counter" => Type::Counter,
            b"gauge" => Type::Gauge,
            b"histogram" => Type::Histogram,
            b"summary" => Type::Summary,
            _ => Type::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    /// New in this scrape, admitted or refused at its end.
    Pending,
    Admitted,
    Excluded,
}

/// A series between scrapes.
#[derive(Debug)]
struct Slot {
    state: State,
    kind: Kind,
    /// Where the base name ends in `key`: a stat's name goes there.
    base_len: u32,
    /// The last scrape it was in.
    seen: u64,
    /// The hash its key is found by.
    hash: Key,
    /// `scrape.{source}.{metric}{labels}` (the name of a gauge's signal), with `#count` after
    /// a summary's count; none for an excluded series.
    key: Option<Arc<str>>,
    last: Last,
    /// Its signals other than `key`, made on first use.
    names: Vec<(Stat, Arc<str>)>,
}

impl Slot {
    /// The signal of `stat` (`None`: the series' own value).
    /// `None` only for a series without a key (an excluded one), which gives no signal.
    fn signal(&mut self, stat: Option<Stat>) -> Option<Arc<str>> {
        let key = self.key.as_ref()?;
        let Some(stat) = stat else {
            return Some(Arc::clone(key));
        };
        if let Some((_, name)) = self.names.iter().find(|(s, _)| *s == stat) {
            return Some(Arc::clone(name));
        }
        // `#` is never part of a base name or label suffix (see `push_safe`).
        let key: &str = key;
        let key = key.strip_suffix("#count").unwrap_or(key);
        let (base, labels) = key.split_at(self.base_len as usize);
        let name: Arc<str> = format!("{base}.{}{labels}", stat.name()).into();
        // Exactly one more: most series have one or two such names.
        self.names.reserve_exact(1);
        self.names.push((stat, Arc::clone(&name)));
        Some(name)
    }

    fn push(&mut self, stat: Option<Stat>, value: f64, ts_ms: i64, out: &mut Vec<Sample>) {
        if !value.is_finite() {
            return;
        }
        if let Some(signal) = self.signal(stat) {
            out.push(Sample {
                signal,
                ts_ms,
                value,
            });
        }
    }

    /// A gauge's, counter's or summary count's value of this scrape (none for a counter's
    /// first scrape).
    fn emit_value(&mut self, v: f64, ts_ms: i64, elapsed_s: Option<f64>, out: &mut Vec<Sample>) {
        match self.kind {
            Kind::Gauge => {
                self.last = Last::Gauge;
                self.push(None, v, ts_ms, out);
            }
            Kind::Counter | Kind::Count => {
                if let (Last::Counter(prev), Some(dt)) = (&self.last, elapsed_s) {
                    let rate = increase(*prev, v) / dt;
                    self.push(Some(Stat::PerS), rate, ts_ms, out);
                }
                self.last = if v.is_finite() {
                    Last::Counter(v)
                } else {
                    Last::Gauge
                };
            }
            Kind::Histogram | Kind::Summary => {}
        }
    }

    /// A histogram's buckets of this scrape (`None`: not usable).
    fn emit_histogram(
        &mut self,
        now: Option<&[(f64, f64)]>,
        delta: &mut Vec<(f64, f64)>,
        ts_ms: i64,
        elapsed_s: Option<f64>,
        out: &mut Vec<Sample>,
    ) {
        let Some(now) = now else {
            self.last = Last::Gauge;
            return;
        };
        if let (Last::Histogram(prev), Some(dt)) = (&self.last, elapsed_s) {
            bucket_delta(prev, now, delta);
            let total = delta.last().map_or(0.0, |b| b.1);
            self.push(Some(Stat::PerS), total / dt, ts_ms, out);
            if total > 0.0 {
                for q in [0.5f64, 0.99] {
                    if let Some(v) = histogram_quantile(q, delta) {
                        self.push(Some(Stat::Quantile(q.to_bits())), v, ts_ms, out);
                    }
                }
            }
        }
        match &mut self.last {
            Last::Histogram(prev) => {
                prev.clear();
                prev.extend_from_slice(now);
            }
            last => *last = Last::Histogram(now.to_vec()),
        }
    }
}

/// A value of this scrape kept until its series' turn: a histogram's bucket, a summary's
/// quantile, or the value of a series new in this scrape.
#[derive(Debug, Clone, Copy)]
struct Part {
    slot: u32,
    bound: f64,
    value: f64,
    /// Its line, so that the first of equal bounds is kept.
    line: u32,
}

/// A series new in this scrape.
struct Pending {
    slot: u32,
    key: Arc<str>,
    family: String,
}

/// What a line not seen before stands for.
enum Role<'a> {
    /// A signal's value, a bucket (`bound`: its `le`) or a quantile of `metric`.
    Series {
        metric: Cow<'a, str>,
        kind: Kind,
        bound: f64,
    },
    /// A part that gives no signal (a histogram's `_sum`, say).
    Skip,
}

/// Series of one target, between scrapes.
pub struct Series {
    prefix: String,
    max_series: usize,
    filter: SeriesFilter,
    hashers: (RandomState, RandomState),
    /// Lines seen before, by the hash of their series text.
    lines: Map<Known>,
    /// Slots of admitted and excluded series by the hash of their key.
    by_key: Map<u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    admitted: usize,
    /// `# TYPE` lines by metric: the type and the last scrape that declared it.
    types: HashMap<Box<[u8]>, (Type, u64)>,
    last_ts_ms: Option<i64>,
    /// Scrapes read so far (what `seen` counts in).
    scrapes: u64,
    /// Lines of `lines` seen in this scrape.
    hits: usize,
    // Buffers kept across scrapes.
    parts: Vec<Part>,
    buckets: Vec<(f64, f64)>,
    delta: Vec<(f64, f64)>,
    key: String,
}

impl Series {
    pub fn new(source: &str, max_series: usize, filter: SeriesFilter) -> Self {
        let mut prefix = String::from("scrape.");
        push_safe(&mut prefix, source);
        prefix.push('.');
        Self {
            prefix,
            max_series,
            filter,
            hashers: (RandomState::new(), RandomState::new()),
            lines: Map::default(),
            by_key: Map::default(),
            slots: Vec::new(),
            free: Vec::new(),
            admitted: 0,
            types: HashMap::new(),
            last_ts_ms: None,
            scrapes: 0,
            hits: 0,
            parts: Vec::new(),
            buckets: Vec::new(),
            delta: Vec::new(),
            key: String::new(),
        }
    }

    fn hash(&self, text: &[u8]) -> Key {
        Key(self.hashers.0.hash_one(text), self.hashers.1.hash_one(text))
    }

    /// Reads one body taken at `ts_ms` into samples. Malformed lines are skipped and counted;
    /// a body with such lines and no sample at all is refused as a whole (an HTML error page,
    /// say), and then changes nothing.
    pub fn read(
        &mut self,
        body: &[u8],
        ts_ms: i64,
        dropped: &mut Dropped,
    ) -> Result<Read, ScrapeError> {
        self.scrapes += 1;
        let scrape = self.scrapes;
        let elapsed_s = self
            .last_ts_ms
            .map(|t| (ts_ms - t) as f64 / 1000.0)
            .filter(|s| *s > 0.0);
        let mut out = Vec::with_capacity(self.admitted + 1);
        let (mut invalid, mut first_invalid, mut valid) = (0u64, None, 0u64);
        // Only new lines use these (no allocation while they stay empty).
        let mut pending: Vec<Pending> = Vec::new();
        let mut pending_lines: Vec<(Key, Known)> = Vec::new();
        let mut labels = Vec::new();
        self.parts.clear();
        self.hits = 0;
        for (n, text) in body.split(|&b| b == b'\n').enumerate() {
            let sample = match line::read(text) {
                Ok(Line::Skip) => continue,
                Ok(Line::Eof) => break,
                Ok(Line::Type { name, kind }) => {
                    if let Err(reason) = self.declare(name, Type::parse(kind), scrape) {
                        invalid += 1;
                        first_invalid.get_or_insert((n + 1, reason));
                    }
                    continue;
                }
                Ok(Line::Sample(s)) => s,
                Err(e) => {
                    invalid += 1;
                    first_invalid.get_or_insert((n + 1, e.describe()));
                    continue;
                }
            };
            let hash = self.hash(sample.series);
            let known = match self.lines.get_mut(&hash) {
                Some(known) => {
                    if known.seen != scrape as u32 {
                        known.seen = scrape as u32;
                        self.hits += 1;
                    }
                    *known
                }
                None => match self.resolve(&sample, &mut labels, &mut pending) {
                    Ok(Some(known)) => {
                        if self.slots.get(known.slot as usize).map(|s| s.state)
                            == Some(State::Pending)
                        {
                            pending_lines.push((hash, known));
                        } else {
                            self.lines.insert(hash, known);
                            self.hits += 1;
                        }
                        known
                    }
                    // The same signal name as a series of another kind.
                    Ok(None) => {
                        valid += 1;
                        dropped.duplicate += 1;
                        continue;
                    }
                    Err(reason) => {
                        invalid += 1;
                        first_invalid.get_or_insert((n + 1, reason));
                        continue;
                    }
                },
            };
            valid += 1;
            if known.slot != NONE {
                self.record(
                    known,
                    sample.value,
                    n as u32,
                    ts_ms,
                    elapsed_s,
                    &mut out,
                    dropped,
                );
            }
        }
        if valid == 0 && invalid > 0 {
            let (line, reason) = first_invalid.unwrap_or((0, ""));
            return Err(ScrapeError::Parse(format!(
                "{invalid} lines and no valid sample (line {line}: {reason})"
            )));
        }

        // Series absent from this scrape give up their place (and their baseline) first.
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if matches!(s.state, State::Admitted | State::Excluded) && s.seen != scrape {
                self.release(i as u32);
            }
        }
        if self.hits < self.lines.len() {
            self.lines.retain(|_, l| l.seen == scrape as u32);
        }
        if self.types.values().any(|t| t.1 != scrape) {
            self.types.retain(|_, t| t.1 == scrape);
        }
        // New series in name order, so which ones the cap admits does not depend on the
        // body's order.
        pending.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        for p in pending {
            if self.admitted >= self.max_series {
                dropped.limit += 1;
                dropped.refused.add(&p.family);
                self.release(p.slot);
            } else {
                self.slots[p.slot as usize].state = State::Admitted;
                self.admitted += 1;
            }
        }
        for (hash, known) in pending_lines {
            if self.slots[known.slot as usize].state == State::Admitted {
                self.lines.insert(hash, known);
            }
        }
        self.emit_parts(ts_ms, elapsed_s, &mut out);
        self.last_ts_ms = Some(ts_ms);
        Ok(Read {
            samples: out,
            invalid_lines: invalid,
            first_invalid,
        })
    }

    /// A `# TYPE` line: a changed type makes every line be read anew (its role may differ).
    /// A metric has one type per body (as in Prometheus' own parser): a second line with
    /// another type is malformed and ignored, so that a body declaring both is not read anew
    /// at every scrape.
    fn declare(&mut self, name: &[u8], kind: Type, scrape: u64) -> Result<(), &'static str> {
        match self.types.get_mut(name) {
            Some(t) if t.0 == kind => t.1 = scrape,
            Some(t) if t.1 == scrape => {
                return Err("a second `# TYPE` line for the metric, with another type")
            }
            Some(t) => {
                *t = (kind, scrape);
                self.forget_lines();
            }
            None => {
                self.types.insert(name.into(), (kind, scrape));
                self.forget_lines();
            }
        }
        Ok(())
    }

    fn forget_lines(&mut self) {
        if !self.lines.is_empty() {
            self.lines.clear();
            self.hits = 0;
        }
    }

    fn type_of(&self, name: &str) -> Option<Type> {
        self.types.get(name.as_bytes()).map(|t| t.0)
    }

    /// A line seen for the first time: its series' slot (made when the series is new), or
    /// `None` when its signal name is another kind of series'; `Err` says why it is
    /// malformed.
    fn resolve<'a>(
        &mut self,
        sample: &SampleLine<'a>,
        labels: &mut Vec<Label<'a>>,
        pending: &mut Vec<Pending>,
    ) -> Result<Option<Known>, &'static str> {
        labels.clear();
        if let Some(text) = sample.labels {
            labels::parse(text, labels).map_err(|e| e.describe())?;
        }
        let name = String::from_utf8_lossy(sample.name);
        let (metric, kind, bound) = match self.role(&name, labels)? {
            Role::Skip => {
                return Ok(Some(Known {
                    slot: NONE,
                    seen: self.scrapes as u32,
                    bound: 0.0,
                    kind: Kind::Gauge,
                }))
            }
            Role::Series {
                metric,
                kind,
                bound,
            } => (metric, kind, bound),
        };
        // Filtered out before the cap: an excluded series never takes a place.
        let excluded = !self.filter.is_empty()
            && !self.filter.keeps(&metric, |l| {
                labels
                    .iter()
                    .find(|(k, _)| *k == l)
                    .map(|(_, v)| v.as_ref())
            });
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        key.push_str(&self.prefix);
        push_safe(&mut key, &metric);
        let base_len = key.len() as u32;
        push_label_suffix(&mut key, labels);
        // A summary's quantiles and its count share the label set: keep their keys apart.
        if kind == Kind::Count {
            key.push_str("#count");
        }
        let mut hash = self.hash(key.as_bytes());
        if excluded {
            // Apart from an admitted series of the same name (label values that differ in
            // characters a name cannot hold).
            hash.1 = !hash.1;
        }
        let slot = match self.by_key.get(&hash) {
            Some(&slot) => {
                self.key = key;
                let s = &mut self.slots[slot as usize];
                if s.kind != kind {
                    // Another kind under the same name in this body: a duplicate; in an
                    // earlier one: the series changed its type (its baseline is dropped).
                    if s.seen == self.scrapes {
                        return Ok(None);
                    }
                    s.kind = kind;
                    s.last = Last::Gauge;
                }
                slot
            }
            None => {
                let arc: Option<Arc<str>> = (!excluded).then(|| key.as_str().into());
                self.key = key;
                let slot = self.take_slot(Slot {
                    state: if excluded {
                        State::Excluded
                    } else {
                        State::Pending
                    },
                    kind,
                    base_len,
                    seen: 0,
                    hash,
                    key: arc.clone(),
                    last: Last::Gauge,
                    names: Vec::new(),
                });
                self.by_key.insert(hash, slot);
                if let Some(key) = arc {
                    pending.push(Pending {
                        slot,
                        key,
                        family: metric.into_owned(),
                    });
                }
                slot
            }
        };
        Ok(Some(Known {
            slot,
            seen: self.scrapes as u32,
            bound,
            kind,
        }))
    }

    /// What a new line stands for, by its name, the `# TYPE` lines read so far and its
    /// labels (a bucket's `le` and a quantile's `quantile` are taken out of them).
    fn role<'a>(
        &self,
        name: &Cow<'a, str>,
        labels: &mut Vec<Label<'a>>,
    ) -> Result<Role<'a>, &'static str> {
        let own = self.type_of(name);
        let series = |metric: Cow<'a, str>, kind, bound| Role::Series {
            metric,
            kind,
            bound,
        };
        let base_of = |suffix: &str| {
            name.strip_suffix(suffix)
                .map(|b| (b.to_owned(), self.type_of(b)))
        };
        if let Some((base, Some(Type::Histogram))) = base_of("_bucket") {
            let le = take_label(labels, "le").ok_or("a histogram bucket has no `le` label")?;
            let le = line::number(le.as_bytes()).ok_or("a bucket's `le` is not a number")?;
            return Ok(series(base.into(), Kind::Histogram, le));
        }
        if own == Some(Type::Summary) {
            let q = take_label(labels, "quantile")
                .ok_or("a summary's sample has no `quantile` label")?;
            let q = line::number(q.as_bytes()).ok_or("a `quantile` is not a number")?;
            return Ok(series(name.clone(), Kind::Summary, q));
        }
        if matches!(own, None | Some(Type::Other)) {
            for suffix in ["_count", "_sum", "_created"] {
                match base_of(suffix) {
                    Some((base, Some(Type::Summary))) if suffix == "_count" => {
                        return Ok(series(base.into(), Kind::Count, 0.0))
                    }
                    Some((_, Some(Type::Summary | Type::Histogram))) => return Ok(Role::Skip),
                    // OpenMetrics: a counter's creation time.
                    Some((_, Some(Type::Counter))) if suffix == "_created" => {
                        return Ok(Role::Skip)
                    }
                    _ => {}
                }
            }
            // OpenMetrics: `# TYPE x counter` names the family of `x_total`.
            if let Some((_, Some(Type::Counter))) = base_of("_total") {
                return Ok(series(name.clone(), Kind::Counter, 0.0));
            }
        }
        let kind = if own == Some(Type::Counter) {
            Kind::Counter
        } else {
            Kind::Gauge
        };
        Ok(series(name.clone(), kind, 0.0))
    }

    fn take_slot(&mut self, slot: Slot) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Frees a slot (its lines are dropped with the unseen ones).
    fn release(&mut self, i: u32) {
        let s = &mut self.slots[i as usize];
        if s.state == State::Admitted {
            self.admitted -= 1;
        }
        self.by_key.remove(&s.hash);
        *s = Slot {
            state: State::Free,
            kind: Kind::Gauge,
            base_len: 0,
            seen: 0,
            hash: Key(0, 0),
            key: None,
            last: Last::Gauge,
            names: Vec::new(),
        };
        self.free.push(i);
    }

    /// A value of a known line: an admitted gauge's or counter's goes out at once; buckets,
    /// quantiles and new series' values wait for the end of the body.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        known: Known,
        value: f64,
        line: u32,
        ts_ms: i64,
        elapsed_s: Option<f64>,
        out: &mut Vec<Sample>,
        dropped: &mut Dropped,
    ) {
        let scrape = self.scrapes;
        let s = &mut self.slots[known.slot as usize];
        let part = Part {
            slot: known.slot,
            bound: known.bound,
            value,
            line,
        };
        match (s.state, s.kind) {
            // Read as another kind before the series changed its type.
            _ if s.kind != known.kind => dropped.duplicate += 1,
            (State::Excluded, _) => {
                if s.seen != scrape {
                    s.seen = scrape;
                    dropped.excluded += 1;
                }
            }
            (State::Free, _) => {}
            (_, Kind::Histogram | Kind::Summary) => {
                s.seen = scrape;
                self.parts.push(part);
            }
            // Series of the same name after the first (in the body's order) are duplicates.
            _ if s.seen == scrape => dropped.duplicate += 1,
            (State::Admitted, _) => {
                s.seen = scrape;
                s.emit_value(value, ts_ms, elapsed_s, out);
            }
            (State::Pending, _) => {
                s.seen = scrape;
                self.parts.push(part);
            }
        }
    }

    /// The values that waited: each admitted series' buckets, quantiles or first value.
    fn emit_parts(&mut self, ts_ms: i64, elapsed_s: Option<f64>, out: &mut Vec<Sample>) {
        let mut parts = std::mem::take(&mut self.parts);
        parts.sort_unstable_by(|a, b| {
            a.slot
                .cmp(&b.slot)
                .then(a.bound.total_cmp(&b.bound))
                .then(a.line.cmp(&b.line))
        });
        for group in parts.chunk_by(|a, b| a.slot == b.slot) {
            let s = &mut self.slots[group[0].slot as usize];
            if s.state != State::Admitted {
                continue;
            }
            match s.kind {
                Kind::Gauge | Kind::Counter | Kind::Count => {
                    s.emit_value(group[0].value, ts_ms, elapsed_s, out)
                }
                Kind::Histogram => {
                    let usable =
                        cumulative(group.iter().map(|p| (p.bound, p.value)), &mut self.buckets);
                    let now = usable.then_some(self.buckets.as_slice());
                    s.emit_histogram(now, &mut self.delta, ts_ms, elapsed_s, out);
                }
                Kind::Summary => {
                    for (i, p) in group.iter().enumerate() {
                        let repeated = i > 0 && group[i - 1].bound == p.bound;
                        if p.bound.is_finite() && !repeated {
                            s.push(Some(Stat::Quantile(p.bound.to_bits())), p.value, ts_ms, out);
                        }
                    }
                }
            }
        }
        self.parts = parts;
    }
}

/// Takes the label `name` out of `labels`: its value.
fn take_label<'a>(labels: &mut Vec<Label<'a>>, name: &str) -> Option<Cow<'a, str>> {
    let i = labels.iter().position(|(k, _)| *k == name)?;
    Some(labels.remove(i).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &mut Series, text: &str, ts_ms: i64, d: &mut Dropped) -> Vec<Sample> {
        s.read(text.as_bytes(), ts_ms, d).unwrap().samples
    }

    fn values(samples: &[Sample]) -> HashMap<String, f64> {
        samples
            .iter()
            .map(|s| (s.signal.to_string(), s.value))
            .collect()
    }

    fn names(samples: &[Sample]) -> Vec<&str> {
        let mut names: Vec<&str> = samples.iter().map(|x| &*x.signal).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn counters_become_rates_and_resets_are_never_negative() {
        let mut s = Series::new("app", 100, SeriesFilter::default());
        let mut d = Dropped::default();
        let text = |n: f64| format!("# TYPE reqs_total counter\nreqs_total{{code=\"200\"}} {n}\n");
        assert!(read(&mut s, &text(100.0), 0, &mut d).is_empty());
        let v = values(&read(&mut s, &text(150.0), 2_000, &mut d));
        assert_eq!(v["scrape.app.reqs_total.per_s.code_200"], 25.0);
        // Reset: the counter restarted from 0 and is at 10 now.
        let v = values(&read(&mut s, &text(10.0), 4_000, &mut d));
        assert_eq!(v["scrape.app.reqs_total.per_s.code_200"], 5.0);
        assert_eq!(d, Dropped::default());
    }

    #[test]
    fn histograms_give_interval_quantiles_and_rate() {
        let mut s = Series::new("app", 100, SeriesFilter::default());
        let mut d = Dropped::default();
        // The buckets out of order and with another series' line between them.
        let text = |b: [u32; 4], sum: u32| {
            format!(
                "# TYPE lat histogram\nlat_bucket{{le=\"0.5\"}} {}\nlat_bucket{{le=\"0.1\"}} {}\ntemp 1\nlat_bucket{{le=\"1\"}} {}\nlat_bucket{{le=\"+Inf\"}} {}\nlat_sum {sum}\nlat_count {}\n",
                b[1], b[0], b[2], b[3], b[3]
            )
        };
        assert_eq!(
            names(&read(&mut s, &text([5, 5, 5, 5], 1), 0, &mut d)),
            ["scrape.app.temp"]
        );
        // The interval adds 10 ≤ 0.1, 80 in (0.1, 0.5], 10 in (0.5, 1].
        let v = values(&read(&mut s, &text([15, 95, 105, 105], 30), 1_000, &mut d));
        assert_eq!(v.len(), 4, "{v:?}");
        assert_eq!(v["scrape.app.lat.per_s"], 100.0);
        assert_eq!(v["scrape.app.lat.p50"], 0.1 + 0.4 * 40.0 / 80.0);
        assert!((v["scrape.app.lat.p99"] - 0.95).abs() < 1e-12);
        // No observations: a zero rate and no quantiles.
        let v = values(&read(&mut s, &text([15, 95, 105, 105], 30), 2_000, &mut d));
        assert_eq!(v.len(), 2);
        assert_eq!(v["scrape.app.lat.per_s"], 0.0);
        assert_eq!(d, Dropped::default());
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
        let v = values(&read(&mut s, &text(10), 0, &mut d));
        assert_eq!(v["scrape.app.rpc.p50"], 0.2);
        assert_eq!(v["scrape.app.temp"], 21.5);
        assert!(
            !v.contains_key("scrape.app.rpc.p99"),
            "NaN is skipped: {v:?}"
        );
        let v = values(&read(&mut s, &text(30), 2_000, &mut d));
        assert_eq!(v["scrape.app.rpc.per_s"], 10.0);
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(d, Dropped::default());
    }

    #[test]
    fn the_series_cap_admits_in_name_order_and_keeps_its_choice() {
        let mut s = Series::new("app", 3, SeriesFilter::default());
        let mut d = Dropped::default();
        let all = "b 2\na 1\nd 4\nc 3\ne 5\n";
        let v = read(&mut s, all, 0, &mut d);
        assert_eq!(names(&v), ["scrape.app.a", "scrape.app.b", "scrape.app.c"]);
        assert_eq!(d.limit, 2);
        // `a` is gone: its place goes to the first refused series.
        let v = read(&mut s, "e 5\nd 4\nc 3\nb 2\n", 1_000, &mut d);
        assert_eq!(names(&v), ["scrape.app.b", "scrape.app.c", "scrape.app.d"]);
        assert_eq!(d.limit, 3);
        // The lines kept are the admitted series' (a refused one is read anew each time).
        assert_eq!(s.lines.len(), 3);
        assert_eq!(s.admitted, 3);
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
                    go_goroutines 7\napp_debug_x 1\napp_level{path=\"/a,b\"} 1\napp_level 2\n\
                    q_depth{q=\"1\"} 1\nq_depth{q=\"2\"} 1\nq_depth{q=\"3\"} 1\nz_x 1\n\
                    # TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 1\nlat_count 1\nlat_sum 1\n";
        let v = read(&mut s, text, 0, &mut d);
        // Excluded: code 200, go_*, app_debug_*, the label value /a,b, the histogram.
        assert_eq!(d.excluded, 5);
        // Admitted in name order: app_level, http_requests_total 503 (a counter: no value
        // yet), q_depth 1; refused: q_depth 2 and 3, z_x.
        assert_eq!(names(&v), ["scrape.t.app_level", "scrape.t.q_depth.q_1"]);
        assert_eq!(d.limit, 3);
        assert_eq!(d.refused.top(), [("q_depth".into(), 2), ("z_x".into(), 1)]);
        // The next scrape finds the excluded series by their lines, and counts them again.
        let mut d = Dropped::default();
        let v = values(&read(&mut s, text, 1_000, &mut d));
        assert_eq!(d.excluded, 5);
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
        read(&mut s, &text(1), 0, &mut d);
        let first = read(&mut s, &text(2), 1_000, &mut d);
        let second = read(&mut s, &text(3), 2_000, &mut d);
        assert_eq!(
            names(&first),
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
        // Every signal of a known series is the allocation made for it the first time.
        assert_eq!(first.len(), second.len());
        let made: HashMap<&str, &Arc<str>> =
            first.iter().map(|x| (&*x.signal, &x.signal)).collect();
        for b in &second {
            let a = made[&*b.signal];
            assert!(Arc::ptr_eq(a, &b.signal), "{} was made anew", b.signal);
        }
        // One known line per sample line (the `_sum` and `_count` lines too).
        assert_eq!(s.lines.len(), 9);
        assert_eq!(d, Dropped::default());
    }

    #[test]
    fn a_series_written_another_way_is_the_same_series() {
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let mut d = Dropped::default();
        read(&mut s, "x{b=\"2\",a=\"1\"} 1\n", 0, &mut d);
        let v = read(
            &mut s,
            "x{a=\"1\", b=\"2\"} 5 1700000000000\n",
            1_000,
            &mut d,
        );
        assert_eq!(values(&v)["scrape.app.x.a_1.b_2"], 5.0);
        assert_eq!(s.admitted, 1);
        // Both at once: the second is a duplicate, and so are the unsafe characters' twins.
        let v = read(
            &mut s,
            "x{b=\"2\",a=\"1\"} 1\nx{a=\"1\",b=\"2\"} 2\ny{p=\"/a\"} 1\ny{p=\"_a\"} 2\n",
            2_000,
            &mut d,
        );
        assert_eq!(values(&v)["scrape.app.x.a_1.b_2"], 1.0);
        assert_eq!(v.len(), 2);
        assert_eq!(d.duplicate, 2);
        // The same again: still counted, from the known lines.
        read(
            &mut s,
            "x{b=\"2\",a=\"1\"} 1\nx{a=\"1\",b=\"2\"} 2\ny{p=\"/a\"} 1\ny{p=\"_a\"} 2\n",
            3_000,
            &mut d,
        );
        assert_eq!(d.duplicate, 4);
    }

    #[test]
    fn bad_lines_are_skipped_counted_and_said_and_the_rest_is_read() {
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let mut d = Dropped::default();
        let huge = "v".repeat(1 << 20);
        let body = format!(
            "ok 1\nbad{{a=\"1\" 2\nbad{{a=\"1\",a=\"2\"}} 3\nbad{{a=1}} 4\nbad 4x\n\
             bad-name 5\nesc{{p=\"C:\\temp\\\\x\\\"y\\n\"}} 6\nhuge{{v=\"{huge}\"}} 7\n\
             # TYPE h histogram\nh_bucket{{le=\"x\"}} 1\nh_bucket 2\n# TYPE s summary\ns 3\n"
        );
        let r = s.read(body.as_bytes(), 0, &mut d).unwrap();
        assert_eq!(r.invalid_lines, 8);
        assert_eq!(
            r.first_invalid,
            Some((2, "its label set is not closed by `}`"))
        );
        let v = values(&r.samples);
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v["scrape.app.ok"], 1.0);
        // An unknown escape keeps its backslash; the others are undone.
        assert_eq!(v["scrape.app.esc.p_C__temp_x_y_"], 6.0);
        // A huge value is cut in the name, with a hash of the whole.
        let name = r.samples.iter().find(|x| x.value == 7.0).unwrap();
        assert!(name.signal.len() < 100, "{}", name.signal);
        // Each malformed kind, alone, says what is wrong.
        for (line, reason) in [
            ("bad{a=\"1\",a=\"2\"} 3", "a label name is given twice"),
            ("bad{a=1} 4", "a label value is not in double quotes"),
            ("bad 4x", "its value is not a number"),
            (
                "bad-name 5",
                "the metric name holds characters other than letters, digits, `_` and `:`",
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"x\"} 1",
                "a bucket's `le` is not a number",
            ),
            (
                "# TYPE h histogram\nh_bucket 1",
                "a histogram bucket has no `le` label",
            ),
            (
                "# TYPE s summary\ns 1",
                "a summary's sample has no `quantile` label",
            ),
        ] {
            let mut s = Series::new("app", 10, SeriesFilter::default());
            let r = s
                .read(format!("ok 1\n{line}\n").as_bytes(), 0, &mut d)
                .unwrap();
            assert_eq!(r.invalid_lines, 1, "{line}");
            assert_eq!(r.first_invalid.unwrap().1, reason, "{line}");
        }
    }

    #[test]
    fn a_body_without_a_sample_is_refused_and_changes_nothing() {
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let mut d = Dropped::default();
        read(&mut s, "# TYPE c counter\nc 10\ng 1\n", 0, &mut d);
        for garbage in [
            "<html><body>Not Found</body></html>\n",
            "\u{0}\u{1}garbage{{{ \n}}} 1 2 3\n",
        ] {
            let e = s.read(garbage.as_bytes(), 1_000, &mut d).unwrap_err();
            assert_eq!(e.reason(), "parse");
            assert!(e.to_string().contains("line 1"), "{e}");
        }
        // The series and the counter's baseline (and the time it was taken) are still there.
        assert_eq!(s.admitted, 2);
        let v = values(&read(
            &mut s,
            "# TYPE c counter\nc 30\ng 1\n",
            2_000,
            &mut d,
        ));
        assert_eq!(v["scrape.app.c.per_s"], 10.0);
        // Only comments, or nothing: no error, no samples.
        assert!(read(&mut s, "# HELP x y\n", 3_000, &mut d).is_empty());
        assert!(read(&mut s, "", 4_000, &mut d).is_empty());
        assert_eq!(s.admitted, 0);
    }

    #[test]
    fn openmetrics_text_is_read() {
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let mut d = Dropped::default();
        let text = |n: u32| {
            format!(
                "# TYPE jobs counter\n# HELP jobs Jobs.\njobs_total{{q=\"a\"}} {n} # {{trace_id=\"x\"}} 1 1700000000.1\n\
                 jobs_created{{q=\"a\"}} 1700000000\n# TYPE temp gauge\ntemp 2 1700000000.5\n# EOF\nafter_eof 1\n"
            )
        };
        assert_eq!(
            names(&read(&mut s, &text(10), 0, &mut d)),
            ["scrape.app.temp"]
        );
        let v = values(&read(&mut s, &text(30), 2_000, &mut d));
        assert_eq!(v["scrape.app.jobs_total.per_s.q_a"], 10.0);
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn a_changed_type_reads_the_lines_anew_and_absent_lines_are_forgotten() {
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let mut d = Dropped::default();
        read(&mut s, "# TYPE x gauge\nx 1\n", 0, &mut d);
        assert_eq!(
            values(&read(&mut s, "# TYPE x gauge\nx 2\n", 1_000, &mut d))["scrape.app.x"],
            2.0
        );
        // Now a counter: no value on its first scrape as one, then a rate.
        assert!(read(&mut s, "# TYPE x counter\nx 10\n", 2_000, &mut d).is_empty());
        let v = values(&read(&mut s, "# TYPE x counter\nx 20\n", 3_000, &mut d));
        assert_eq!(v["scrape.app.x.per_s"], 10.0);
        // Lines and series of earlier scrapes are not kept once absent.
        for i in 0..50 {
            read(&mut s, &format!("y{{i=\"{i}\"}} 1\n"), 4_000 + i, &mut d);
        }
        assert_eq!((s.lines.len(), s.by_key.len(), s.admitted), (1, 1, 1));
        assert!(s.slots.len() <= 2, "{}", s.slots.len());
        assert!(s.types.is_empty());
    }

    #[test]
    fn a_second_type_for_a_metric_in_one_body_is_malformed_and_the_first_holds() {
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let body = |n: u32| format!("# TYPE x counter\nx {n}\n# TYPE x gauge\ny 1\n");
        let mut d = Dropped::default();
        let first = s.read(body(10).as_bytes(), 0, &mut d).unwrap();
        assert_eq!(first.invalid_lines, 1);
        assert_eq!(
            first.first_invalid,
            Some((
                3,
                "a second `# TYPE` line for the metric, with another type"
            ))
        );
        // Still a counter, and its lines are kept from one scrape to the next (the body is
        // not read anew because of the second line).
        let next = s.read(body(30).as_bytes(), 2_000, &mut d).unwrap();
        assert_eq!(next.invalid_lines, 1);
        assert_eq!(values(&next.samples)["scrape.app.x.per_s"], 10.0);
        assert_eq!(s.lines.len(), 2);
        assert_eq!(s.hits, 2, "both lines were found among the known ones");
    }

    #[test]
    fn garbage_reads_to_nothing_without_panicking() {
        let mut s = Series::new("app", 10, SeriesFilter::default());
        let mut d = Dropped::default();
        for text in [
            "\u{0}\u{1}garbage{{{ \n}}} 1 2 3\n",
            "# TYPE x histogram\nx_bucket{le=\"abc\"} 1\nx_bucket 3\n",
            "# TYPE y summary\ny{quantile=\"x\"} 1\n",
            "a{b=\"c\",=} 1 999999999999999999999\n",
            "<html><body>Not Found</body></html>",
            "\u{ff}\u{fe} 1\nz{a=\"\u{ff}\"} 1\n",
        ] {
            let _ = s.read(text.as_bytes(), 0, &mut d);
            let _ = s.read(&text.as_bytes()[..text.len() / 2], 0, &mut d);
        }
    }
}
