//! `[[sinks.webhook]]`: alerts POSTed over HTTP(S) to incident tools, each webhook through its
//! own durable outbox. Several are allowed, each with a unique `name`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::sink_fields::{
    self, absolute_file, check_retry, header_name, http_url, outbox_bytes, retry, HeaderRules,
    OUTBOX_MAX_BYTES, RETRY_INITIAL, RETRY_MAX,
};
use crate::values::{self, duration_in};

/// What the request bodies look like.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// A JSON array of seismo's own events (the stdout schema), one request per batch.
    #[default]
    Json,
    /// Prometheus Alertmanager's API v2: `POST {url}/api/v2/alerts`.
    Alertmanager,
    /// PagerDuty Events API v2: one trigger/resolve event per request.
    Pagerduty,
}

/// Where PagerDuty's Events API v2 takes events when no `url` is given.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// One `[[sinks.webhook]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSinkConfig {
    /// Required and unique: names the outbox (`webhook-{name}`), the self-metrics and the logs.
    #[serde(deserialize_with = "name")]
    pub name: String,
    pub format: WebhookFormat,
    /// For `json` and `pagerduty` the URL the requests go to; for `alertmanager` the base URL
    /// (`/api/v2/alerts` is appended). Required except for `pagerduty`.
    #[serde(deserialize_with = "url_opt")]
    pub url: Option<String>,
    /// Extra request headers with their values written here.
    #[serde(deserialize_with = "headers")]
    pub headers: BTreeMap<String, String>,
    /// Extra request headers whose values (secrets) come from environment variables:
    /// header name → variable name.
    #[serde(deserialize_with = "headers")]
    pub headers_env: BTreeMap<String, String>,
    /// Extra request headers whose values come from files (a trailing newline is dropped):
    /// header name → absolute path.
    #[serde(deserialize_with = "header_files")]
    pub headers_file: BTreeMap<String, PathBuf>,
    /// How long one request may take (connection included) before it counts as failed.
    #[serde(deserialize_with = "request_timeout")]
    pub timeout: Duration,
    /// PEM file of the CA(s) that sign the server's certificate; the system's roots when absent.
    #[serde(deserialize_with = "absolute_file")]
    pub ca_file: Option<PathBuf>,
    /// Retry backoff: starts at `retry_initial`, doubles up to `retry_max`, with jitter.
    #[serde(deserialize_with = "retry")]
    pub retry_initial: Duration,
    #[serde(deserialize_with = "retry")]
    pub retry_max: Duration,
    /// Bound of this webhook's outbox on disk, in bytes.
    #[serde(deserialize_with = "outbox_bytes")]
    pub outbox_max_bytes: u64,
    /// `alertmanager` only: how often still-firing alerts are posted again, so Alertmanager
    /// does not resolve them by timeout (60 s when absent).
    #[serde(deserialize_with = "repeat_interval")]
    pub repeat_interval: Option<Duration>,
    /// `alertmanager` only: the `generatorURL` of every alert (a dashboard link, say).
    #[serde(deserialize_with = "url_opt")]
    pub generator_url: Option<String>,
    /// `pagerduty` only: the integration's routing key, written here (discouraged), or read
    /// from a file, or from an environment variable: exactly one of the three.
    pub routing_key: Option<String>,
    #[serde(deserialize_with = "absolute_file")]
    pub routing_key_file: Option<PathBuf>,
    pub routing_key_env: Option<String>,
}

impl Default for WebhookSinkConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            format: WebhookFormat::Json,
            url: None,
            headers: BTreeMap::new(),
            headers_env: BTreeMap::new(),
            headers_file: BTreeMap::new(),
            timeout: Duration::from_secs(10),
            ca_file: None,
            retry_initial: RETRY_INITIAL,
            retry_max: RETRY_MAX,
            outbox_max_bytes: OUTBOX_MAX_BYTES,
            repeat_interval: None,
            generator_url: None,
            routing_key: None,
            routing_key_file: None,
            routing_key_env: None,
        }
    }
}

impl WebhookSinkConfig {
    /// The URL requests go to (for `alertmanager`, with `/api/v2/alerts` appended).
    pub fn endpoint(&self) -> String {
        match (self.format, &self.url) {
            (WebhookFormat::Alertmanager, Some(u)) => format!("{u}/api/v2/alerts"),
            (_, Some(u)) => u.clone(),
            (_, None) => PAGERDUTY_EVENTS_URL.to_owned(),
        }
    }

