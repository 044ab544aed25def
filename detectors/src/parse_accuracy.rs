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

/// F1 over groups (FGA, Loghub-2.0: Jiang et al., ISSTA 2024): a predicted group is correct when
/// it holds exactly the lines of one ground-truth group; precision is the share of predicted
/// groups that are correct, recall the share of ground-truth groups found, FGA their harmonic
/// mean. Unlike [`grouping_accuracy`], every template counts the same whatever its line count,
/// so rare templates weigh as much as frequent ones. Empty input or no correct group scores 0.
pub fn f1_group_accuracy<P: Eq + Hash, T: Eq + Hash>(predicted: &[P], truth: &[T]) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    let mut truth_size: HashMap<&T, usize> = HashMap::new();
    for t in &truth[..n] {
        *truth_size.entry(t).or_default() += 1;
    }
    let mut groups: HashMap<&P, (usize, &T, bool)> = HashMap::new();
    for (p, t) in predicted[..n].iter().zip(&truth[..n]) {
        let g = groups.entry(p).or_insert((0, t, false));
        g.0 += 1;
        if g.1 != t {
            g.2 = true;
        }
    }
    let correct = groups
        .values()
        .filter(|&&(size, t, mixed)| !mixed && truth_size.get(t) == Some(&size))
        .count();
    if correct == 0 {
        return 0.0;
    }
    let precision = correct as f64 / groups.len() as f64;
    let recall = correct as f64 / truth_size.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Parsing accuracy (PA, Loghub-2.0): the share of lines whose template text equals their
/// ground-truth template, the latter normalised as Loghub-2.0 does ([`loghub_normalize`]);
/// the parser's own text is taken as it is (so a variable left partly literal, `blk_<*>` for
/// `<*>`, is a miss). Empty input scores 0.
pub fn parsing_accuracy<A: AsRef<str>, B: AsRef<str>>(predicted: &[A], truth: &[B]) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    let equal = predicted[..n]
        .iter()
        .zip(&truth[..n])
        .filter(|(p, t)| p.as_ref() == loghub_normalize(t.as_ref()))
        .count();
    equal as f64 / n as f64
}

