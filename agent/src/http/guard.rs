//! Who may do what: every request must name this endpoint in `Host` (no DNS rebinding) and,
//! when it carries an `Origin`, come from the same origin (no cross-site pages); writes also
//! need `Authorization: Bearer <token>` and a JSON body type. Refusals are JSON sentences.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap, Method, StatusCode};
use seismo_config::HttpConfig;

use super::token::Token;
use crate::excerpt::excerpt;

/// What the guard checks against.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Host names (lower case, IPv6 in brackets) that `Host` may name, with `port`.
    hosts: Vec<String>,
    port: u16,
    /// `None`: no writes are accepted at all.
    token: Option<Token>,
}

impl Guard {
    /// The guard for an endpoint bound to `addr` under `config`.
    pub fn new(config: &HttpConfig, addr: SocketAddr, token: Option<Token>) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let ip = match addr.ip() {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        if !addr.ip().is_unspecified() {
            hosts.push(ip);
        }
        for h in &config.allowed_hosts {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            hosts.push(if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_owned()
            });
        }
        Self {
            hosts,
            port: addr.port(),
            token,
        }
    }

    /// Refuses writes (tests, and an endpoint set up without a token).
    pub fn read_only(addr: SocketAddr) -> Self {
        Self::new(&HttpConfig::default(), addr, None)
    }

    fn host_ok(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = match host.rfind(':') {
            Some(at) if !host[at..].contains(']') => (&host[..at], host[at + 1..].parse().ok()),
            _ => (host.as_str(), Some(80)),
        };
        port == Some(self.port) && self.hosts.iter().any(|h| h == name)
    }

    /// Why the request is refused, if it is.
    pub(super) fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<(), (StatusCode, String)> {
        let text = |name: header::HeaderName| {
            headers
                .get(&name)
                .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned())
        };
        let host = text(header::HOST).unwrap_or_default();
        if !self.host_ok(&host) {
            return Err((
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "the Host header `{}` does not name this endpoint: use http://127.0.0.1:{}/ or http://localhost:{}/ (other names go in [http] allowed_hosts)",
                    excerpt(&host),
                    self.port,
                    self.port
                ),
            ));
        }
        if let Some(origin) = text(header::ORIGIN) {
            if !origin.eq_ignore_ascii_case(&format!("http://{}", host.trim())) {
                return Err((
                    StatusCode::FORBIDDEN,
                    format!(
                        "cross-origin requests are refused (Origin `{}`): send the request from this host without a browser, e.g. with curl or `seismo silence`",
                        excerpt(&origin)
                    ),
                ));
            }
        }
        if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
            if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
                return Err((
                    StatusCode::FORBIDDEN,
                    "cross-site requests are refused: send the request from this host without a browser".into(),
                ));
            }
        }
        if matches!(*method, Method::GET | Method::HEAD) {
            return Ok(());
        }
        let Some(token) = &self.token else {
            return Err((
                StatusCode::FORBIDDEN,
                "this endpoint accepts no changes: it has no API token".into(),
            ));
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .filter(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer "))
            .map(|v| &v[7..]);
        match presented {
            None => {
                return Err((
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "this request changes the agent's state and needs `Authorization: Bearer <token>`, with the token from {} (the `seismo silence` commands read it)",
                        token.path().display()
                    ),
                ))
            }
            Some(t) if !token.matches(t.trim_ascii()) => {
                return Err((
                    StatusCode::FORBIDDEN,
                    format!(
                        "the bearer token is not the one in {}",
                        token.path().display()
                    ),
                ))
            }
            Some(_) => {}
        }
        let content_type = text(header::CONTENT_TYPE);
        let json = content_type.as_deref().is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json && (*method == Method::POST || content_type.is_some()) {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "the body must be JSON, sent with `Content-Type: application/json` (not `{}`)",
                    excerpt(content_type.as_deref().unwrap_or("none"))
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn host_origin_token_and_type() {
        let addr: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        let g = Guard::new(
            &HttpConfig::default(),
            addr,
            Some(Token::new("0123456789abcdef", "/t".into())),
        );
        let get = |h: &[(&'static str, &str)]| g.check(&Method::GET, &headers(h)).map_err(|e| e.0);
        assert!(get(&[("host", "127.0.0.1:9464")]).is_ok());
        assert!(get(&[("host", "LOCALHOST:9464")]).is_ok());
        assert!(get(&[("host", "[::1]:9464")]).is_ok());
        for bad in [
            "evil.example:9464",
            "127.0.0.1:80",
            "127.0.0.1",
            "",
            "[::1]",
        ] {
            assert_eq!(
                get(&[("host", bad)]),
                Err(StatusCode::MISDIRECTED_REQUEST),
                "{bad}"
            );
        }
        assert_eq!(
            get(&[
                ("host", "127.0.0.1:9464"),
                ("origin", "http://evil.example")
            ]),
            Err(StatusCode::FORBIDDEN)
        );
        assert!(get(&[
            ("host", "127.0.0.1:9464"),
            ("origin", "http://127.0.0.1:9464")
        ])
        .is_ok());
        let post =
            |h: &[(&'static str, &str)]| g.check(&Method::POST, &headers(h)).map_err(|e| e.0);
        let host = ("host", "127.0.0.1:9464");
        let json = ("content-type", "application/json; charset=utf-8");
        assert_eq!(post(&[host, json]), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(
            post(&[host, json, ("authorization", "Bearer 0123456789abcdeX")]),
            Err(StatusCode::FORBIDDEN)
        );
        let auth = ("authorization", "bearer 0123456789abcdef");
        assert!(post(&[host, json, auth]).is_ok());
        assert_eq!(
            post(&[host, auth, ("content-type", "text/plain")]),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(post(&[host, auth]), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert!(g.check(&Method::DELETE, &headers(&[host, auth])).is_ok());
        let open = Guard::new(
            &HttpConfig {
                allowed_hosts: vec!["web-1".into()],
                ..HttpConfig::default()
            },
            "0.0.0.0:9464".parse().unwrap(),
            None,
        );
        assert!(open.host_ok("web-1:9464") && !open.host_ok("0.0.0.0:9464"));
        assert!(open
            .check(&Method::DELETE, &headers(&[("host", "web-1:9464")]))
            .is_err());
    }
}