    /// The re-post interval of still-firing alerts (`alertmanager`).
    pub fn repeat_interval(&self) -> Duration {
        self.repeat_interval.unwrap_or(Duration::from_secs(60))
    }

    /// The outbox (and self-metrics) name.
    pub fn outbox_name(&self) -> String {
        format!("webhook-{}", self.name)
    }
}

/// Deserializes the `[[sinks.webhook]]` array and checks each table and the names' uniqueness.
pub(crate) fn checked_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<WebhookSinkConfig>, D::Error> {
    values::named_list(
        d,
        |c: &WebhookSinkConfig| &c.name,
        check,
        |n| {
            format!("two [[sinks.webhook]] tables are named `{n}`: give each a unique `name` (it names its outbox)")
        },
    )
}

fn check(c: &WebhookSinkConfig) -> Result<(), String> {
    if c.name.is_empty() {
        return Err(
            "a [[sinks.webhook]] table has no `name`: add one such as `name = \"pagerduty\"`"
                .into(),
        );
    }
    let n = &c.name;
    if c.url.is_none() && c.format != WebhookFormat::Pagerduty {
        return Err(format!(
            "[[sinks.webhook]] `{n}` has no `url`: write one such as \"http://alertmanager:9093\""
        ));
    }
    check_retry(
        &format!("[[sinks.webhook]] `{n}`"),
        c.retry_initial,
        c.retry_max,
    )?;
    if c.ca_file.is_some() && !c.endpoint().starts_with("https://") {
        return Err(format!(
            "[[sinks.webhook]] `{n}` has `ca_file` but its url is not https://: write an https:// url, or remove `ca_file`"
        ));
    }
    let mut seen = BTreeMap::new();
    for (h, from) in c
        .headers
        .keys()
        .map(|h| (h, "headers"))
        .chain(c.headers_env.keys().map(|h| (h, "headers_env")))
        .chain(c.headers_file.keys().map(|h| (h, "headers_file")))
    {
        if let Some(first) = seen.insert(h.clone(), from) {
            return Err(format!(
                "in [[sinks.webhook]] `{n}`, header `{h}` is set in both `{first}` and `{from}`: keep one"
            ));
        }
    }
    let keys = [
        c.routing_key.is_some(),
        c.routing_key_file.is_some(),
        c.routing_key_env.is_some(),
    ];
    let key_count = keys.iter().filter(|&&k| k).count();
    match c.format {
        WebhookFormat::Pagerduty if key_count != 1 => {
            return Err(format!(
                "[[sinks.webhook]] `{n}` (pagerduty) needs exactly one of `routing_key`, `routing_key_file` and `routing_key_env` (the integration key of the PagerDuty service)"
            ));
        }
        WebhookFormat::Pagerduty => {}
        _ if key_count > 0 => {
            return Err(format!(
                "[[sinks.webhook]] `{n}` sets a routing key but its format is not \"pagerduty\": remove it, or set `format = \"pagerduty\"`"
            ));
        }
        _ => {}
    }
    if c.format != WebhookFormat::Alertmanager
        && (c.repeat_interval.is_some() || c.generator_url.is_some())
    {
        return Err(format!(
            "[[sinks.webhook]] `{n}`: `repeat_interval` and `generator_url` are for `format = \"alertmanager\"` only: remove them"
        ));
    }
    Ok(())
}

fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty()
        || s.len() > 64
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(de::Error::custom(format!(
            "`{s}` cannot name a webhook: use 1 to 64 letters, digits, - and _, such as \"pagerduty\""
        )));
    }
    Ok(s)
}

fn url_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    http_url(
        &s,
        "http://127.0.0.1:9093",
        "https://hooks.example.com/seismo",
    )
    .map(Some)
}

/// The headers a webhook may set: any but those the HTTP client writes itself.
const HEADERS: HeaderRules = HeaderRules {
    example: "authorization",
    reserved: |h| {
        matches!(
            h,
            "content-type" | "content-length" | "host" | "transfer-encoding"
        )
    },
    setter: "the sink",
};

/// Header names are HTTP tokens (kept lower-cased); values printable ASCII.
fn headers<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    sink_fields::headers(d, &HEADERS)
}

