//! A stand-in for `journalctl -o json --follow` in the journal tests: replays a recorded
//! stream from the file in `SEISMO_REPLAY_FILE`, honouring `--after-cursor=C` (the lines after
//! the record whose `__CURSOR` is C; an unknown cursor fails as journalctl does),
//! `--lines=0` (only lines appended later) and `--follow` (keep reading lines appended to the
//! file). For failure tests: `SEISMO_REPLAY_FAIL_TIMES=N` with `SEISMO_REPLAY_COUNTER=FILE`
//! makes the first N runs fail at once; `SEISMO_REPLAY_DIE_AFTER=N` makes every run exit after
//! N lines. `SEISMO_REPLAY_DELAY_MS` paces the lines; `SEISMO_REPLAY_ARGS_LOG` gets one line of
//! arguments per run.

use std::io::{Read, Write};
use std::time::Duration;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn fail(msg: &str, code: i32) -> ! {
    eprintln!("{msg}");
    std::process::exit(code)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(log) = env("SEISMO_REPLAY_ARGS_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{}", args.join(" "));
        }
    }
    if let (Some(times), Some(counter)) = (
        env("SEISMO_REPLAY_FAIL_TIMES"),
        env("SEISMO_REPLAY_COUNTER"),
    ) {
        let times: u32 = times.parse().unwrap_or(0);
        let done: u32 = std::fs::read_to_string(&counter)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if done < times {
            let _ = std::fs::write(&counter, format!("{}", done + 1));
            fail("replay: simulated failure: cannot open the journal", 1);
        }
    }
    let follow = args.iter().any(|a| a == "--follow" || a == "-f");
    let at_end = args.iter().any(|a| a == "--lines=0");
    let after = args
        .iter()
        .find_map(|a| a.strip_prefix("--after-cursor="))
        .map(str::to_owned);
    let delay = Duration::from_millis(
        env("SEISMO_REPLAY_DELAY_MS")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0),
    );
    let die_after: Option<usize> = env("SEISMO_REPLAY_DIE_AFTER").and_then(|n| n.parse().ok());
    let Some(path) = env("SEISMO_REPLAY_FILE") else {
        fail("replay: SEISMO_REPLAY_FILE is not set", 1)
    };
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => fail(&format!("replay: cannot open {path}: {e}"), 1),
    };
    let parent = std::os::unix::process::parent_id();
    let mut pending = Vec::new();
    let mut skipping = after.is_some();
    let mut first_pass = true;
    let mut written = 0usize;
    let mut out = std::io::stdout().lock();
    loop {
        let mut chunk = Vec::new();
        if file.read_to_end(&mut chunk).is_err() {
            fail("replay: read error", 1);
        }
        pending.extend_from_slice(&chunk);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            if first_pass && at_end {
                continue;
            }
            if skipping {
                if let Some(c) = &after {
                    let needle = format!("\"__CURSOR\":\"{c}\"");
                    if String::from_utf8_lossy(&line).contains(&needle) {
                        skipping = false;
                    }
                }
                continue;
            }
            if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                std::process::exit(0);
            }
            written += 1;
            if die_after == Some(written) {
                fail("replay: simulated crash", 3);
            }
            std::thread::sleep(delay);
        }
        if skipping {
            fail("Failed to seek to cursor: Invalid argument", 1);
        }
        first_pass = false;
        if !follow {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
        // The agent is gone (e.g. SIGKILL): stop, as journalctl does when its output closes.
        if std::os::unix::process::parent_id() != parent {
            return;
        }
    }
}
