//! The agent's source layout keeps its promises (docs/architecture.md): no import cycle between
//! its files, and no import against the data flow. Imports are read from the text: `crate::`
//! paths, `super::` paths and `use` of a module's own children, outside `#[cfg(test)]` modules
//! and comments. A reference links a file to the longest module path it names that exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/` of the workspace crate in folder `krate`.
fn src_of(krate: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("src")
}

/// Module path (`a::b`) → file, for every file of the agent's library.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read agent/src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            if parts.iter().any(|p| p == "tests") {
                continue;
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The text without comments and without `#[cfg(test)] mod … { … }` blocks.
fn code(text: &str) -> String {
    let no_comments: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = no_comments.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_mod = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .starts_with("mod ");
        match (is_mod, after.find('{'), after.find(';')) {
            (true, Some(open), semi) if semi.is_none_or(|s| s > open) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (i, c) in after[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &after[end..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// Every path after `prefix` (`crate::`, `super::`, …), with `{a::B, c}` groups expanded one
/// level, as segment lists.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let chain: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let head: Vec<String> = chain
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let after_chain = &rest[chain.len()..];
        if (chain.is_empty() || chain.ends_with("::")) && after_chain.starts_with('{') {
            let group = &after_chain[1..after_chain.find('}').unwrap_or(after_chain.len())];
            for item in group.split(',') {
                let item = item.trim().trim_start_matches('{');
                let mut p = head.clone();
                p.extend(
                    item.split("::")
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty() && s != "self" && s != "*"),
                );
                out.push(p);
            }
        } else {
            out.push(head);
        }
    }
    out
}

/// The modules `me` imports.
fn imports(me: &str, text: &str, mods: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let code = code(text);
    let mine: Vec<String> = if me.is_empty() {
        Vec::new()
    } else {
        me.split("::").map(str::to_owned).collect()
    };
    let parent: Vec<String> = mine[..mine.len().saturating_sub(1)].to_vec();
    let mut candidates: Vec<Vec<String>> = paths_after(&code, "crate::");
    for p in paths_after(&code, "super::") {
        candidates.push(parent.iter().cloned().chain(p).collect());
    }
    // `use child::X;` in a module with children: a path relative to the module itself.
    for line in code.lines() {
        let line = line.trim_start();
        let Some(path) = line
            .strip_prefix("pub use ")
            .or_else(|| line.strip_prefix("pub(crate) use "))
            .or_else(|| line.strip_prefix("use "))
        else {
            continue;
        };
        let first = path.split("::").next().unwrap_or("");
        let mut child = mine.clone();
        child.push(first.to_owned());
        if mods.contains_key(&child.join("::")) {
            let rest = path.trim_end_matches(';');
            candidates.extend(
                paths_after(&format!(" self::{rest}"), "self::")
                    .into_iter()
                    .map(|p| mine.iter().cloned().chain(p).collect::<Vec<_>>()),
            );
        }
    }
    let mut found = BTreeSet::new();
    for parts in candidates {
        for k in (1..=parts.len()).rev() {
            let cand = parts[..k].join("::");
            if mods.contains_key(&cand) {
                found.insert(cand);
                break;
            }
        }
    }
    found.remove(me);
    found
}

fn graph(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = src_of(krate);
    let mods = modules(&src);
    assert!(
        mods.len() > 10,
        "{krate}/src not found at {}",
        src.display()
    );
    mods.iter()
        .map(|(name, path)| {
            let text = std::fs::read_to_string(path).expect("read source");
            (name.clone(), imports(name, &text, &mods))
        })
        .collect()
}

/// Strongly connected sets of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn strong<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                strong(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            strong(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_agent_has_no_import_cycle_between_its_files() {
    let found = cycles(&graph("agent"));
    assert!(
        found.is_empty(),
        "import cycles between the agent's files (break each by moving what both sides need \
         into a file of its own, or by a trait the later stage implements):\n{}",
        found
            .iter()
            .map(|c| c.join(" <-> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn assert_acyclic(krate: &str) {
    let found = cycles(&graph(krate));
    assert!(
        found.is_empty(),
        "import cycles between the files of {krate}/src:\n{}",
        found
            .iter()
            .map(|c| c.join(" <-> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_config_crate_has_no_import_cycle_between_its_files() {
    assert_acyclic("config");
}

#[test]
fn the_detectors_crate_has_no_import_cycle_between_its_files() {
    assert_acyclic("detectors");
}

#[test]
fn imports_follow_the_data_flow() {
    // (files under this module path, may not import anything under these)
    let rules: &[(&str, &[&str])] = &[
        ("event", &["*except clock"]),
        ("clock", &["*"]),
        ("atomic_file", &["*"]),
        ("backoff", &["*"]),
        ("excerpt", &["*"]),
        (
            "sources",
            &[
                "logs", "pipeline", "alerting", "sinks", "http", "daemon", "cli",
            ],
        ),
        (
            "logs",
            &["pipeline", "alerting", "sinks", "http", "daemon", "cli"],
        ),
        ("pipeline", &["sinks", "http", "daemon", "cli"]),
        ("alerting", &["sinks", "http", "daemon", "cli", "logs"]),
        ("sinks", &["http", "daemon", "cli", "logs", "sources"]),
        (
            "telemetry",
            &[
                "sources", "logs", "pipeline", "alerting", "sinks", "http", "daemon", "cli",
            ],
        ),
    ];
    let graph = graph("agent");
    let mut wrong = Vec::new();
    for (module, deps) in &graph {
        let top = module.split("::").next().unwrap_or("");
        for (under, forbidden) in rules {
            if top != *under {
                continue;
            }
            for dep in deps {
                let dep_top = dep.split("::").next().unwrap_or("");
                if dep_top == top {
                    continue;
                }
                let refused = forbidden.iter().any(|f| match *f {
                    "*" => true,
                    "*except clock" => dep_top != "clock",
                    f => f == dep_top,
                });
                if refused {
                    wrong.push(format!("{module} imports {dep}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the data flow (see docs/architecture.md):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle_and_a_group_import() {
    let mods: BTreeMap<String, PathBuf> = ["a", "a::x", "b"]
        .iter()
        .map(|m| (m.to_string(), PathBuf::new()))
        .collect();
    let a = imports("a", "mod x;\nuse x::Thing;\nuse crate::{b::B, c};\n", &mods);
    assert_eq!(a, BTreeSet::from(["a::x".to_owned(), "b".to_owned()]));
    let x = imports(
        "a::x",
        "use super::Other;\n#[cfg(test)]\nmod tests { use crate::b::Z; }\n// crate::b\n",
        &mods,
    );
    assert_eq!(x, BTreeSet::from(["a".to_owned()]));
    let g = BTreeMap::from([
        ("a".to_owned(), a),
        ("a::x".to_owned(), x),
        ("b".to_owned(), BTreeSet::new()),
    ]);
    assert_eq!(cycles(&g), vec![vec!["a".to_owned(), "a::x".to_owned()]]);
}
