//! Series refused at `max_series`, by metric family: what one scrape refused, the bounded list
//! an operator is shown (`seismo_scrape_series_refused`, the WARN line), and when that line is
//! logged (once per period, and again as soon as the set of families changes).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Families listed per target; the rest are summed under [`OTHER`].
pub(crate) const MAX_FAMILIES: usize = 100;
/// The family the unlisted rest is summed under (no metric name has parentheses).
pub(crate) const OTHER: &str = "(other)";
/// Families named in the WARN line.
const LOGGED_FAMILIES: usize = 5;

/// Series refused in one scrape, by family (bounded by the body's series).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RefusedFamilies(HashMap<String, u64>);

impl RefusedFamilies {
    pub(crate) fn add(&mut self, family: &str) {
        match self.0.get_mut(family) {
            Some(n) => *n += 1,
            None => {
                self.0.insert(family.to_owned(), 1);
            }
        }
    }

    /// The families, most refused first (then by name), at most [`MAX_FAMILIES`] rows: past
    /// that, the last row is [`OTHER`] with the rest's sum.
    pub(crate) fn top(&self) -> Vec<(String, u64)> {
        let mut all: Vec<(&String, u64)> = self.0.iter().map(|(k, v)| (k, *v)).collect();
        all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        if all.len() <= MAX_FAMILIES {
            return all.into_iter().map(|(k, v)| (k.clone(), v)).collect();
        }
        let rest: u64 = all[MAX_FAMILIES - 1..].iter().map(|f| f.1).sum();
        let mut out: Vec<(String, u64)> = all[..MAX_FAMILIES - 1]
            .iter()
            .map(|(k, v)| ((*k).clone(), *v))
            .collect();
        out.push((OTHER.to_owned(), rest));
        out
    }
}

/// `queue_depth: 8, zz_extra: 3 and 2 more families` for the log.
pub(crate) fn describe(top: &[(String, u64)]) -> String {
    let mut text = top
        .iter()
        .take(LOGGED_FAMILIES)
        .map(|(f, n)| format!("{f}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if top.len() > LOGGED_FAMILIES {
        text.push_str(&format!(
            " and {} more families",
            top.len() - LOGGED_FAMILIES
        ));
    }
    text
}

/// What to log about a scrape's refused families.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// Log them (first time, a changed set of families, or the period passed).
    Refused,
    /// Nothing is refused any more (after a logged refusal).
    Cleared,
}

/// Decides when the refused families are logged.
#[derive(Debug)]
pub(crate) struct RefusedLog {
    period: Duration,
    last: Option<Instant>,
    /// The families of the last line logged; empty when none is refused.
    families: Vec<String>,
}

impl RefusedLog {
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            period,
            last: None,
            families: Vec::new(),
        }
    }

    /// Called after every scrape with its [`RefusedFamilies::top`].
    pub(crate) fn observe(&mut self, top: &[(String, u64)]) -> Option<Report> {
        if top.is_empty() {
            let was = !self.families.is_empty();
            self.families.clear();
            return was.then_some(Report::Cleared);
        }
        let mut families: Vec<String> = top.iter().map(|f| f.0.clone()).collect();
        families.sort_unstable();
        let now = Instant::now();
        let due = self
            .last
            .is_none_or(|t| now.duration_since(t) >= self.period);
        if families == self.families && !due {
            return None;
        }
        self.families = families;
        self.last = Some(now);
        Some(Report::Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_counted_and_bounded_with_the_rest_as_other() {
        let mut r = RefusedFamilies::default();
        for f in ["b", "a", "b", "c", "b", "a"] {
            r.add(f);
        }
        assert_eq!(r.top(), [("b".into(), 3), ("a".into(), 2), ("c".into(), 1)]);
        assert_eq!(describe(&r.top()), "b: 3, a: 2, c: 1");
        let mut many = RefusedFamilies::default();
        for i in 0..250 {
            for _ in 0..(1 + i % 3) {
                many.add(&format!("f{i:03}"));
            }
        }
        let top = many.top();
        assert_eq!(top.len(), MAX_FAMILIES);
        let total: u64 = top.iter().map(|f| f.1).sum();
        assert_eq!(total, (0..250).map(|i| 1 + i % 3).sum::<u64>());
        assert_eq!(top[0], ("f002".into(), 3));
        assert_eq!(top[MAX_FAMILIES - 1].0, OTHER);
        assert!(
            describe(&top).ends_with(" and 95 more families"),
            "{}",
            describe(&top)
        );
    }

    #[test]
    fn logged_first_again_when_the_families_change_and_when_cleared() {
        let mut log = RefusedLog::new(Duration::from_secs(3600));
        let top = |fs: &[(&str, u64)]| -> Vec<(String, u64)> {
            fs.iter().map(|(f, n)| (f.to_string(), *n)).collect()
        };
        assert_eq!(log.observe(&top(&[])), None);
        assert_eq!(log.observe(&top(&[("a", 3)])), Some(Report::Refused));
        // Same families (other counts): quiet until the period passes.
        assert_eq!(log.observe(&top(&[("a", 5)])), None);
        assert_eq!(
            log.observe(&top(&[("a", 1), ("b", 1)])),
            Some(Report::Refused)
        );
        assert_eq!(log.observe(&top(&[("b", 2), ("a", 1)])), None);
        assert_eq!(log.observe(&top(&[])), Some(Report::Cleared));
        assert_eq!(log.observe(&top(&[])), None);
        assert_eq!(
            log.observe(&top(&[("a", 1), ("b", 1)])),
            Some(Report::Refused)
        );
        let mut every = RefusedLog::new(Duration::ZERO);
        assert_eq!(every.observe(&top(&[("a", 1)])), Some(Report::Refused));
        assert_eq!(every.observe(&top(&[("a", 1)])), Some(Report::Refused));
    }
}
