//! The HTTP API trusts nobody by default, end to end against the real binary: writes need the
//! bearer token, a Host naming the endpoint, no cross-site Origin and a JSON body; the
//! `seismo silence` commands use the token; beyond loopback the agent does not start without a
//! token file; the silences' memory stays within the stated budget, also across a restart
//! with an over-budget file; idle connections are closed; errors quote only an excerpt.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use seismo_e2e::http_client::{authed, request, send, token, Response};
use seismo_e2e::{default_config_with, seismo_bin, write_config, Agent};

const START: Duration = Duration::from_secs(30);

/// The stated budget (docs/http.md, "Budgets"): what the maximum of maximal API silences may
/// add to the agent's resident memory.
const SILENCES_BUDGET_BYTES: u64 = 32 << 20;

fn config(dir: &Path, http_extra: &str) -> String {
    let listen = format!("listen = \"127.0.0.1:0\"{http_extra}");
    let text = default_config_with(
        &dir.join("state"),
        &[("listen = \"127.0.0.1:0\"", listen.as_str())],
    );
    write_config(dir, &text)
}

/// An agent on the default configuration (plus `http_extra` in `[http]`), serving.
fn started(http_extra: &str) -> (tempfile::TempDir, String, Agent, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), http_extra);
    let (agent, addr) = Agent::start_serving(&cfg, None, START);
    (dir, cfg, agent, addr)
}

fn silences(addr: SocketAddr) -> Vec<serde_json::Value> {
    let r = request(addr, "GET", "/api/v1/silences", None).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["silences"].as_array().unwrap().clone()
}

