//! Which of a source's templates get signals of their own (`log.{source}.template.{id}.count`
//! when it ranks among the busiest, `.new` when it is news): those its `include_templates` /
//! `exclude_templates` keep, at most `max_templates` of them. A template takes a place the
//! first time it needs a signal and keeps it while the miner holds it; past the budget a
//! template is refused: its lines still count in the source's `lines_per_s`, `errors_per_s`
//! and `template.other.count`, it gets no signal, and the refused templates are counted
//! (`seismo_log_templates_refused`) and logged when their number grows materially. The places
//! are not saved: after a restart they are taken again in the order templates need them.

use std::collections::HashSet;

use seismo_config::TemplateFilter;

pub(crate) struct TemplateBudget {
    filter: TemplateFilter,
    /// 0: no limit.
    max: usize,
    admitted: HashSet<u64>,
    /// Kept by the filter, but past `max` (at most the miner's templates).
    refused: HashSet<u64>,
    /// The refused count last logged (0: none logged, or cleared since).
    logged: usize,
}

/// What to log about a source's refused templates.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// The first refusal, or twice as many as last logged.
    Refused(usize),
    /// None is refused any more (after a logged refusal).
    Cleared,
}

impl TemplateBudget {
    pub(crate) fn new(filter: TemplateFilter, max: usize) -> Self {
        Self {
            filter,
            max,
            admitted: HashSet::new(),
            refused: HashSet::new(),
            logged: 0,
        }
    }

    /// Reloaded settings: when they changed, the places are taken afresh.
    pub(crate) fn set(&mut self, filter: TemplateFilter, max: usize) {
        if filter != self.filter || max != self.max {
            *self = Self {
                logged: self.logged,
                ..Self::new(filter, max)
            };
        }
    }

    /// Whether template `id`, whose text is now `text`, may have a signal of its own (taking a
    /// place if it has none and one is free). A template the filter leaves out holds no place:
    /// its text can change as the miner generalises it, so the filter is asked every time.
    pub(crate) fn admits(&mut self, id: u64, text: Option<&str>) -> bool {
        if !self.filter.is_empty() && !text.is_some_and(|t| self.filter.keeps(t)) {
            self.admitted.remove(&id);
            self.refused.remove(&id);
            return false;
        }
        if self.admitted.contains(&id) {
            return true;
        }
        if self.max == 0 || self.admitted.len() < self.max {
            self.refused.remove(&id);
            self.admitted.insert(id);
            return true;
        }
        self.refused.insert(id);
        false
    }

    /// The miner let template `id` go: its place (or refusal) goes with it.
    pub(crate) fn forget(&mut self, id: u64) {
        self.admitted.remove(&id);
        self.refused.remove(&id);
    }

    /// Templates refused now.
    pub(crate) fn refused(&self) -> usize {
        self.refused.len()
    }

    /// Called once per interval: what to log, if anything (the first refusal, then each
    /// doubling, and once when none is refused any more).
    pub(crate) fn report(&mut self) -> Option<Report> {
        let now = self.refused.len();
        if now == 0 {
            let was = self.logged > 0;
            self.logged = 0;
            return was.then_some(Report::Cleared);
        }
        if self.logged == 0 || now >= self.logged.saturating_mul(2) {
            self.logged = now;
            return Some(Report::Refused(now));
        }
        None
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_config::TemplatePattern;

    fn filter(include: &[&str], exclude: &[&str]) -> TemplateFilter {
        let list = |p: &[&str]| p.iter().map(|t| TemplatePattern::new(t).unwrap()).collect();
        TemplateFilter {
            include: list(include),
            exclude: list(exclude),
        }
    }

    #[test]
    fn places_go_first_come_and_are_freed_when_the_miner_forgets() {
        let mut b = TemplateBudget::new(TemplateFilter::default(), 2);
        assert!(b.admits(1, Some("a <*>")));
        assert!(b.admits(2, Some("b <*>")));
        assert!(b.admits(1, Some("a <*>")), "a place is kept");
        assert!(!b.admits(3, Some("c")));
        assert!(!b.admits(4, Some("d")));
        assert!(!b.admits(3, Some("c")));
        assert_eq!(b.refused(), 2);
        b.forget(2);
        assert!(
            b.admits(4, Some("d")),
            "a freed place goes to the next asking"
        );
        assert_eq!(b.refused(), 1);
        b.forget(3);
        assert_eq!(b.refused(), 0);
        let mut unlimited = TemplateBudget::new(TemplateFilter::default(), 0);
        assert!((0..5000).all(|id| unlimited.admits(id, None)));
    }

    #[test]
    fn the_filter_decides_first_and_left_out_templates_take_no_place() {
        let mut b = TemplateBudget::new(filter(&["*error*", "*timeout*"], &["*health*"]), 1);
        assert!(!b.admits(1, Some("request served in <*> ms")));
        assert!(!b.admits(2, Some("health check error")));
        assert!(!b.admits(3, None), "no text: not shown to be included");
        assert_eq!(b.refused(), 0, "left out is not refused");
        assert!(b.admits(4, Some("read timeout on <*>")));
        assert!(!b.admits(5, Some("disk error")));
        assert_eq!(b.refused(), 1);
        // Template 4 generalised into text the filter leaves out: its place is free again.
        assert!(!b.admits(4, Some("health <*> on <*>")));
        assert!(b.admits(5, Some("disk error")));
        assert_eq!(b.refused(), 0);
    }

    #[test]
    fn refusals_are_reported_first_on_each_doubling_and_when_cleared() {
        let mut b = TemplateBudget::new(TemplateFilter::default(), 1);
        assert_eq!(b.report(), None);
        b.admits(0, None);
        b.admits(1, None);
        assert_eq!(b.report(), Some(Report::Refused(1)));
        assert_eq!(b.report(), None);
        b.admits(2, None);
        assert_eq!(b.report(), Some(Report::Refused(2)));
        b.admits(3, None);
        assert_eq!(b.report(), None, "3 is not twice 2");
        b.admits(4, None);
        assert_eq!(b.report(), Some(Report::Refused(4)));
        for id in 1..=4 {
            b.forget(id);
        }
        assert_eq!(b.report(), Some(Report::Cleared));
        assert_eq!(b.report(), None);
        b.admits(9, None);
        assert_eq!(b.report(), Some(Report::Refused(1)));
        // New settings take the places afresh.
        b.set(TemplateFilter::default(), 3);
        assert_eq!(b.refused(), 0);
        assert!(b.admits(9, None) && b.admits(10, None) && b.admits(11, None));
        assert!(!b.admits(12, None));
    }
}