/// A ground-truth template as Loghub-2.0's evaluation normalises it before comparing template
/// texts (its `correct_single_template`, with the rules it applies): white space runs become
/// one space (DS); between delimiters (white space and `,!;:=|"'[](){}.-+@#$%&`), a run of
/// digits is a variable (DG), and so is a run that holds a variable and no `/` (WV: `blk_<*>`
/// → `<*>`); then variables joined by `.` are one (DV), adjacent ones are one (CV), and
/// ` #<*># `, ` #<*> `, `<*>:<*>`, `<*>#<*>`, `<*>/<*>`, `<*>@<*>`, `<*>.<*>`, ` "<*>" `,
/// ` '<*>' ` and `<*><*>` become one variable, in that order, each until none is left.
pub fn loghub_normalize(template: &str) -> String {
    const DELIMITERS: &str = ",!;:=|\"'[](){}.-+@#$%&";
    let ds = template.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(ds.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = !run.is_empty() && run.bytes().all(|b| b.is_ascii_digit());
        if digits || (run.contains("<*>") && !run.contains('/')) {
            out.push_str("<*>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for ch in ds.chars() {
        if ch == ' ' || DELIMITERS.contains(ch) {
            flush(&mut run, &mut out);
            out.push(ch);
        } else {
            run.push(ch);
        }
    }
    flush(&mut run, &mut out);
    let until_gone = |t: &mut String, from: &str, to: &str| {
        while t.contains(from) {
            *t = t.replace(from, to);
        }
    };
    until_gone(&mut out, "<*>.<*>", "<*>");
    until_gone(&mut out, "<*><*>", "<*>");
    for (from, to) in [
        (" #<*># ", " <*> "),
        (" #<*> ", " <*> "),
        ("<*>:<*>", "<*>"),
        ("<*>#<*>", "<*>"),
        ("<*>/<*>", "<*>"),
        ("<*>@<*>", "<*>"),
        ("<*>.<*>", "<*>"),
        (" \"<*>\" ", " <*> "),
        (" '<*>' ", " <*> "),
        ("<*><*>", "<*>"),
    ] {
        until_gone(&mut out, from, to);
    }
    out
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
    loghub_column(csv, "EventId")
}

/// One column of a Loghub structured CSV (`EventTemplate` for [`parsing_accuracy`]), in order.
/// `None` when the header lacks it or a row stops before it.
pub fn loghub_column(csv: &str, name: &str) -> Option<Vec<String>> {
    let rows = csv_rows(csv);
    let (header, lines) = rows.split_first()?;
    let col = header.iter().position(|h| h == name)?;
    lines.iter().map(|r| r.get(col).cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::{
        csv_rows, f1_group_accuracy, grouping_accuracy, loghub_column, loghub_event_ids,
        loghub_normalize, parsing_accuracy,
    };

    #[test]
    fn ground_truth_is_normalised_as_loghub_2_does() {
        let n = loghub_normalize;
        assert_eq!(n("  open   blk_<*>  now "), "open <*> now");
        assert_eq!(n("version 1.2.3 ready"), "version <*> ready");
        assert_eq!(
            n("uid=<*> [worker-<*>] <*>.dll"),
            "uid=<*> [worker-<*>] <*>.dll"
        );
        assert_eq!(n("from <*>:<*> at <*>/<*>"), "from <*> at <*>");
        assert_eq!(n("path /a/<*>/b ok"), "path /a/<*>/b ok");
        assert_eq!(n("name \"<*>\" set"), "name <*> set");
        assert_eq!(n("attempt_<*>_<*>_<*>"), "<*>");
        // The truth's form is what counts: the parser's text is not normalised.
        assert_eq!(parsing_accuracy(&["open <*>"], &["open blk_<*>"]), 1.0);
        assert_eq!(parsing_accuracy(&["open blk_<*>"], &["open blk_<*>"]), 0.0);
    }

    #[test]
    fn f1_over_groups_weighs_each_template_once() {
        // Truth: A = {0,1,2,3}, B = {4}, C = {5}.
        let truth = ["A", "A", "A", "A", "B", "C"];
        assert_eq!(f1_group_accuracy(&[1, 1, 1, 1, 2, 3], &truth), 1.0);
        // B and C merged: 1 of 2 predicted groups correct, 1 of 3 truth groups found.
        let f = f1_group_accuracy(&[1, 1, 1, 1, 2, 2], &truth);
        assert!(
            (f - 2.0 * 0.5 * (1.0 / 3.0) / (0.5 + 1.0 / 3.0)).abs() < 1e-12,
            "{f}"
        );
        // GA would give 4/6 there; A split instead: 2 of 4 predicted, 2 of 3 truth groups.
        let f = f1_group_accuracy(&[1, 1, 9, 9, 2, 3], &truth);
        assert!(
            (f - 2.0 * 0.5 * (2.0 / 3.0) / (0.5 + 2.0 / 3.0)).abs() < 1e-12,
            "{f}"
        );
        assert_eq!(f1_group_accuracy(&[0, 0, 0, 0, 0, 0], &truth), 0.0);
        assert_eq!(f1_group_accuracy::<u8, u8>(&[], &[]), 0.0);
    }

    #[test]
    fn parsing_accuracy_needs_the_exact_template() {
        let truth = ["open <*>", "open <*>", "close <*>"];
        assert_eq!(
            parsing_accuracy(&["open <*>", "open <*>", "close <*>"], &truth),
            1.0
        );
        let pa = parsing_accuracy(&["open blk_<*>", "open <*>", "close <*> "], &truth);
        assert!((pa - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(parsing_accuracy::<&str, &str>(&[], &[]), 0.0);
        let csv = "LineId,EventId,EventTemplate\n1,E1,\"a, <*>\"\n";
        assert_eq!(
            loghub_column(csv, "EventTemplate"),
            Some(vec!["a, <*>".into()])
        );
    }

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
