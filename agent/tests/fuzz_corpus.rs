//! The fuzz targets' bodies (`seismo::fuzzing`) on the committed inputs: the seed corpora
//! (`fuzz/corpus/{target}/`) and every input the fuzzer found to crash a target
//! (`fuzz/regressions/{target}/`). The fuzzer itself is not needed (see `fuzz/run.sh`); this keeps
//! the targets compiling and their invariants checked in every `cargo test`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use seismo::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of a folder, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn run(target: &str, files: &[PathBuf]) {
    let entry = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no fuzz target {target}"));
    for file in files {
        let data = std::fs::read(file).unwrap();
        if std::panic::catch_unwind(|| entry(&data)).is_err() {
            panic!("fuzz target {target} fails on {}", file.display());
        }
    }
}

#[test]
fn every_target_has_a_seed_corpus_a_binary_and_a_cargo_entry() {
    let dir = fuzz_dir();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let names: BTreeSet<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.len(), TARGETS.len(), "a target name repeats");
    assert_eq!(
        names,
        TESTED.iter().copied().collect(),
        "every target needs its corpus test below"
    );
    for name in &names {
        assert!(
            !inputs(&dir.join("corpus").join(name)).is_empty(),
            "fuzz/corpus/{name}/ has no seed inputs"
        );
        let source = std::fs::read_to_string(dir.join(format!("fuzz_targets/{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz/fuzz_targets/{name}.rs: {e}"));
        assert!(
            source.contains(&format!("seismo::fuzzing::{name}(data)")),
            "fuzz/fuzz_targets/{name}.rs does not call seismo::fuzzing::{name}"
        );
        assert!(
            manifest.contains(&format!(
                "name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\""
            )),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
    }
    // No target binary, corpus or regression folder without an entry point.
    for sub in ["fuzz_targets", "corpus", "regressions"] {
        for entry in std::fs::read_dir(dir.join(sub)).into_iter().flatten() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                names.contains(stem.as_str()),
                "fuzz/{sub}/{stem} belongs to no target in seismo::fuzzing::TARGETS"
            );
        }
    }
}

macro_rules! corpus_tests {
    ($($name:ident),* $(,)?) => {
        /// The targets with a test below.
        const TESTED: &[&str] = &[$(stringify!($name)),*];
        $(
        #[test]
        fn $name() {
            let dir = fuzz_dir();
            let target = stringify!($name);
            run(target, &inputs(&dir.join("corpus").join(target)));
            run(target, &inputs(&dir.join("regressions").join(target)));
        }
    )*};
}

corpus_tests!(
    config,
    log_format,
    template_miner,
    container_line,
    prometheus_text,
    csv_series,
    outbox_recovery,
    journal_record,
);
