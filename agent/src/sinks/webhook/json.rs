//! `format = "json"`: a batch of events (up to 64) as one JSON array per request; each element
//! is the event's own JSON exactly as the stdout sink prints it (schema in the README).

use crate::sinks::outbox::Record;
use crate::sinks::EventKind;

/// One array element: the record's payload, which must be a JSON object.
pub(crate) fn item(r: &Record) -> Result<serde_json::Value, String> {
    if EventKind::from_tag(r.kind).is_none() {
        return Err(format!("record kind {} is unknown", r.kind));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&r.payload).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    Ok(value)
}

/// The request body: the events as a JSON array, oldest first.
pub(crate) fn body(items: &[serde_json::Value]) -> Vec<u8> {
    // Serializing parsed JSON values cannot fail.
    serde_json::to_vec(items).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, payload: &str) -> Record {
        Record {
            seq: 1,
            time_ms: 0,
            kind,
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn events_pass_through_as_an_array() {
        let a = item(&record(1, r#"{"alert_id":"a","state":"firing"}"#)).unwrap();
        let b = item(&record(1, r#"{"alert_id":"a","state":"resolved"}"#)).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body(&[a, b])).unwrap();
        assert_eq!(body[1]["state"], "resolved");
        assert_eq!(body.as_array().unwrap().len(), 2);
        assert!(item(&record(1, "[1]")).unwrap_err().contains("object"));
        assert!(item(&record(1, "{")).unwrap_err().contains("not JSON"));
        assert!(item(&record(9, "{}")).unwrap_err().contains("unknown"));
    }
}
