//! `POST /api/v1/hooks/decisions`: approve or reject a hook proposal, or run an
//! `on = "request"` hook, with the API's write token (the guard checks it before this runs).
//! The body is a decision as on MQTT (docs/alerts.md), without the need for a signature.
//! Answers: 200 `{"result": "approved"|"rejected"|"run", "id": …}`; refusals are
//! `{"error": …, "reason": …}` with 400 (invalid), 404 (unknown), 409 (expired, duplicate,
//! busy: the limits), 503 (no hook takes decisions, or the agent is stopping), 500 (not
//! recorded).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use tokio::sync::oneshot;

use super::respond::{error, json};
use super::state::HttpState;
use crate::alerting::hooks::decisions::{Inbound, Refusal, Source};

/// How long a decision may wait for the hooks (they take it between two pipeline events).
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

pub(super) async fn decide(State(s): State<HttpState>, body: Bytes) -> Response {
    let Some(tx) = &s.decisions else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no hook takes decisions: set approval = \"required\" or on = \"request\" on a [[hooks]] table".into(),
        );
    };
    let (reply, answer) = oneshot::channel();
    let inbound = Inbound {
        body: body.to_vec(),
        source: Source::Http,
        reply: Some(reply),
    };
    let unavailable = || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the hooks are not taking decisions now (the agent is stopping or busy): try again"
                .into(),
        )
    };
    if tokio::time::timeout(ANSWER_WITHIN, tx.send(inbound))
        .await
        .map_or(true, |r| r.is_err())
    {
        return unavailable();
    }
    match tokio::time::timeout(ANSWER_WITHIN, answer).await {
        Ok(Ok(Ok(applied))) => {
            #[derive(Serialize)]
            struct Answer {
                result: &'static str,
                id: String,
            }
            json(
                StatusCode::OK,
                &Answer {
                    result: applied.result,
                    id: applied.id,
                },
            )
        }
        Ok(Ok(Err(refusal))) => {
            #[derive(Serialize)]
            struct Refused {
                error: String,
                reason: &'static str,
            }
            let status = match refusal {
                Refusal::Invalid(_)
                | Refusal::Unsigned
                | Refusal::BadSignature
                | Refusal::Replayed(_) => StatusCode::BAD_REQUEST,
                Refusal::Unknown(_) => StatusCode::NOT_FOUND,
                Refusal::Expired(_) | Refusal::Duplicate(_) | Refusal::Busy(_) => {
                    StatusCode::CONFLICT
                }
                Refusal::NotRecorded(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            // The hooks counted and logged it.
            json(
                status,
                &Refused {
                    error: refusal.to_string(),
                    reason: refusal.label(),
                },
            )
        }
        Ok(Err(_)) | Err(_) => unavailable(),
    }
}
