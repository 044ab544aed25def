//! The status page and its JSON API end to end: the real binary tails a real log file; a line
//! holding `<script>alert(1)</script>` is a new template that opens an incident (and runs a
//! hook); then the API lists the signals and the incident, the page escapes the script text,
//! /metrics still parses, and a real browser (Debian's `chromium`, headless) renders the page:
//! its DOM holds the signals and the incident, and a screenshot is saved as an artefact
//! (`$CARGO_TARGET_TMPDIR/status_page.png`).

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use seismo_e2e::http_client::{request, Response};
use seismo_e2e::{append, write_config, Agent};
use serde_json::Value;

const START: Duration = Duration::from_secs(20);
/// Chromium gets this long per run; it is killed (its whole process group) past it.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);
const SCRIPT: &str = "<script>alert(1)</script>";
const LINES: &str = "log.app.lines_per_s";

fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Debian's chromium, or a clear failure: the test never skips silently.
fn chromium() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "chromium is not installed: this test loads the status page in a real browser. \
             Install it with `apt-get install -y chromium` (.ci/run does)"
        )
    })
}

/// Runs headless chromium with `args` then `url`; returns its stdout. Bounded by
/// [`BROWSER_TIMEOUT`]; its process group is killed afterwards, so no helper outlives it.
fn browse(profile: &Path, args: &[&str], url: &str) -> String {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .env("HOME", profile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn chromium");
    let pgid = i32::try_from(child.id()).expect("pid fits i32");
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill(2) on the process group of the chromium we started.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
    let (out, err) = (stdout.join().unwrap(), stderr.join().unwrap());
    match status {
        None => panic!("chromium did not finish within {BROWSER_TIMEOUT:?}; stderr:\n{err}"),
        Some(s) if !s.success() => panic!("chromium failed ({s}); stderr:\n{err}"),
        Some(_) => out,
    }
}

#[test]
fn status_page_and_api_show_signals_and_the_incident_escaped_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"").unwrap();
    let hook_capture = dir.path().join("hook.json");
    let config = write_config(
        dir.path(),
        &format!(
            "[agent]\nstate_dir = \"{state}\"\nhost_name = \"e2e-status\"\n\
             [sources.host]\nenabled = false\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [[sources.files]]\nname = \"app\"\npaths = [\"{log}\"]\ninterval = \"1s\"\n\
             new_template_warmup = 3\n\
             [detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n\
             [alerting]\nresolve_after = 10000\n\
             [[hooks]]\nname = \"note\"\nsignals = [\"log.app.template.*\"]\n\
             command = [\"/bin/sh\", \"-c\", \"cat > {capture}\"]\n",
            state = dir.path().join("state").display(),
            log = log.display(),
            capture = hook_capture.display(),
        ),
    );
    let (mut agent, addr) = Agent::start_serving(&config, None, START);

    // From the start, before there is much to show.
    let first = get(addr, "/");
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("seismo on"), "{}", first.body);

    // Past the template warm-up, a line never seen before: a new template, an incident.
    seismo_e2e::steady_traffic(&log, 6);
    append(
        &log,
        &format!("ERROR injected {SCRIPT} by \"mallory\" & co\n").repeat(3),
    );
    // The incident event that holds the new template's alert (the alert opens an incident,
    // or joins one that some other alert opened just before).
    let is_new = |s: &Value| {
        s.as_str()
            .is_some_and(|s| s.starts_with("log.app.template.") && s.ends_with(".new"))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut incident: Option<Value> = None;
    while incident.is_none() && Instant::now() < deadline {
        seismo_e2e::steady_traffic(&log, 1);
        agent.wait_stdout(Duration::from_millis(10), |_| false);
        incident = agent
            .seen_stdout
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| {
                v["kind"] == "incident"
                    && v["signals"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(is_new))
            });
    }
    let incident = incident.unwrap_or_else(|| panic!("no incident: {:#?}", agent.seen_stdout));
    let id = incident["incident_id"].as_str().unwrap().to_owned();
    let origin = incident["origin"].as_str().unwrap().to_owned();
    let new_signal = incident["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| is_new(s))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    // The hook ran for the alert and its run came back to the pipeline.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !agent
        .seen_stdout
        .iter()
        .any(|l| l.contains("\"kind\":\"hook\""))
        && Instant::now() < deadline
    {
        seismo_e2e::steady_traffic(&log, 1);
        agent.wait_stdout(Duration::from_millis(10), |_| false);
    }
    // Two more intervals, so the template's count signal has a point and its template.
    seismo_e2e::steady_traffic(&log, 2);

    // (a) The JSON API.
    let r = get(addr, "/api/v1/incidents");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let incidents = r.json();
    assert_eq!(incidents["host"], "e2e-status");
    let open = incidents["open"].as_array().unwrap();
    let inc = open
        .iter()
        .find(|i| i["incident_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not open in {incidents:#}"));
    assert_eq!(inc["open"], true);
    assert_eq!(inc["origin"], origin.as_str());
    assert_eq!(inc["timeline"][0]["signal"], origin.as_str());
    let entry = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["signal"] == new_signal.as_str())
        .unwrap_or_else(|| panic!("{new_signal} not in the timeline of {inc:#}"));
    let log_evidence = &entry["log"];
    let template = log_evidence["template"].as_str().unwrap();
    assert!(
        template.contains("<script>alert(<*>)</script>"),
        "{template}"
    );
    assert!(
        log_evidence["sample_lines"][0]
            .as_str()
            .unwrap()
            .contains(SCRIPT),
        "{log_evidence}"
    );

    let r = get(addr, "/api/v1/signals");
    assert_eq!(r.status, 200, "{}", r.body);
    let signals = r.json();
    let list = signals["signals"].as_array().unwrap();
    assert!(
        signals["signals_active"].as_u64().unwrap() >= 3,
        "{signals:#}"
    );
    assert_eq!(
        signals["signals_listed"].as_u64().unwrap(),
        list.len() as u64
    );
    let lines = list
        .iter()
        .find(|s| s["signal"] == LINES)
        .unwrap_or_else(|| panic!("no {LINES} in {signals:#}"));
    assert!(lines["value"].as_f64().unwrap() > 0.0, "{lines}");
    assert!(lines["score"].as_f64().is_some(), "scored: {lines}");
    let history = lines["history"]["values"].as_array().unwrap();
    assert!(history.iter().any(|v| v.as_f64().is_some()), "{lines}");
    let script_signal = list
        .iter()
        .find(|s| {
            s["template"]
                .as_str()
                .is_some_and(|t| t.contains("<script>alert(<*>)</script>"))
        })
        .unwrap_or_else(|| panic!("no signal with the script template in {signals:#}"));
    let script_signal = script_signal["signal"].as_str().unwrap().to_owned();
    // Sorted by name (stable across pages), all on the first page with its total.
    let names: Vec<&str> = list.iter().filter_map(|s| s["signal"].as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    assert_eq!(
        signals["total"].as_u64(),
        Some(list.len() as u64),
        "{signals:#}"
    );
    assert!(signals["next"].is_null(), "{signals:#}");
    // A bad parameter is a 400 that says what to send.
    let r = get(addr, "/api/v1/signals?limit=-5");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("limit must be a whole number"),
        "{}",
        r.body
    );

    // (b) The page, as served: escaped, no script, refreshing, everything in it.
    let r = get(addr, "/");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        r.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'")),
        "{:?}",
        r.headers
    );
    let html = &r.body;
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "raw script in the page:\n{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(&lt;*&gt;)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&quot;mallory&quot; &amp; co"), "{html}");
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"10\">"));
    for needle in [
        id.as_str(),
        origin.as_str(),
        new_signal.as_str(),
        LINES,
        script_signal.as_str(),
        "e2e-status",
        env!("CARGO_PKG_VERSION"),
        "<svg class=\"spark\"",
        "<section id=\"hooks\">",
        "<code>note</code>",
    ] {
        assert!(html.contains(needle), "no {needle} in\n{html}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src="),
        "an external asset in\n{html}"
    );

    // /metrics is still the Prometheus exposition it was, with the incident's alert in it.
    let m = get(addr, "/metrics");
    assert_eq!(m.status, 200);
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = m.body.clone();
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
        .expect("a Prometheus exposition");
    let alerts: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "seismo_alerts_total")
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) => v,
            _ => 0.0,
        })
        .sum();
    assert!(alerts >= 1.0, "{body}");
    assert!(!body.contains('<'), "{body}");

    // (c) A real browser: the DOM it built holds the signals and the incident, the script
    // text is a text node (serialised escaped), and no script element exists.
    let url = format!("http://{addr}/");
    let profile = dir.path().join("chromium");
    std::fs::create_dir_all(&profile).unwrap();
    let dom = browse(&profile, &["--dump-dom"], &url);
    assert!(dom.contains("<html"), "not a DOM: {dom}");
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "a script element in the DOM:\n{dom}"
    );
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );
    for needle in [
        format!("id=\"incident-{id}\""),
        format!("<code class=\"origin\">{origin}</code>"),
        format!("<code class=\"signal\">{LINES}</code>"),
        format!("<code class=\"signal\">{script_signal}</code>"),
        "<svg class=\"spark\"".to_owned(),
    ] {
        assert!(dom.contains(&needle), "no {needle} in the DOM:\n{dom}");
    }
    // A sparkline is a line once a signal spans two 30 s buckets, a dot before: which one
    // depends on where the test falls on the clock.
    assert!(
        dom.contains("<polyline") || dom.contains("<circle"),
        "no sparkline drawn in the DOM:\n{dom}"
    );

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status_page.png");
    let _ = std::fs::remove_file(&shot);
    browse(
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
        &url,
    );
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 10_000, "a {}-byte screenshot", png.len());
    println!("status page screenshot: {}", shot.display());

    agent.stop(Duration::from_secs(15));
}