fn header_files<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, PathBuf>, D::Error> {
    let raw = BTreeMap::<String, PathBuf>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (name, path) in raw {
        let lower = header_name(&name, &HEADERS)?;
        if !path.is_absolute() {
            return Err(de::Error::custom(format!(
                "`{}` (header `{name}`) is a relative path: write an absolute path such as \"/etc/seismo/webhook-token\"",
                path.display()
            )));
        }
        out.insert(lower, path);
    }
    Ok(out)
}

fn request_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_in(d, Duration::from_millis(100), Duration::from_secs(300))
}

fn repeat_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration_in(d, Duration::from_secs(1), Duration::from_secs(3600)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::tests::refusal as err;

    #[test]
    fn none_by_default() {
        assert!(parse("", "t").unwrap().sinks.webhook.is_empty());
    }

    #[test]
    fn several_webhooks_parse() {
        let c = parse(
            "[[sinks.webhook]]\nname = \"am\"\nformat = \"alertmanager\"\nurl = \"http://127.0.0.1:9093/\"\nrepeat_interval = \"30s\"\n\
             [[sinks.webhook]]\nname = \"pd\"\nformat = \"pagerduty\"\nrouting_key_env = \"PD_KEY\"\ntimeout = \"2s\"\n\
             [[sinks.webhook]]\nname = \"hook\"\nurl = \"https://h.example/x\"\nca_file = \"/etc/ca.pem\"\n\
             headers = { \"X-Team\" = \"ops\" }\nheaders_env = { Authorization = \"HOOK_AUTH\" }\nheaders_file = { \"X-Token\" = \"/run/token\" }\n",
            "t",
        )
        .unwrap()
        .sinks
        .webhook;
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].endpoint(), "http://127.0.0.1:9093/api/v2/alerts");
        assert_eq!(c[0].repeat_interval(), Duration::from_secs(30));
        assert_eq!(c[1].endpoint(), PAGERDUTY_EVENTS_URL);
        assert_eq!(c[1].timeout, Duration::from_secs(2));
        assert_eq!(c[1].outbox_name(), "webhook-pd");
        assert_eq!(c[2].format, WebhookFormat::Json);
        assert_eq!(c[2].headers["x-team"], "ops");
        assert_eq!(c[2].headers_env["authorization"], "HOOK_AUTH");
        assert_eq!(c[2].headers_file["x-token"], PathBuf::from("/run/token"));
    }

    #[test]
    fn bad_tables_are_explained() {
        let e = err("[[sinks.webhook]]\nurl = \"http://a\"\n");
        assert!(e.contains("has no `name`"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a b\"\nurl = \"http://a\"\n");
        assert!(
            e.contains("t.toml:2:8") && e.contains("cannot name a webhook"),
            "{e}"
        );
        let e = err("[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\n[[sinks.webhook]]\nname = \"a\"\nurl = \"http://b\"\n");
        assert!(e.contains("unique `name`"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\n");
        assert!(e.contains("has no `url`"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\nformat = \"pagerduty\"\n");
        assert!(e.contains("exactly one of `routing_key`"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\nrouting_key = \"k\"\n");
        assert!(e.contains("format is not \"pagerduty\""), "{e}");
        let e =
            err("[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\nrepeat_interval = \"10s\"\n");
        assert!(e.contains("alertmanager\"` only"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\nca_file = \"/ca.pem\"\n");
        assert!(e.contains("not https://"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\nurl = \"a:9093\"\n");
        assert!(e.contains("not an http:// or https:// URL"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\nformat = \"slack\"\n");
        assert!(e.contains("unknown value `slack`"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\nheaders = { \"Content-Type\" = \"x\" }\n");
        assert!(e.contains("set by the sink itself"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\nheaders = { a = \"x\" }\nheaders_env = { A = \"V\" }\n");
        assert!(e.contains("both `headers` and `headers_env`"), "{e}");
        let e = err(
            "[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\nheaders_file = { a = \"rel\" }\n",
        );
        assert!(e.contains("relative path"), "{e}");
        let e = err("[[sinks.webhook]]\nname = \"a\"\nurl = \"http://a\"\ntimeout = \"1ms\"\n");
        assert!(e.contains("out of range"), "{e}");
    }
}
