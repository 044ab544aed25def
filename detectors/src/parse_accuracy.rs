//! Grouping accuracy of a log parser (Zhu et al., ICSE-SEIP 2019, LogPAI's `evaluator.py`):
//! a line is correct when the set of lines its parser put in its group is exactly the set of
//! lines that share its ground-truth event. Also the reader of that ground truth (Loghub's
//! structured CSV files), which the callers read from disk themselves.

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

/// The rows of a CSV text (RFC 4180: quoted fields with `""` escapes and embedded newlines;
/// CR dropped outside quotes), header row included: what `seismo logparse` prints and what
/// Loghub's ground-truth files hold.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The ground truth of a Loghub structured CSV (`*_structured.csv`): the `EventId` of each
/// line, in order. `None` when the header has no `EventId` column or a row stops before it.
pub fn loghub_event_ids(csv: &str) -> Option<Vec<String>> {
    let rows = csv_rows(csv);
    let (header, lines) = rows.split_first()?;
    let col = header.iter().position(|h| h == "EventId")?;
    lines.iter().map(|r| r.get(col).cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::{csv_rows, grouping_accuracy, loghub_event_ids};

    #[test]
    fn csv_quotes_escapes_newlines_and_crlf() {
        let rows = csv_rows("a,b\r\n\"x, \"\"y\"\"\",\"two\nlines\"\r\nlast,");
        assert_eq!(
            rows,
            [
                vec!["a", "b"],
                vec!["x, \"y\"", "two\nlines"],
                vec!["last", ""]
            ]
        );
        assert!(csv_rows("").is_empty());
    }

    #[test]
    fn event_ids_from_the_eventid_column() {
        let csv = "LineId,EventId,EventTemplate\n1,E1,\"a, b\"\n2,E2,c\n";
        assert_eq!(loghub_event_ids(csv), Some(vec!["E1".into(), "E2".into()]));
        assert_eq!(loghub_event_ids("LineId,Template\n1,x\n"), None);
        assert_eq!(loghub_event_ids("LineId,EventId\n1\n"), None);
        assert_eq!(loghub_event_ids(""), None);
    }

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
