//! Signal names of scraped series: `scrape.{source}.{metric}[.{stat}]{labels}`, where the
//! labels are rendered sorted by name as `.{name}_{value}`, each value made one safe segment.

use std::fmt::Write;

use super::labels::Label;

/// Longest label value kept readable; longer ones are cut and suffixed with a hash of the
/// whole value, so two long values stay apart.
const MAX_VALUE_CHARS: usize = 48;

/// Appends the label suffix to `out`: `.code_200.method_get` for `{method="get",code="200"}`
/// (`labels` is sorted by name here). Empty values are absent labels (as in Prometheus).
pub(crate) fn push_label_suffix(out: &mut String, labels: &mut [Label<'_>]) {
    labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (k, v) in labels.iter().filter(|(_, v)| !v.is_empty()) {
        out.push('.');
        push_safe(out, k);
        out.push('_');
        if v.chars().count() > MAX_VALUE_CHARS {
            let head: String = v.chars().take(MAX_VALUE_CHARS).collect();
            push_safe(out, &head);
            let _ = write!(out, "_{:08x}", crc32fast::hash(v.as_bytes()));
        } else {
            push_safe(out, v);
        }
    }
}

/// Letters, digits, `_` and `-` kept; anything else becomes `_`.
pub(crate) fn push_safe(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '_'
        }
    }));
}

/// `0.5` → `p50`, `0.99` → `p99`, `0.999` → `p99_9`.
pub(crate) fn quantile_name(q: f64) -> String {
    let pct = (q * 100.0 * 1e6).round() / 1e6;
    let mut out = String::from("p");
    push_safe(&mut out, &format!("{pct}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label_suffix(pairs: &[(&str, &str)]) -> String {
        let mut labels: Vec<Label> = pairs.iter().map(|(k, v)| (*k, (*v).into())).collect();
        let mut out = String::new();
        push_label_suffix(&mut out, &mut labels);
        out
    }

    #[test]
    fn labels_render_sorted_and_safe() {
        assert_eq!(label_suffix(&[]), "");
        assert_eq!(
            label_suffix(&[("method", "get"), ("code", "200")]),
            ".code_200.method_get"
        );
        assert_eq!(
            label_suffix(&[("path", "/api/v1 x"), ("empty", "")]),
            ".path__api_v1_x"
        );
        assert_eq!(label_suffix(&[("q", "say \"hi\"\n%")]), ".q_say__hi___");
        // Long values are cut, with a hash of the whole value; a huge one stays bounded.
        let long = "x".repeat(100);
        let other = format!("{}y", "x".repeat(99));
        let a = label_suffix(&[("u", &long)]);
        let b = label_suffix(&[("u", &other)]);
        assert_ne!(a, b);
        assert_eq!(a.len(), ".u_".len() + 48 + 9);
        assert_eq!(
            label_suffix(&[("u", &"é".repeat(1 << 20))]).len(),
            ".u_".len() + 48 + 9
        );
    }

    #[test]
    fn quantiles_are_named_in_percent() {
        assert_eq!(quantile_name(0.5), "p50");
        assert_eq!(quantile_name(0.99), "p99");
        assert_eq!(quantile_name(0.999), "p99_9");
        assert_eq!(quantile_name(0.0), "p0");
        assert_eq!(quantile_name(1.0), "p100");
    }
}
