//! JSON answers of the API: a value, or `{"error": "<a sentence>"}`. Sentences quote at most a
//! short excerpt of what the client sent and never name Rust types.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::state::HttpState;
use crate::excerpt::excerpt;
use crate::telemetry::stats::Stats;

pub(super) fn error(status: StatusCode, message: String) -> Response {
    #[derive(Serialize)]
    struct Error {
        error: String,
    }
    json(status, &Error { error: message })
}

pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A refused request: counted, logged at most once a minute, answered with the reason.
pub(super) fn rejected(s: &HttpState, status: StatusCode, message: String) -> Response {
    Stats::add(&s.stats.api_requests_rejected, 1);
    let hit = s
        .rejected_log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .hit();
    if let Some(n) = hit {
        tracing::warn!(status = status.as_u16(), reason = %message, refused = n,
            "HTTP API request refused (logged at most once a minute)");
    }
    error(status, message)
}

/// What is wrong with a JSON body, in words: quoted values cut to an excerpt, Rust type names
/// (`u16`, `i128`, `usize`…) replaced by what they mean.
pub(super) fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Eof => format!("the JSON ends early ({at})"),
        Category::Syntax | Category::Io => format!("it is not valid JSON ({at})"),
        Category::Data => {
            let text = e.to_string();
            // serde_json appends " at line L column C".
            let text = text
                .rsplit_once(" at line ")
                .map_or(text.as_str(), |(t, _)| t);
            format!("{} ({at})", plain(&shorten_quotes(text)))
        }
    }
}

/// Cuts every `…` or "…" quoted stretch to an excerpt.
fn shorten_quotes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find(['`', '"']) {
        let q = rest.as_bytes()[open] as char;
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        match after.find(q) {
            Some(close) => {
                out.push_str(&excerpt(&after[..close]));
                out.push(q);
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&excerpt(after));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Replaces Rust primitive type names with words.
fn plain(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            let core = w.trim_end_matches([',', '.', ')']);
            let tail = &w[core.len()..];
            let word = match core {
                "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64"
                | "i128" | "isize" => "a whole number",
                "f32" | "f64" => "a number",
                "bool" => "true or false",
                _ => return w.to_owned(),
            };
            format!("{word}{tail}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_quote_little_and_name_no_types() {
        let long = "x".repeat(200_000);
        let e = serde_json::from_str::<Vec<String>>(&format!("\"{long}\"")).unwrap_err();
        let p = json_problem(&e);
        assert!(p.len() < 200, "{p}");
        assert!(p.contains("xxxx…"), "{p}");
        let e = serde_json::from_str::<u16>("70000").unwrap_err();
        let p = json_problem(&e);
        assert!(!p.contains("u16"), "{p}");
        let e = serde_json::from_str::<u16>("{").unwrap_err();
        assert!(json_problem(&e).contains("line 1"), "{e}");
    }
}
