//! Container log formats end to end: the real binary tails a CRI file and a Docker json-file
//! file; what it processed is read back from the lines sink up to its checkpoint, line by line,
//! across a SIGKILL in the middle of a partial sequence.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use seismo_e2e::lines_sink::{committed_records, text};
use seismo_e2e::Agent;

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn cri(tag: &str, msg: &str) -> String {
    format!("2026-11-26T01:00:00.000000001Z stdout {tag} {msg}\n")
}

fn docker(log: &str) -> String {
    format!("{{\"log\":\"{log}\",\"stream\":\"stderr\",\"time\":\"2026-11-26T01:00:00Z\"}}\n")
}

/// Lines committed per path: the lines sink up to the length in its checkpoint.
fn committed(state: &Path, sink: &Path, path: &Path) -> Vec<String> {
    committed_records(state, sink)
        .iter()
        .filter(|v| v["path"].as_str() == path.to_str())
        .map(|v| text(v, "line"))
        .collect()
}

fn wait_for(what: &str, pred: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cri_and_docker_lines_are_joined_decoded_and_kept_exactly_once_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let at = |p: &str| -> PathBuf { dir.path().join(p) };
    let (state, sink, c, d) = (at("state"), at("lines.jsonl"), at("c.log"), at("d.log"));
    let config = at("seismo.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nstate_dir = \"{}\"\n[logging]\nformat = \"json\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [sources.host]\nenabled = false\n\
             [sinks.lines]\npath = \"{}\"\n\
             [[sources.files]]\nname = \"cri\"\npaths = [\"{}\"]\nformat = \"cri\"\nstart_at = \"beginning\"\n\
             [[sources.files]]\nname = \"docker\"\npaths = [\"{}\"]\nformat = \"docker\"\nstart_at = \"beginning\"\n",
            state.display(),
            sink.display(),
            c.display(),
            d.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let big: String = (0..100 * 1024)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let pieces: Vec<&str> = big
        .as_bytes()
        .chunks(16 * 1024)
        .map(|p| std::str::from_utf8(p).unwrap())
        .collect();

    let mut cri_text = cri("F", "c1") + &cri("P", "c2a ") + &cri("P", "c2b ") + &cri("F", "c2c");
    let mut docker_text = docker("d1\\n") + &docker("d2a ") + &docker("d2b\\n");
    for (i, p) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        cri_text += &cri(if last { "F" } else { "P" }, p);
        docker_text += &docker(&format!("{p}{}", if last { "\\n" } else { "" }));
    }
    append(&c, &cri_text);
    append(&d, &docker_text);
    let mut agent = Agent::run(config);
    wait_for("the first lines", || {
        committed(&state, &sink, &c).len() == 3 && committed(&state, &sink, &d).len() == 3
    });

    // A complete line and the start of a partial sequence in one write: once the complete
    // line is committed, the partial records were read too. The agent then idles past the
    // multiline flush delay and is killed in the middle of the sequence.
    append(&c, &(cri("F", "c3") + &cri("P", "c4a ")));
    append(&d, &(docker("d3\\n") + &docker("d4a ")));
    wait_for("the lines before the partial records", || {
        committed(&state, &sink, &c).len() == 4 && committed(&state, &sink, &d).len() == 4
    });
    std::thread::sleep(Duration::from_millis(2500));
    agent.signal(libc::SIGKILL);
    agent.wait_exit(Duration::from_secs(10));

    append(
        &c,
        &(cri("F", "c4b") + "garbage without a CRI prefix\n" + &cri("F", "c5")),
    );
    append(
        &d,
        &(docker("d4b\\n") + "{\"log\":\"cut\n" + "{\"stream\":\"stdout\"}\n" + &docker("d5\\n")),
    );
    let mut agent = Agent::run(config);
    wait_for("the lines after the restart", || {
        committed(&state, &sink, &c).len() == 6 && committed(&state, &sink, &d).len() == 6
    });
    assert_eq!(
        committed(&state, &sink, &c),
        ["c1", "c2a c2b c2c", big.as_str(), "c3", "c4a c4b", "c5"]
    );
    assert_eq!(
        committed(&state, &sink, &d),
        ["d1", "d2a d2b", big.as_str(), "d3", "d4a d4b", "d5"]
    );

    agent.stop(Duration::from_secs(15));
    let stop = agent
        .seen_stderr
        .iter()
        .find(|l| l.contains("seismo stopped"))
        .unwrap_or_else(|| panic!("no stop line: {:?}", agent.seen_stderr));
    assert!(stop.contains("log_records_malformed=3"), "{stop}");
    assert!(
        agent
            .seen_stderr
            .iter()
            .any(|l| l.contains("could not be decoded")),
        "the malformed records were not reported"
    );
}
