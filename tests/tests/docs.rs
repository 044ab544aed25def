//! The documentation keeps its links honest: every relative link in README.md and docs/*.md
//! names a file that exists and, with a `#fragment`, a heading of that file (GitHub's anchors).
//! External http(s) and mailto links are not followed. README.md stays a front door (at most
//! 300 lines).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// README.md stays short: the rest belongs in docs/.
const README_MAX_LINES: usize = 300;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md and every docs/*.md, sorted.
fn documents() -> Vec<PathBuf> {
    let root = seismo_e2e::repo_root();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root.join("README.md"));
    docs
}

/// Whether `line` opens or closes a fenced code block (``` or ~~~, indented by at most 3).
fn is_fence(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    line.len() - t.len() <= 3 && (t.starts_with("```") || t.starts_with("~~~"))
}

/// The text outside fenced code blocks (fenced lines become empty, so line numbers hold).
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fenced = false;
    for line in text.lines() {
        if is_fence(line) {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// `text` with inline code spans blanked (a run of backticks up to the next run of the same
/// length), newlines kept.
fn without_code_spans(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'`' {
            i += 1;
            continue;
        }
        let run = b[i..].iter().take_while(|&&c| c == b'`').count();
        let mut j = i + run;
        let mut close = None;
        while j < b.len() {
            if b[j] == b'`' {
                let r = b[j..].iter().take_while(|&&c| c == b'`').count();
                if r == run {
                    close = Some(j + r);
                    break;
                }
                j += r;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                out.push_str(&text[copied..i]);
                out.extend(
                    text[i..end]
                        .chars()
                        .map(|c| if c == '\n' { '\n' } else { ' ' }),
                );
                copied = end;
                i = end;
            }
            None => i += run,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The targets of inline links `[text](target)`, with the line each is on (1-based).
fn links(text: &str) -> Vec<(usize, String)> {
    let text = without_code_spans(&prose(text));
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("](") {
        let start = from + at + 2;
        let rest = &text[start..];
        let end = rest
            .find(|c: char| c == ')' || c.is_whitespace())
            .unwrap_or(rest.len());
        let target = rest[..end].trim_matches(|c| c == '<' || c == '>');
        let line = text[..start].matches('\n').count() + 1;
        found.push((line, target.to_owned()));
        from = start + end;
    }
    found
}

/// GitHub's anchor for a heading: lowercase, inline markup dropped, punctuation other than
/// `-` and `_` dropped, spaces to `-`.
fn slug(heading: &str) -> String {
    // A link in a heading anchors on its text.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        match rest[open..].find("](").and_then(|m| {
            let close = rest[open + m..].find(')')?;
            Some((open + m, open + m + close))
        }) {
            Some((mid, close)) => {
                text.push_str(&rest[..open]);
                text.push_str(&rest[open + 1..mid]);
                rest = &rest[close + 1..];
            }
            None => break,
        }
    }
    text.push_str(rest);
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a document's ATX headings, duplicates numbered as GitHub does (`-1`, `-2`).
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for line in prose(text).lines() {
        let t = line.trim_start_matches(' ');
        if line.len() - t.len() > 3 {
            continue;
        }
        let hashes = t.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let rest = &t[hashes..];
        if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
            continue;
        }
        // An optional closing sequence of #s.
        let title = rest.trim().trim_end_matches('#').trim_end();
        let base = slug(title);
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// Every broken relative link of `doc`, as `file:line: target: why`.
fn broken_links(doc: &Path) -> Vec<String> {
    let root = seismo_e2e::repo_root();
    let text = read(doc);
    let name = doc.strip_prefix(&root).unwrap_or(doc).display().to_string();
    let dir = doc.parent().expect("a document has a folder");
    let mut broken = Vec::new();
    for (line, target) in links(&text) {
        let lower = target.to_ascii_lowercase();
        if lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("mailto:")
        {
            continue;
        }
        let (file, fragment) = match target.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (target.as_str(), None),
        };
        let path = if file.is_empty() {
            doc.to_owned()
        } else if file.starts_with('/') {
            broken.push(format!(
                "{name}:{line}: {target}: an absolute path (links must be relative)"
            ));
            continue;
        } else {
            dir.join(file)
        };
        if file.is_empty() && fragment.is_none() {
            broken.push(format!("{name}:{line}: `{target}`: an empty link"));
            continue;
        }
        if !path.exists() {
            broken.push(format!(
                "{name}:{line}: {target}: {} does not exist",
                path.display()
            ));
            continue;
        }
        let Some(fragment) = fragment else { continue };
        if path.extension().is_none_or(|x| x != "md") {
            broken.push(format!(
                "{name}:{line}: {target}: an anchor into a file that is not Markdown"
            ));
            continue;
        }
        if !anchors(&read(&path)).contains(fragment) {
            broken.push(format!(
                "{name}:{line}: {target}: no heading of {file_name} has the anchor #{fragment}",
                file_name = if file.is_empty() { name.as_str() } else { file }
            ));
        }
    }
    broken
}

#[test]
fn every_relative_link_in_readme_and_docs_resolves() {
    let docs = documents();
    assert!(docs.len() > 1, "docs/ holds no Markdown file");
    let broken: Vec<String> = docs.iter().flat_map(|d| broken_links(d)).collect();
    assert!(
        broken.is_empty(),
        "{} broken link(s):\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn every_docs_file_is_linked_from_the_readme() {
    let root = seismo_e2e::repo_root();
    let readme = read(&root.join("README.md"));
    let linked: HashSet<String> = links(&readme)
        .into_iter()
        .map(|(_, t)| t.split('#').next().unwrap_or("").to_owned())
        .collect();
    let missing: Vec<String> = documents()
        .iter()
        .skip(1)
        .map(|d| {
            format!(
                "docs/{}",
                d.file_name().expect("a file name").to_string_lossy()
            )
        })
        .filter(|d| !linked.contains(d))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md does not link: {}",
        missing.join(", ")
    );
}

#[test]
fn the_readme_is_a_front_door() {
    let lines = read(&seismo_e2e::repo_root().join("README.md"))
        .lines()
        .count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines (at most {README_MAX_LINES}): move the detail into docs/"
    );
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Log files"), "log-files");
    assert_eq!(
        slug("Alerts and incidents: the JSON schema"),
        "alerts-and-incidents-the-json-schema"
    );
    assert_eq!(
        slug("The outbox (every network sink)"),
        "the-outbox-every-network-sink"
    );
    assert_eq!(slug("Live reload (SIGHUP)"), "live-reload-sighup");
    assert_eq!(slug("`seismo replay` and plots"), "seismo-replay-and-plots");
    assert_eq!(
        slug("Webhooks: Alertmanager, PagerDuty, JSON"),
        "webhooks-alertmanager-pagerduty-json"
    );
    assert_eq!(slug("snake_case and dash-case"), "snake_case-and-dash-case");
    let a = anchors("# A\n```\n# Not a heading\n```\n## A\n#NoSpace\n");
    assert_eq!(a, HashSet::from(["a".to_owned(), "a-1".to_owned()]));
}

#[test]
fn links_skip_code() {
    let found = links("see [a](x.md#b) and `[c](d)`\n```\n[e](f)\n```\n[g\nh](i.md)\n");
    let targets: Vec<(usize, &str)> = found.iter().map(|(l, t)| (*l, t.as_str())).collect();
    assert_eq!(targets, vec![(1, "x.md#b"), (6, "i.md")]);
}
