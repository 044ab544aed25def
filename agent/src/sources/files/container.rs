//! Container runtime log wrappers: CRI (`<RFC3339Nano> <stdout|stderr> <P|F> <log>`, what
//! kubelet writes under /var/log/pods) and Docker json-file (`{"log":"..\n","stream":..,"time":..}`).
//! Pure functions over one physical record: the tailer joins partial records and keeps the
//! checkpoint before an unfinished sequence.

use serde::Deserialize;

/// Which wrapper a file's records use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrapper {
    Cri,
    Docker,
}

impl Wrapper {
    /// Guesses the wrapper from a file's first record; `None` for a plain log line.
    pub fn detect(record: &[u8]) -> Option<Wrapper> {
        if record.first() == Some(&b'{') && decode_docker(record).is_ok() {
            Some(Wrapper::Docker)
        } else if decode_cri(record).is_ok() {
            Some(Wrapper::Cri)
        } else {
            None
        }
    }

    pub fn decode(self, record: &[u8]) -> Result<Record, Malformed> {
        match self {
            Wrapper::Cri => decode_cri(record),
            Wrapper::Docker => decode_docker(record),
        }
    }
}

/// One decoded record: `message` is the log text without the wrapper (and without the newline
/// Docker keeps); `partial` when the line continues in the next record; `stderr` when it was
/// written to stderr (else stdout). The time is validated, not kept.
#[derive(Debug, PartialEq)]
pub(crate) struct Record {
    pub partial: bool,
    pub stderr: bool,
    pub message: Vec<u8>,
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Malformed {
    #[error("a CRI record needs `<time> <stdout|stderr> <P|F> <log>`")]
    CriPrefix,
    #[error("a Docker record is not a JSON object with string `log` and `stream`")]
    Json,
    #[error("the stream is neither stdout nor stderr")]
    Stream,
}

fn check_stream(s: &[u8]) -> Result<(), Malformed> {
    match s {
        b"stdout" | b"stderr" => Ok(()),
        _ => Err(Malformed::Stream),
    }
}

/// Decodes one CRI record; the time must at least start like RFC 3339 (`YYYY-`).
pub(crate) fn decode_cri(record: &[u8]) -> Result<Record, Malformed> {
    let mut parts = record.splitn(4, |&b| b == b' ');
    let (Some(time), Some(stream), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Malformed::CriPrefix);
    };
    let message = parts.next().unwrap_or(b"");
    let partial = match tag {
        b"P" => true,
        b"F" => false,
        _ => return Err(Malformed::CriPrefix),
    };
    check_stream(stream).map_err(|_| Malformed::CriPrefix)?;
    let stderr = stream == b"stderr";
    if time.len() < 20 || !time[..4].iter().all(u8::is_ascii_digit) || time[4] != b'-' {
        return Err(Malformed::CriPrefix);
    }
    Ok(Record {
        partial,
        stderr,
        message: message.to_vec(),
    })
}

#[derive(Deserialize)]
struct DockerLine<'a> {
    #[serde(borrow)]
    log: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    stream: std::borrow::Cow<'a, str>,
}

/// Decodes one Docker json-file record. A `log` without a final newline is a partial line.
pub(crate) fn decode_docker(record: &[u8]) -> Result<Record, Malformed> {
    let line: DockerLine = serde_json::from_slice(record).map_err(|_| Malformed::Json)?;
    check_stream(line.stream.as_bytes())?;
    let log = line.log.as_bytes();
    let (message, partial) = match log.strip_suffix(b"\n") {
        Some(m) => (m.strip_suffix(b"\r").unwrap_or(m), false),
        None => (log, true),
    };
    Ok(Record {
        partial,
        stderr: line.stream == "stderr",
        message: message.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_records_decode_full_and_partial() {
        let r = decode_cri(b"2026-11-26T01:02:03.123456789Z stdout F hello world").unwrap();
        assert_eq!(r.message, b"hello world");
        assert!(!r.partial);
        let r = decode_cri(b"2026-11-26T01:02:03.1Z stderr P part ").unwrap();
        assert_eq!(r.message, b"part ");
        assert!(r.partial && r.stderr);
        // An empty log line is a record with an empty message.
        assert_eq!(
            decode_cri(b"2026-11-26T01:02:03Z stdout F")
                .unwrap()
                .message,
            b""
        );
    }

    #[test]
    fn bad_cri_prefixes_are_refused() {
        for bad in [
            &b"plain text line"[..],
            b"2026-11-26T01:02:03Z stdout X msg",
            b"2026-11-26T01:02:03Z stdio F msg",
            b"yesterday stdout F msg",
            b"",
        ] {
            assert_eq!(decode_cri(bad), Err(Malformed::CriPrefix), "{bad:?}");
        }
    }

    #[test]
    fn docker_records_decode_and_unescape() {
        let r = decode_docker(
            br#"{"log":"a \"quoted\" \u00e9 line\n","stream":"stderr","time":"2026-11-26T01:02:03.5Z"}"#,
        )
        .unwrap();
        assert_eq!(r.message, "a \"quoted\" \u{e9} line".as_bytes());
        assert!(!r.partial);
        let r = decode_docker(br#"{"log":"no newline","stream":"stdout"}"#).unwrap();
        assert!(r.partial);
    }

    #[test]
    fn malformed_docker_records_are_refused() {
        for bad in [
            &br#"{"log":"cut"#[..],
            br#"{"stream":"stdout"}"#,
            br#"{"log":1,"stream":"stdout"}"#,
            br#"{"log":"x\n","stream":"other"}"#,
            b"not json",
        ] {
            assert!(decode_docker(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn detection_looks_at_the_first_record() {
        assert_eq!(
            Wrapper::detect(br#"{"log":"x\n","stream":"stdout","time":"2026-11-26T01:02:03Z"}"#),
            Some(Wrapper::Docker)
        );
        assert_eq!(
            Wrapper::detect(b"2026-11-26T01:02:03Z stdout F x"),
            Some(Wrapper::Cri)
        );
        assert_eq!(Wrapper::detect(b"Nov 26 01:02:03 host sshd: x"), None);
    }
}
