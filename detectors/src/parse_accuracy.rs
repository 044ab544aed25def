//! Grouping accuracy of a log parser (Zhu et al., ICSE-SEIP 2019, LogPAI's `evaluator.py`):
//! a line is correct when the set of lines its parser put in its group is exactly the set of
//! lines that share its ground-truth event.

use std::collections::HashMap;
use std::hash::Hash;

/// Share of lines, in `[0, 1]`, whose predicted group equals their ground-truth group.
/// `predicted[i]` and `truth[i]` label line `i`; extra labels on either side are ignored.
/// Empty input scores 0.
pub fn grouping_accuracy<P: Eq + Hash, T: Eq + Hash>(predicted: &[P], truth: &[T]) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    let mut truth_size: HashMap<&T, usize> = HashMap::new();
    for t in &truth[..n] {
        *truth_size.entry(t).or_default() += 1;
    }
    // Per predicted group: its size and the single truth label it holds (None once mixed).
    let mut groups: HashMap<&P, (usize, Option<&T>, bool)> = HashMap::new();
    for (p, t) in predicted[..n].iter().zip(&truth[..n]) {
        let g = groups.entry(p).or_insert((0, Some(t), false));
        g.0 += 1;
        if g.1 != Some(t) {
            g.2 = true;
        }
    }
    let correct: usize = groups
        .values()
        .filter_map(|&(size, t, mixed)| {
            let t = t?;
            (!mixed && truth_size.get(t) == Some(&size)).then_some(size)
        })
        .sum();
    correct as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::grouping_accuracy;

    #[test]
    fn exact_groups_only() {
        // Truth: A = {0,1}, B = {2,3}, C = {4}.
        let truth = ["A", "A", "B", "B", "C"];
        assert_eq!(grouping_accuracy(&[1, 1, 2, 2, 3], &truth), 1.0);
        // Label names do not matter.
        assert_eq!(grouping_accuracy(&[9, 9, 7, 7, 8], &truth), 1.0);
        // B split in two: its lines are wrong.
        assert_eq!(grouping_accuracy(&[1, 1, 2, 4, 3], &truth), 0.6);
        // B and C merged: all three wrong.
        assert_eq!(grouping_accuracy(&[1, 1, 2, 2, 2], &truth), 0.4);
        // Everything in one group.
        assert_eq!(grouping_accuracy(&[0, 0, 0, 0, 0], &truth), 0.0);
        assert_eq!(grouping_accuracy::<u8, u8>(&[], &[]), 0.0);
    }
}
