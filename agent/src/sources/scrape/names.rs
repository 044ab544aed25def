//! Signal names of scraped series: `scrape.{source}.{metric}[.{stat}]{labels}`, where the
//! labels are rendered sorted by name as `.{name}_{value}`, each value made one safe segment.

use std::collections::HashMap;
use std::fmt::Write;

/// Longest label value kept readable; longer ones are cut and suffixed with a hash of the
/// whole value, so two long values stay apart.
const MAX_VALUE_CHARS: usize = 48;

/// The label suffix: `.code_200.method_get` for `{method="get",code="200"}`. Empty values
/// are absent labels (as in Prometheus).
#[cfg(test)]
pub(crate) fn label_suffix(labels: &HashMap<String, String>) -> String {
    let mut out = String::new();
    push_label_suffix(&mut out, labels, &mut Vec::new());
    out
}

/// Appends the label suffix (see [`label_suffix`]) to `out`; `pairs` is scratch space the
/// caller keeps across series, so that a known series costs no allocation.
pub(crate) fn push_label_suffix<'a>(
    out: &mut String,
    labels: &'a HashMap<String, String>,
    pairs: &mut Vec<(&'a str, &'a str)>,
) {
    pairs.clear();
    pairs.extend(
        labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    pairs.sort_unstable();
    for &(k, v) in pairs.iter() {
        out.push('.');
        push_safe(out, k);
        out.push('_');
        let v = super::labels::decode(v);
        if v.chars().count() > MAX_VALUE_CHARS {
            let head: String = v.chars().take(MAX_VALUE_CHARS).collect();
            push_safe(out, &head);
            let _ = write!(out, "_{:08x}", crc32fast::hash(v.as_bytes()));
        } else {
            push_safe(out, &v);
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

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_render_sorted_and_safe() {
        assert_eq!(label_suffix(&labels(&[])), "");
        assert_eq!(
            label_suffix(&labels(&[("method", "get"), ("code", "200")])),
            ".code_200.method_get"
        );
        assert_eq!(
            label_suffix(&labels(&[("path", "/api/v1 x"), ("empty", "")])),
            ".path__api_v1_x"
        );
        // Values come percent-encoded (see `labels`): decoded before they are made safe.
        assert_eq!(
            label_suffix(&labels(&[("q", "say %22hi%22%0A%25")])),
            ".q_say__hi___"
        );
        let long = "x".repeat(100);
        let other = format!("{}y", "x".repeat(99));
        let a = label_suffix(&labels(&[("u", &long)]));
        let b = label_suffix(&labels(&[("u", &other)]));
        assert_ne!(a, b);
        assert_eq!(a.len(), ".u_".len() + 48 + 9);
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
