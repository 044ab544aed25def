//! The Prometheus scrape source end to end: the real binary scrapes real HTTP servers on
//! loopback (started by the test on std sockets), and its signals are read as OTLP gauges on a
//! real receiver. One target serves a changing exposition (a counter growing at a known rate
//! and reset midway, a histogram with a known distribution per interval, a summary, escaped
//! label values, NaN and +Inf); the others hang, refuse connections, answer 500, garbage, or a
//! body past the size bound: each is counted by reason on /metrics while the good target keeps
//! producing signals. Bad lines inside a good body are skipped and counted.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seismo_e2e::http_client::request;
use seismo_e2e::otlp_receiver::{signal_values, OtlpReceiver};
use seismo_e2e::{default_config_with, Agent};

const START: Duration = Duration::from_secs(20);
const WAIT: Duration = Duration::from_secs(30);

/// What a test server does with each request.
#[derive(Clone)]
enum Behaviour {
    /// 200 with the body the function makes for the n-th request (from 0).
    Serve(Arc<dyn Fn(u64) -> String + Send + Sync>),
    /// Accept, read the request, never answer (the connection is held open).
    Hang,
    Status500,
    /// 200 with this many bytes of a valid-looking exposition, without a Content-Length (the
    /// body ends when the connection closes), so only the bytes read can tell it is too large.
    Huge(usize),
}

/// A loopback HTTP/1.1 server on its own thread; one request per connection.
struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    /// The `authorization` header of the last request, if it had one.
    authorization: Arc<Mutex<Option<String>>>,
}

impl Server {
    fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&requests);
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let authorization: Arc<Mutex<Option<String>>> = Arc::default();
        let seen_authorization = Arc::clone(&authorization);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let mut auth = None;
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {
                            if let Some((k, v)) = line.split_once(':') {
                                if k.eq_ignore_ascii_case("authorization") {
                                    auth = Some(v.trim().to_owned());
                                }
                            }
                        }
                    }
                }
                *seen_authorization.lock().unwrap() = auth;
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let (status, body) = match &behaviour {
                    Behaviour::Serve(f) => ("200 OK", f(n)),
                    Behaviour::Hang => {
                        held.lock().unwrap().push(stream);
                        continue;
                    }
                    Behaviour::Status500 => ("500 Internal Server Error", "oops\n".to_owned()),
                    Behaviour::Huge(n) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                        );
                        let chunk = "big_gauge 1\n".repeat(1000);
                        for _ in 0..(n / chunk.len() + 1) {
                            if stream.write_all(chunk.as_bytes()).is_err() {
                                break;
                            }
                        }
                        continue;
                    }
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Server {
            addr,
            requests,
            authorization,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }
}

/// Observations added per request: 10 ≤ 0.1, 80 in (0.1, 0.5], 10 in (0.5, 1], none above.
/// Per interval p50 = 0.1 + 0.4 × 40/80 = 0.3 and p99 = 0.5 + 0.5 × 9/10 = 0.95.
const BATCH: [u64; 4] = [10, 90, 100, 100];

/// The good target's exposition for its n-th request, at `elapsed_s` since the server started:
/// `jobs_total` grows by 10 a second and is reset to 0 from the 6th request on.
fn exposition(n: u64, elapsed_s: f64) -> String {
    let jobs = if n < 6 {
        1000.0 + 10.0 * elapsed_s
    } else {
        10.0 * (elapsed_s - 100.0).max(0.0)
    };
    let k = n + 1;
    format!(
        "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{{queue=\"default\"}} {jobs}\n\
         # HELP latency_seconds Request latency.\n# TYPE latency_seconds histogram\n\
         latency_seconds_bucket{{route=\"/api\",le=\"0.1\"}} {}\nlatency_seconds_bucket{{route=\"/api\",le=\"0.5\"}} {}\n\
         latency_seconds_bucket{{route=\"/api\",le=\"1\"}} {}\nlatency_seconds_bucket{{route=\"/api\",le=\"+Inf\"}} {}\n\
         latency_seconds_sum{{route=\"/api\"}} {}\nlatency_seconds_count{{route=\"/api\"}} {}\n\
         # TYPE rpc_seconds summary\nrpc_seconds{{quantile=\"0.5\"}} 0.25\nrpc_seconds{{quantile=\"0.9\"}} 0.75\nrpc_seconds_sum 10\nrpc_seconds_count {}\n\
         # TYPE temperature gauge\ntemperature{{room=\"a \\\"quoted\\\" \\\\ name, x=1 }}\"}} 21.5\n\
         weird_nan NaN\nweird_inf +Inf\nthis is not a sample\n{{broken\n",
        BATCH[0] * k,
        BATCH[1] * k,
        BATCH[2] * k,
        BATCH[3] * k,
        30 * k,
        BATCH[3] * k,
        5 * k,
    )
}

