//! `/api/v1/silences`: create (POST), list (GET), expire (DELETE /{id}). Answers are JSON;
//! errors are `{"error": "<a sentence>"}` with 400 for a bad request, 404 for an unknown id,
//! 409 for a silence from the configuration file, 500 when it cannot be saved.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::respond::{error, json, json_problem, rejected};
use super::state::HttpState;
use crate::alerting::silences::{NewSilence, SilenceError, Silences};
use crate::clock::now_ms;

pub(super) async fn list(State(s): State<HttpState>) -> Response {
    #[derive(Serialize)]
    struct Listing {
        silences: Vec<crate::alerting::silences::SilenceView>,
    }
    json(
        StatusCode::OK,
        &Listing {
            silences: s.silences.active(now_ms()),
        },
    )
}

pub(super) async fn create(State(s): State<HttpState>, body: Bytes) -> Response {
    let req: NewSilence = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return rejected(
                &s,
                StatusCode::BAD_REQUEST,
                format!(
                    "the body is not a valid silence ({}): send a JSON object such as \
                     {{\"signals\": [\"host.cpu.*\"], \"for\": \"2h\", \"comment\": \"maintenance\", \"created_by\": \"alice\"}}",
                    json_problem(&e)
                ),
            )
        }
    };
    let store = Arc::clone(&s.silences);
    // Creating saves to disk (fsync): off the async workers.
    match blocking(move || store.create(req, now_ms())).await {
        Ok(view) => {
            tracing::info!(id = %view.id, signals = ?view.signals, ends_at = %view.ends_at,
                created_by = %view.created_by, comment = %view.comment, "silence created");
            let location = format!("/api/v1/silences/{}", view.id);
            let mut r = json(StatusCode::CREATED, &view);
            if let Ok(v) = header::HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Err(e) => silence_error(&s, e),
    }
}

pub(super) async fn expire(
    State(s): State<HttpState>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    // axum's own rejection would quote the path and name the type it wanted.
    let Ok(Path(id)) = id else {
        return rejected(
            &s,
            StatusCode::BAD_REQUEST,
            "the silence id in the path is not valid UTF-8: ids are 16 hex digits, as the listing shows".into(),
        );
    };
    let store = Arc::clone(&s.silences);
    let target = id.clone();
    match blocking(move || store.expire(&target, now_ms())).await {
        Ok(()) => {
            tracing::info!(id = %id, "silence expired");
            #[derive(Serialize)]
            struct Expired {
                id: String,
                expired: bool,
            }
            json(StatusCode::OK, &Expired { id, expired: true })
        }
        Err(e) => silence_error(&s, e),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SilenceError> + Send + 'static,
) -> Result<T, SilenceError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(SilenceError::Storage {
            path: Silences::FILE_NAME.to_owned(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

fn silence_error(s: &HttpState, e: SilenceError) -> Response {
    let status = match &e {
        SilenceError::Invalid(_) => StatusCode::BAD_REQUEST,
        SilenceError::NotFound(_) => StatusCode::NOT_FOUND,
        SilenceError::FromConfig(_) => StatusCode::CONFLICT,
        SilenceError::Storage { .. } => {
            tracing::error!(error = %e, "silences API");
            return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
    };
    rejected(s, status, e.to_string())
}