fn error_of(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

fn rss_bytes(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

const MUTE_ALL: &str = r#"{"signals": ["*"], "for": "366d"}"#;

#[test]
fn writes_without_the_token_from_a_foreign_host_or_origin_or_not_json_change_nothing() {
    let (dir, _, mut agent, addr) = started("");
    let state = dir.path().join("state");
    let mode = std::fs::metadata(state.join("http.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "token file mode {mode:o}");
    let token = token(&state);
    assert!(token.len() >= 32, "{token}");

    // One silence to try to expire, created with the token.
    let kept = authed(
        addr,
        &token,
        "POST",
        "/api/v1/silences",
        Some(r#"{"signals": ["host.network.*"], "for": "1h"}"#),
    )
    .unwrap();
    assert_eq!(kept.status, 201, "{}", kept.body);
    let id = kept.json()["id"].as_str().unwrap().to_owned();
    let before = silences(addr);

    let bearer = format!("Bearer {token}");
    let auth = ("authorization", bearer.as_str());
    let host = format!("evil.example:{}", addr.port());
    let rebinding = ("host", host.as_str());
    let cross = ("origin", "http://evil.example");
    let text = ("content-type", "text/plain");
    let form = ("content-type", "application/x-www-form-urlencoded");
    let wrong = ("authorization", "Bearer 0000000000000000000000000000000000");
    let delete_path = format!("/api/v1/silences/{id}");
    let mute: Option<&[u8]> = Some(MUTE_ALL.as_bytes());
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Option<&'a [u8]>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/v1/silences",
            vec![],
            mute,
            401,
            "Authorization: Bearer",
        ),
        (
            "POST",
            "/api/v1/silences",
            vec![wrong],
            mute,
            403,
            "not the one",
        ),
        (
            "POST",
            "/api/v1/silences",
            vec![auth, rebinding],
            mute,
            421,
            "does not name this endpoint",
        ),
        (
            "POST",
            "/api/v1/silences",
            vec![auth, cross],
            mute,
            403,
            "cross-origin",
        ),
        (
            "POST",
            "/api/v1/silences",
            vec![auth, text],
            mute,
            415,
            "Content-Type: application/json",
        ),
        (
            "POST",
            "/api/v1/silences",
            vec![auth, form],
            mute,
            415,
            "Content-Type: application/json",
        ),
        (
            "POST",
            "/api/v1/silences",
            vec![text, cross],
            mute,
            403,
            "cross-origin",
        ),
        (
            "DELETE",
            &delete_path,
            vec![],
            None,
            401,
            "Authorization: Bearer",
        ),
        (
            "DELETE",
            &delete_path,
            vec![wrong],
            None,
            403,
            "not the one",
        ),
        (
            "DELETE",
            &delete_path,
            vec![auth, rebinding],
            None,
            421,
            "does not name",
        ),
        (
            "DELETE",
            &delete_path,
            vec![auth, cross],
            None,
            403,
            "cross-origin",
        ),
        (
            "DELETE",
            &delete_path,
            vec![auth, text],
            None,
            415,
            "application/json",
        ),
        // DNS rebinding: a page on another name cannot read either.
        (
            "GET",
            "/api/v1/silences",
            vec![rebinding],
            None,
            421,
            "does not name",
        ),
        (
            "GET",
            "/metrics",
            vec![rebinding],
            None,
            421,
            "does not name",
        ),
    ];
    for (method, path, headers, body, want, says) in &cases {
        let r = send(addr, method, path, headers, *body).unwrap();
        assert_eq!(r.status, *want, "{method} {path} {headers:?}: {}", r.body);
        assert!(
            error_of(&r).contains(says),
            "{method} {path} {headers:?}: {}",
            r.body
        );
    }
    // Nothing changed: the same silence, no mute-all.
    assert_eq!(silences(addr), before);
    let metrics = request(addr, "GET", "/metrics", None).unwrap().body;
    assert!(
        metrics.contains("\nseismo_silences_active 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "\nseismo_api_requests_rejected_total {}\n",
            cases.len()
        )),
        "{metrics}"
    );

    // Same-origin, with the token, JSON: it works; and localhost names the endpoint too.
    let origin = format!("http://localhost:{}", addr.port());
    let localhost = format!("localhost:{}", addr.port());
    let r = send(
        addr,
        "POST",
        "/api/v1/silences",
        &[
            auth,
            ("host", &localhost),
            ("origin", &origin),
            ("content-type", "application/json; charset=utf-8"),
        ],
        Some(br#"{"signals": ["log.*"], "for": "10m"}"#),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let r = authed(addr, &token, "DELETE", &delete_path, None).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(silences(addr).len(), 1);
    agent.stop(Duration::from_secs(10));
}

#[test]
fn errors_quote_an_excerpt_and_name_no_rust_types() {
    let (dir, _, mut agent, addr) = started("");
    let token = token(&dir.path().join("state"));
    let long = "x".repeat(60_000);
    for body in [
        format!(r#"{{"signals": "{long}", "for": "1h"}}"#),
        format!(r#"{{"signals": ["{long}"], "for": "1h"}}"#),
        format!(r#"{{"{long}": 1}}"#),
        r#"{"signals": ["a"], "for": 70000}"#.to_owned(),
        r#"{"signals": [1], "for": "1h"}"#.to_owned(),
    ] {
        let r = authed(addr, &token, "POST", "/api/v1/silences", Some(&body)).unwrap();
        let shown = &r.body[..r.body.len().min(300)];
        assert_eq!(r.status, 400, "{shown}");
        assert!(r.body.len() < 1024, "{} bytes: {shown}…", r.body.len());
        for rust in ["u16", "u64", "usize", "i128", "alloc::", "String"] {
            assert!(!r.body.contains(rust), "{rust} in {}", r.body);
        }
    }
    let r = authed(addr, &token, "DELETE", "/api/v1/silences/%FF%FE", None).unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!r.body.contains("String"), "{}", r.body);
    let long_id = format!("/api/v1/silences/{}", "y".repeat(5000));
    let r = authed(addr, &token, "DELETE", &long_id, None).unwrap();
    assert_eq!(r.status, 404, "{}", r.body.len());
    assert!(r.body.len() < 1024, "{}", r.body.len());
    agent.stop(Duration::from_secs(10));
}

fn silence_cmd(config: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(seismo_bin())
        .args(["silence", "--config", config])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_silence_commands_use_the_token_and_say_what_the_agent_said() {
    let (dir, cfg, mut agent, addr) = started("");
    // The commands need the real port: the same configuration with it written in.
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"{addr}\""),
        1,
    );
    let cli_cfg = dir.path().join("cli.toml");
    std::fs::write(&cli_cfg, &text).unwrap();
    let cli = cli_cfg.to_str().unwrap();

    let (code, out, err) = silence_cmd(
        cli,
        &[
            "add",
            "--signal",
            "host.cpu.*",
            "--signal",
            "log.app.*",
            "--for",
            "2h",
            "--comment",
            "maintenance",
            "--by",
            "tester",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("created") && out.contains("host.cpu.*, log.app.*"),
        "{out}"
    );
    let id = out.split_whitespace().nth(1).unwrap().to_owned();
    let listed = silences(addr);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["created_by"], "tester");
    assert_eq!(listed[0]["comment"], "maintenance");

    let (code, out, err) = silence_cmd(cli, &["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id) && out.contains("maintenance"), "{out}");

    // The agent's refusal is the command's: exit 1 with its sentence.
    let (code, _, err) = silence_cmd(cli, &["add", "--signal", "a[", "--for", "1h"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a valid glob"), "{err}");

    let (code, out, err) = silence_cmd(cli, &["expire", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("silence {id} expired"));
    assert!(silences(addr).is_empty());
    let (code, _, err) = silence_cmd(cli, &["expire", &id]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no active silence"), "{err}");

    // A wrong token is refused by the agent: exit 1, nothing created.
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "not-the-right-token-at-all\n").unwrap();
    let wrong_cfg = dir.path().join("wrong.toml");
    let with_wrong = format!("[http]\ntoken_file = \"{}\"\n", wrong.display());
    std::fs::write(&wrong_cfg, text.replacen("[http]\n", &with_wrong, 1)).unwrap();
    let (code, _, err) = silence_cmd(
        wrong_cfg.to_str().unwrap(),
        &["add", "--signal", "*", "--for", "1h"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refused (403)"), "{err}");
    assert!(silences(addr).is_empty());

    // Usage errors are 2; an agent that is not running is 1.
    let (code, _, err) = silence_cmd(cli, &["add", "--signal", "x"]);
    assert_eq!(code, 2, "{err}");
    agent.stop(Duration::from_secs(10));
    let (code, _, err) = silence_cmd(cli, &["list"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn beyond_loopback_the_agent_needs_a_token_file_or_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "listen = \"127.0.0.1:0\"",
        "listen = \"0.0.0.0:0\"",
        1,
    );
    std::fs::write(&cfg, &text).unwrap();
    let out = Command::new(seismo_bin())
        .args(["check-config", &cfg])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`token_file` is not set"), "{err}");
    assert!(err.contains("seismo.toml:"), "no file:line:col: {err}");
    let mut agent = Agent::start(&["run", "--config", &cfg]);
    let (status, _) = agent.wait_exit(START);
    assert_eq!(status.code(), Some(2), "{:?}", agent.seen_stderr);

    // Named but missing: refused at start, exit 2, one sentence.
    let missing = dir.path().join("missing.token");
    let named = format!("[http]\ntoken_file = \"{}\"\n", missing.display());
    std::fs::write(&cfg, text.replacen("[http]\n", &named, 1)).unwrap();
    let mut agent = Agent::start(&["run", "--config", &cfg]);
    let (status, _) = agent.wait_exit(START);
    assert_eq!(status.code(), Some(2), "{:?}", agent.seen_stderr);
    let said = agent.seen_stderr.join("\n");
    assert!(said.contains("does not exist"), "{said}");
}

/// A glob at the per-glob budget: 128 characters, 16 wildcards and brace alternatives.
fn maximal_glob(silence: usize, i: usize) -> String {
    let base = if i.is_multiple_of(2) {
        let alts: Vec<String> = (0..16).map(|a| format!("a{a}")).collect();
        format!("s{silence}g{i}.{{{}}}", alts.join(","))
    } else {
        format!("s{silence}.g{i}.*[a-z]?x*[0-9]?y*[abc]?z*q?[!d]*?{{ab,cd}}")
    };
    let g = format!("{base}.{}", "p".repeat(128 - base.len() - 1));
    assert_eq!(g.len(), 128);
    g
}

fn saved(id: String, signals: Vec<String>) -> serde_json::Value {
    serde_json::json!({"id": id, "signals": signals, "created_at_ms": 0,
        "ends_at_ms": 4_000_000_000_000i64, "comment": "", "created_by": ""})
}

#[test]
fn the_silences_memory_stays_within_the_stated_budget_also_after_a_restart() {
    let (dir, cfg, mut agent, addr) = started("");
    let token = token(&dir.path().join("state"));
    std::thread::sleep(Duration::from_secs(2));
    let before = rss_bytes(agent.pid());
    // 1024 globs in all, 32 per silence: 32 maximal silences.
    for s in 0..32 {
        let globs: Vec<String> = (0..32).map(|i| maximal_glob(s, i)).collect();
        let body = serde_json::json!({"signals": globs, "for": "1h",
            "comment": "c".repeat(1024), "created_by": "b".repeat(1024)});
        let r = authed(
            addr,
            &token,
            "POST",
            "/api/v1/silences",
            Some(&body.to_string()),
        )
        .unwrap();
        assert_eq!(r.status, 201, "silence {s}: {}", r.body);
    }
    let one = Some(r#"{"signals": ["a"], "for": "1h"}"#);
    let over = authed(addr, &token, "POST", "/api/v1/silences", one).unwrap();
    assert_eq!(over.status, 400, "{}", over.body);
    assert!(
        error_of(&over).contains("at most 1024 in all"),
        "{}",
        over.body
    );
    for (glob, says) in [
        ("a".repeat(129), "at most 128"),
        (format!("{{{}}}", ["x"; 17].join(",")), "at most 16"),
    ] {
        let body = serde_json::json!({"signals": [glob], "for": "1h"}).to_string();
        let r = authed(addr, &token, "POST", "/api/v1/silences", Some(&body)).unwrap();
        assert!(error_of(&r).contains(says), "{}", r.body);
    }
    let after = rss_bytes(agent.pid());
    let grew = after.saturating_sub(before);
    eprintln!("RSS {before} -> {after} bytes: {grew} for 32 silences x 32 maximal globs");
    assert!(
        grew <= SILENCES_BUDGET_BYTES,
        "RSS grew by {grew} bytes, more than the budget"
    );
    agent.stop(Duration::from_secs(10));

    // Restarted: all 32 are back, within the budget of a fresh start.
    let (mut agent, addr) = Agent::start_serving(&cfg, None, START);
    assert_eq!(silences(addr).len(), 32);
    let restarted = rss_bytes(agent.pid());
    eprintln!("RSS after a restart with them: {restarted} bytes");
    assert!(restarted <= before + SILENCES_BUDGET_BYTES, "{restarted}");
    agent.stop(Duration::from_secs(10));

    // A file from before the budgets (1,000 silences of 64 brace globs of ~400 characters,
    // the reported 2.7 GB): loaded up to the budget with a warning.
    let brace = |s: usize, i: usize| {
        let alts: Vec<String> = (0..50).map(|a| format!("s{s}i{i}a{a}")).collect();
        format!("{{{}}}", alts.join(","))
    };
    let mut list: Vec<serde_json::Value> = (0..1000)
        .map(|s| saved(format!("{s:016x}"), (0..64).map(|i| brace(s, i)).collect()))
        .collect();
    list.extend((0..100).map(|s| {
        saved(
            format!("ok{s}"),
            (0..32).map(|i| format!("ok{s}.{i}.*")).collect(),
        )
    }));
    let file = serde_json::json!({"version": 1, "silences": list}).to_string();
    let file_bytes = file.len() as u64;
    std::fs::write(dir.path().join("state/silences.json"), file).unwrap();
    let t = Instant::now();
    let (mut agent, addr) = Agent::start_serving(&cfg, None, START);
    let took = t.elapsed();
    assert_eq!(silences(addr).len(), 32);
    let loaded = rss_bytes(agent.pid());
    eprintln!("RSS after starting on the over-budget file: {loaded} bytes, start took {took:?}");
    // Reading the file is transient: at most its size on top of the budget.
    assert!(
        loaded <= before + SILENCES_BUDGET_BYTES + file_bytes,
        "{loaded}"
    );
    assert!(
        agent
            .seen_stderr
            .iter()
            .any(|l| l.contains("over the budget were left out")),
        "{:?}",
        agent.seen_stderr
    );
    agent.stop(Duration::from_secs(10));
}

/// Whether the server closed `s` (EOF or reset) within `wait`.
fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_and_slow_connections_are_closed() {
    let (_dir, _, mut agent, addr) = started("\nidle_timeout = \"2s\"");
    let connect = |head: &str| {
        let mut s = TcpStream::connect(addr).unwrap();
        std::io::Write::write_all(&mut s, head.as_bytes()).unwrap();
        s
    };
    let mut idle: Vec<TcpStream> = (0..100).map(|_| connect("")).collect();
    // Slow: half a request head, never finished.
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| connect("GET /metrics HTTP/1.1\r\nHost: 127"))
        .collect();
    // Kept alive after one answered request.
    let healthz = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut kept: Vec<TcpStream> = (0..20).map(|_| connect(&healthz)).collect();
    std::thread::sleep(Duration::from_secs(5));
    for (kind, list) in [
        ("idle", &mut idle),
        ("slow", &mut slow),
        ("kept-alive", &mut kept),
    ] {
        let open = list
            .iter_mut()
            .map(|s| closed_by_server(s, Duration::from_millis(200)))
            .filter(|closed| !closed)
            .count();
        assert_eq!(
            open, 0,
            "{open} {kind} connections still open 5 s after a 2 s idle time-out"
        );
    }
    // Still serving.
    assert_eq!(request(addr, "GET", "/healthz", None).unwrap().status, 200);
    agent.stop(Duration::from_secs(10));
}