fn config(dir: &std::path::Path, receiver: &OtlpReceiver, targets: &str) -> String {
    let mut text = default_config_with(
        &dir.join("state"),
        &[
            ("interval = \"10s\"", "interval = \"1s\""),
            ("kind = \"ensemble\"", "kind = \"ewma\"\nwarmup = 8"),
        ],
    );
    text.push_str(&format!(
        "\n[sinks.otlp]\nenabled = true\nprotocol = \"http\"\nendpoint = \"{}\"\nmetrics = true\n\n{targets}\n",
        receiver.http_endpoint()
    ));
    let path = dir.join("seismo.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn start(config: &str) -> (Agent, SocketAddr) {
    Agent::start_serving(config, None, START)
}

fn wait_values(receiver: &OtlpReceiver, signal: &str, at_least: usize) -> Vec<f64> {
    match receiver.wait_gauges(WAIT, |g| signal_values(g, signal).len() >= at_least) {
        Ok(g) => signal_values(&g, signal),
        Err(g) => panic!(
            "{signal}: fewer than {at_least} values; got {:?}; signals: {:?}",
            signal_values(&g, signal),
            g.iter()
                .filter_map(|g| g.attributes.get("seismo.signal"))
                .collect::<std::collections::BTreeSet<_>>()
        ),
    }
}

/// `family{label="value"} n` from a /metrics body.
fn metric(body: &str, series: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{body}"))
}

#[test]
fn counters_histograms_summaries_and_gauges_become_signals() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = OtlpReceiver::start();
    let t0 = Instant::now();
    let server = Server::start(Behaviour::Serve(Arc::new(move |n| {
        exposition(n, t0.elapsed().as_secs_f64())
    })));
    let targets = format!(
        "[[sources.scrape]]\nname = \"app\"\nurl = \"{}\"\ninterval = \"1s\"\nmax_series = 5\nheaders = {{ Authorization = \"Bearer t0k\" }}\n",
        server.url()
    );
    let path = config(dir.path(), &receiver, &targets);
    let (mut agent, addr) = start(&path);

    // Rates: 10 a second while the counter grows (the scrape's own time stamps, so a little
    // scheduling jitter), never negative across the reset.
    let rates = wait_values(&receiver, "scrape.app.jobs_total.per_s.queue_default", 8);
    assert!(
        rates.iter().all(|r| *r >= 0.0),
        "negative rate across the counter reset: {rates:?}"
    );
    let steady: Vec<f64> = rates.iter().copied().filter(|r| *r > 0.0).collect();
    assert!(
        steady.iter().filter(|r| (**r - 10.0).abs() < 1.5).count() >= 2,
        "{rates:?}"
    );
    assert!(server.requests.load(Ordering::SeqCst) >= 8);
    assert_eq!(
        server.authorization.lock().unwrap().as_deref(),
        Some("Bearer t0k")
    );

    // The histogram's per-interval distribution is the same batch every time.
    for (signal, want) in [
        ("scrape.app.latency_seconds.p50.route__api", 0.3),
        ("scrape.app.latency_seconds.p99.route__api", 0.95),
    ] {
        let v = wait_values(&receiver, signal, 2);
        assert!(v.iter().all(|x| (x - want).abs() < 1e-9), "{signal}: {v:?}");
    }
    let per_s = wait_values(&receiver, "scrape.app.latency_seconds.per_s.route__api", 2);
    assert!(per_s.iter().all(|r| *r > 0.0), "{per_s:?}");
    assert_eq!(
        wait_values(&receiver, "scrape.app.rpc_seconds.p50", 1)[0],
        0.25
    );
    assert_eq!(
        wait_values(&receiver, "scrape.app.rpc_seconds.p90", 1)[0],
        0.75
    );
    assert!(wait_values(&receiver, "scrape.app.rpc_seconds.per_s", 1)[0] > 0.0);
    assert!(wait_values(&receiver, "scrape.app.up", 1)
        .iter()
        .all(|v| *v == 1.0));

    // max_series = 5: jobs_total, latency_seconds, rpc_seconds (quantiles and count) and
    // temperature are admitted in name order; the label value with escapes, `,`, `=` and `}` is
    // one safe segment.
    // weird_inf and weird_nan are refused at the cap (they would carry no value anyway).
    let body = request(addr, "GET", "/metrics", None).unwrap().body;
    assert!(
        metric(
            &body,
            "seismo_scrape_series_dropped_total{reason=\"limit\"}"
        ) >= 2,
        "{body}"
    );
    assert!(metric(&body, "seismo_scrapes_total") >= 8);
    // Two bad lines in each body: skipped and counted, the rest of the body used.
    assert!(
        metric(&body, "seismo_scrape_lines_invalid_total") >= 16,
        "{body}"
    );
    assert_eq!(
        wait_values(
            &receiver,
            "scrape.app.temperature.room_a__quoted____name__x_1__",
            1
        )[0],
        21.5
    );
    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{:?}", agent.seen_stderr);
}

