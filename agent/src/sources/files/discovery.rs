//! Discovery: which files the source's globs match right now.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

use seismo_config::PathGlob;

use super::identity::has_compressed_extension;

/// Walks never go deeper than this below a glob's base directory, even with `**`.
const MAX_DEPTH: usize = 32;

/// What a path found by discovery is.
pub(crate) enum Found {
    /// A regular file (symlinks followed).
    File(Metadata),
    /// Matched, but never read: compressed by its name, or not a regular file.
    Skipped(Skip),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    Compressed,
    NotRegular,
}

/// A problem met while walking, keyed by path so each is counted and logged once.
#[derive(Debug)]
pub(crate) enum WalkProblem {
    SymlinkLoop(PathBuf),
    Unreadable(PathBuf, io::Error),
}

/// Finds the files matching `paths` and not `exclude`. Symlinks are followed (loops are
/// reported, not followed); a missing base directory simply matches nothing.
pub(crate) fn discover(
    paths: &[PathGlob],
    exclude: &[PathGlob],
    problems: &mut Vec<WalkProblem>,
) -> BTreeMap<PathBuf, Found> {
    let mut out = BTreeMap::new();
    for glob in paths {
        let base = glob.base_dir();
        let depth = glob.max_depth().unwrap_or(MAX_DEPTH).min(MAX_DEPTH);
        let walk = walkdir::WalkDir::new(base)
            .follow_links(true)
            .min_depth(1)
            .max_depth(depth)
            .sort_by_file_name();
        for entry in walk {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e
                        .path()
                        .map(Path::to_owned)
                        .unwrap_or_else(|| base.to_owned());
                    if e.loop_ancestor().is_some() {
                        problems.push(WalkProblem::SymlinkLoop(path));
                    } else if let Some(io) = e.into_io_error() {
                        match io.kind() {
                            io::ErrorKind::NotFound if path == base => {}
                            io::ErrorKind::NotFound => {}
                            _ if io.raw_os_error() == Some(libc::ELOOP) => {
                                problems.push(WalkProblem::SymlinkLoop(path))
                            }
                            _ => problems.push(WalkProblem::Unreadable(path, io)),
                        }
                    }
                    continue;
                }
            };
            let path = entry.path();
            if !glob.is_match(path) || excluded(exclude, path) || out.contains_key(path) {
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            let found = if has_compressed_extension(&name) {
                Found::Skipped(Skip::Compressed)
            } else {
                match entry.metadata() {
                    Ok(m) if m.is_file() => Found::File(m),
                    Ok(_) => Found::Skipped(Skip::NotRegular),
                    Err(e) => {
                        if let Some(io) = e.into_io_error() {
                            if io.raw_os_error() == Some(libc::ELOOP) {
                                problems.push(WalkProblem::SymlinkLoop(path.to_owned()));
                            } else if io.kind() != io::ErrorKind::NotFound {
                                problems.push(WalkProblem::Unreadable(path.to_owned(), io));
                            }
                        }
                        continue;
                    }
                }
            };
            out.insert(path.to_owned(), found);
        }
    }
    out
}

/// A glob with a `/` matches the whole path; one without, the file name.
fn excluded(exclude: &[PathGlob], path: &Path) -> bool {
    exclude.iter().any(|g| {
        if g.pattern().contains('/') {
            g.is_match(path)
        } else {
            path.file_name().is_some_and(|n| g.is_match(Path::new(n)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(list: &[&str]) -> Vec<PathGlob> {
        list.iter().map(|g| PathGlob::new(g).unwrap()).collect()
    }

    #[test]
    fn matches_excludes_skips_and_survives_loops() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in ["a.log", "b.log", "b.log.1", "c.log.2.gz", "skip.log"] {
            std::fs::write(d.join(f), b"x\n").unwrap();
        }
        std::fs::create_dir(d.join("dir.log")).unwrap();
        std::os::unix::fs::symlink(d.join("loop1.log"), d.join("loop2.log")).unwrap();
        std::os::unix::fs::symlink(d.join("loop2.log"), d.join("loop1.log")).unwrap();
        std::os::unix::fs::symlink(d, d.join("self")).unwrap();
        let base = d.display();
        let mut problems = Vec::new();
        let found = discover(
            &globs(&[&format!("{base}/*.log*"), &format!("{base}/**/*.log")]),
            &globs(&["skip.*"]),
            &mut problems,
        );
        let names: Vec<String> = found
            .keys()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["a.log", "b.log", "b.log.1", "c.log.2.gz", "dir.log"]
        );
        assert!(matches!(
            found[&d.join("c.log.2.gz")],
            Found::Skipped(Skip::Compressed)
        ));
        assert!(matches!(
            found[&d.join("dir.log")],
            Found::Skipped(Skip::NotRegular)
        ));
        assert!(matches!(found[&d.join("a.log")], Found::File(_)));
        let loops = problems
            .iter()
            .filter(|p| matches!(p, WalkProblem::SymlinkLoop(_)))
            .count();
        assert!(loops >= 2, "{problems:?}");
    }
}
