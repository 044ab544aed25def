//! A loopback HTTP receiver for webhook tests (axum on an ephemeral 127.0.0.1 port): it records
//! every request (path, headers, body, the status it answered) and answers 202 with PagerDuty's
//! success body, or, on demand, a scripted status for the next requests (429, 500, 400, ...).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::tls_listener::{acceptor, TlsListener};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Request {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "request body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    script: VecDeque<u16>,
}

struct Shared {
    state: Mutex<State>,
    arrived: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct HttpReceiver {
    pub addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    _runtime: tokio::runtime::Runtime,
}

impl HttpReceiver {
    /// Starts on a free loopback port.
    pub fn start() -> HttpReceiver {
        Self::start_with(None)
    }

    /// Like [`HttpReceiver::start`], serving HTTPS with the PEM certificate (chain) and key.
    /// Failed handshakes (a client that does not trust the certificate) are skipped.
    pub fn start_tls(cert_pem: &std::path::Path, key_pem: &std::path::Path) -> HttpReceiver {
        let cert = std::fs::read(cert_pem).expect("read the server certificate");
        let key = std::fs::read(key_pem).expect("read the server key");
        Self::start_with(Some(acceptor(&cert, &key)))
    }

    fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> HttpReceiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .thread_name("http-receiver")
            .build()
            .expect("receiver runtime");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            arrived: Condvar::new(),
        });
        let with_tls = tls.is_some();
        let addr = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let addr = listener.local_addr().expect("addr");
            let app = axum::Router::new()
                .fallback(handle)
                .with_state(Arc::clone(&shared));
            tokio::spawn(async move {
                let served = match tls {
                    None => axum::serve(listener, app).await,
                    Some(acceptor) => {
                        axum::serve(
                            TlsListener {
                                tcp: listener,
                                acceptor,
                            },
                            app,
                        )
                        .await
                    }
                };
                if let Err(e) = served {
                    eprintln!("HTTP receiver stopped: {e}");
                }
            });
            addr
        });
        HttpReceiver {
            addr,
            tls: with_tls,
            shared,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` when started with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Answers the next requests with these statuses, one each, then 202 again.
    pub fn script(&self, statuses: &[u16]) {
        self.shared.lock().script.extend(statuses);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Waits up to `timeout` until `pred` holds for the requests so far; returns them either way.
    pub fn wait(&self, timeout: Duration, pred: impl Fn(&[Request]) -> bool) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if pred(&state.requests) {
                return state.requests.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return state.requests.clone();
            }
            state = self
                .shared
                .arrived
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

async fn handle(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let status = {
        let mut state = shared.lock();
        let status = state.script.pop_front().unwrap_or(202);
        state.requests.push(Request {
            method: method.to_string(),
            path: uri.path().to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            status,
        });
        status
    };
    shared.arrived.notify_all();
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = if code.is_success() {
        r#"{"status":"success","message":"Event processed"}"#
    } else {
        r#"{"status":"error","message":"scripted failure"}"#
    };
    (code, text).into_response()
}