#[test]
fn bad_targets_are_counted_and_never_stall_the_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = OtlpReceiver::start();
    let t0 = Instant::now();
    let good = Server::start(Behaviour::Serve(Arc::new(move |n| {
        exposition(n, t0.elapsed().as_secs_f64())
    })));
    let hang = Server::start(Behaviour::Hang);
    let status = Server::start(Behaviour::Status500);
    let garbage = Server::start(Behaviour::Serve(Arc::new(|n| {
        format!("<html><body>{n} Not the metrics you are looking for {{{{}}}}</body></html>\n\u{0}\u{7f}\n")
    })));
    let huge = Server::start(Behaviour::Huge(4 << 20));
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut targets = String::new();
    for (name, url, extra) in [
        ("good", good.url(), ""),
        ("hang", hang.url(), "timeout = \"500ms\"\n"),
        ("status", status.url(), ""),
        ("garbage", garbage.url(), ""),
        ("huge", huge.url(), "max_body_bytes = 1048576\n"),
        ("refused", format!("http://{refused}/metrics"), ""),
    ] {
        targets.push_str(&format!(
            "[[sources.scrape]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"1s\"\n{extra}"
        ));
    }
    let path = config(dir.path(), &receiver, &targets);
    let (mut agent, addr) = start(&path);

    // The good target goes on every second while the others fail every second.
    let good_up = wait_values(&receiver, "scrape.good.up", 6);
    assert!(good_up.iter().all(|v| *v == 1.0), "{good_up:?}");
    for name in ["hang", "status", "garbage", "huge", "refused"] {
        let up = wait_values(&receiver, &format!("scrape.{name}.up"), 3);
        assert!(up.iter().all(|v| *v == 0.0), "{name}: {up:?}");
    }
    assert!(
        hang.requests.load(Ordering::SeqCst) >= 3,
        "the hanging target is tried again"
    );
    let mut body = String::new();
    let reasons = ["timeout", "status", "parse", "too_large", "connect"];
    for _ in 0..50 {
        body = request(addr, "GET", "/metrics", None).unwrap().body;
        if reasons.iter().all(|r| {
            metric(
                &body,
                &format!("seismo_scrape_errors_total{{reason=\"{r}\"}}"),
            ) >= 3
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for r in reasons {
        assert!(
            metric(
                &body,
                &format!("seismo_scrape_errors_total{{reason=\"{r}\"}}")
            ) >= 3,
            "{r}: {body}"
        );
    }
    assert!(
        signal_values(
            &receiver.gauges(),
            "scrape.good.jobs_total.per_s.queue_default"
        )
        .len()
            >= 3,
        "the good target's signals keep coming"
    );
    agent.signal(libc::SIGTERM);
    let (code, _) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(code.code(), Some(0), "{:?}", agent.seen_stderr);
    // Logged rate-limited: one line per target, not one per failure.
    for name in ["hang", "status", "garbage", "huge", "refused"] {
        let lines = agent
            .seen_stderr
            .iter()
            .filter(|l| l.contains("scrape failed") && l.contains(&format!("scrape={name}")))
            .count();
        assert_eq!(lines, 1, "{name}: {:?}", agent.seen_stderr);
    }
}

/// SIGHUP with a target added (and the first one unchanged): the new target is scraped, the
/// reload says so (no restart needed), and the first one goes on. That an unchanged target's
/// task is kept is `SourceTasks`' unit test.
#[test]
fn a_reload_adds_a_target_and_keeps_the_unchanged_one() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = OtlpReceiver::start();
    let t0 = Instant::now();
    let first = Server::start(Behaviour::Serve(Arc::new(move |n| {
        exposition(n, t0.elapsed().as_secs_f64())
    })));
    let second = Server::start(Behaviour::Serve(Arc::new(|_| "answer 42\n".to_owned())));
    let target = |name: &str, url: String| {
        format!("[[sources.scrape]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"1s\"\n")
    };
    let path = config(dir.path(), &receiver, &target("first", first.url()));
    let (mut agent, _) = start(&path);
    wait_values(&receiver, "scrape.first.up", 2);

    config(
        dir.path(),
        &receiver,
        &format!(
            "{}{}",
            target("first", first.url()),
            target("second", second.url())
        ),
    );
    agent.signal(libc::SIGHUP);
    assert!(
        agent
            .wait_stderr(WAIT, |l| l
                .contains("configuration reloaded: changed: scrape targets"))
            .is_some(),
        "{:?}",
        agent.seen_stderr
    );
    assert_eq!(wait_values(&receiver, "scrape.second.answer", 1)[0], 42.0);
    // The first target goes on.
    let up_before = signal_values(&receiver.gauges(), "scrape.first.up").len();
    wait_values(&receiver, "scrape.first.up", up_before + 2);
    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{:?}", agent.seen_stderr);
    assert!(
        !agent
            .seen_stderr
            .iter()
            .any(|l| l.contains("needs a restart")),
        "{:?}",
        agent.seen_stderr
    );
}
