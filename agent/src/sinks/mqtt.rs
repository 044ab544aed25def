//! The MQTT sink: alert events from this sink's outbox, published to a broker with rumqttc.
//!
//! Topics: `{prefix}/{host}/alerts` (alert JSON, the stdout sink's schema),
//! `{prefix}/{host}/incidents`, `{prefix}/{host}/hooks` (the steps of hook runs) and
//! `{prefix}/{host}/hooks/proposals` (hooks waiting for an approval), and
//! `{prefix}/{host}/status`: a retained `online` published on every connection, with a
//! retained Last Will of `offline`. Decisions arrive on `{prefix}/{host}/hooks/decisions`
//! (`mqtt_decisions.rs`).
//!
//! A record leaves the outbox only when the broker acknowledged it: PUBACK at QoS 1, PUBCOMP at
//! QoS 2; at QoS 0, once it was written to the socket. Each connection is fresh (clean
//! session): after any error the connection is dropped and rebuilt after a backoff, and the
//! unacknowledged records are published again from the outbox (at least once).

use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode as ConnectCodeV5, Packet as PacketV5, PubAckReason, PubCompReason,
    PubRecReason,
};
use rumqttc::v5::mqttbytes::QoS as QoSV5;
use rumqttc::{ConnectReturnCode, Event, Outgoing, Packet, QoS, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use seismo_config::{MqttSinkConfig, MqttVersion};

use super::deliver::{Delivery, DeliveryError, BATCH};
use super::EventKind;
use crate::sinks::outbox::Record;

/// What the sink needs besides the configuration: resolved once at start.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    pub config: MqttSinkConfig,
    pub host_name: String,
    /// The password, read from the configuration, its file or its environment variable.
    pub password: Option<String>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Why the sink cannot be set up (reported at start, exit 2 is the config's job).
#[derive(Debug, thiserror::Error)]
pub enum MqttSetupError {
    #[error("[sinks.mqtt] password_file {path}: {source}")]
    PasswordFile {
        path: String,
        source: std::io::Error,
    },
    #[error("[sinks.mqtt] password_env: the environment variable {0} is not set")]
    PasswordEnv(String),
    #[error("[sinks.mqtt.tls] {path}: {message}")]
    Tls { path: String, message: String },
}

impl MqttSettings {
    /// Resolves the password and loads the TLS files.
    pub fn resolve(config: &MqttSinkConfig, host_name: &str) -> Result<Self, MqttSetupError> {
        let password = if let Some(p) = &config.password {
            Some(p.clone())
        } else if let Some(path) = &config.password_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| MqttSetupError::PasswordFile {
                    path: path.display().to_string(),
                    source,
                })?;
            // A trailing newline from `echo secret > file` is not part of the password.
            Some(text.trim_end_matches(['\n', '\r']).to_owned())
        } else if let Some(var) = &config.password_env {
            Some(std::env::var(var).map_err(|_| MqttSetupError::PasswordEnv(var.clone()))?)
        } else {
            None
        };
        let tls = if config.tls.enabled {
            Some(Arc::new(tls_config(config)?))
        } else {
            None
        };
        Ok(Self {
            config: config.clone(),
            host_name: host_name.to_owned(),
            password,
            tls,
        })
    }

    pub(crate) fn topic(&self, leaf: &str) -> String {
        format!(
            "{}/{}/{leaf}",
            self.config.topic_prefix,
            topic_segment(&self.host_name)
        )
    }

    pub(crate) fn client_id(&self) -> String {
        self.config
            .client_id
            .clone()
            .unwrap_or_else(|| format!("seismo-{}", self.host_name))
    }
}

/// A host name as one topic level: MQTT wildcards and separators replaced.
fn topic_segment(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '/' | '+' | '#' | '\0' => '_',
            c => c,
        })
        .collect()
}

fn tls_config(config: &MqttSinkConfig) -> Result<rustls::ClientConfig, MqttSetupError> {
    let err = |path: &std::path::Path, message: String| MqttSetupError::Tls {
        path: path.display().to_string(),
        message,
    };
    let Some(ca) = config.tls.ca_file.as_deref() else {
        return Err(MqttSetupError::Tls {
            path: "ca_file".into(),
            message: "missing".into(),
        });
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| err(ca, format!("cannot read the CA file: {e}")))?;
    for cert in certs {
        let cert = cert.map_err(|e| err(ca, format!("not a PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| err(ca, format!("unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(err(ca, "holds no PEM certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(ca, e.to_string()))?
        .with_root_certificates(roots);
    match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| err(cert, format!("cannot read the certificate: {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(cert, format!("not a PEM certificate: {e}")))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| err(key, format!("cannot read the private key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| err(cert, format!("unusable client certificate: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// One broker connection, in either protocol version.
enum Conn {
    V4(rumqttc::AsyncClient, Box<rumqttc::EventLoop>),
    V5(rumqttc::v5::AsyncClient, Box<rumqttc::v5::EventLoop>),
}

/// What the sink cares about in the event stream.
enum Ev {
    /// A PUBLISH was written to the socket (its packet id; 0 at QoS 0).
    Sent(u16),
    /// The broker acknowledged packet id (PUBACK at QoS 1, PUBCOMP at QoS 2).
    Acked(u16),
    /// The broker answered a packet id with a failure reason (MQTT 5).
    Refused(u16, String),
    Other,
}

impl Conn {
    fn new(s: &MqttSettings) -> Self {
        let c = &s.config;
        let status = s.topic("status");
        let transport = match &s.tls {
            Some(tls) => Transport::tls_with_config(TlsConfiguration::Rustls(Arc::clone(tls))),
            None => Transport::tcp(),
        };
        // Room for a whole batch plus the status message without blocking `try_publish`.
        let cap = BATCH + 8;
        let connect_timeout = c.connect_timeout.as_secs().max(1);
        match c.version {
            MqttVersion::V311 => {
                let mut o = rumqttc::MqttOptions::new(s.client_id(), &c.host, c.port());
                o.set_keep_alive(c.keep_alive)
                    .set_clean_session(true)
                    .set_transport(transport)
                    .set_last_will(rumqttc::LastWill::new(
                        status,
                        "offline",
                        QoS::AtLeastOnce,
                        true,
                    ));
                if let Some(u) = &c.username {
                    o.set_credentials(u.clone(), s.password.clone().unwrap_or_default());
                }
                let (client, mut el) = rumqttc::AsyncClient::new(o, cap);
                el.network_options.set_connection_timeout(connect_timeout);
                Conn::V4(client, Box::new(el))
            }
            MqttVersion::V5 => {
                let mut o = rumqttc::v5::MqttOptions::new(s.client_id(), &c.host, c.port());
                o.set_keep_alive(c.keep_alive)
                    .set_clean_start(true)
                    .set_transport(transport)
                    .set_last_will(rumqttc::v5::mqttbytes::v5::LastWill::new(
                        status,
                        "offline",
                        QoSV5::AtLeastOnce,
                        true,
                        None,
                    ));
                if let Some(u) = &c.username {
                    o.set_credentials(u.clone(), s.password.clone().unwrap_or_default());
                }
                o.set_connection_timeout(connect_timeout);
                let (client, el) = rumqttc::v5::AsyncClient::new(o, cap);
                Conn::V5(client, Box::new(el))
            }
        }
    }

    fn publish(&self, topic: &str, qos: u8, retain: bool, payload: Vec<u8>) -> Result<(), String> {
        match self {
            Conn::V4(c, _) => {
                let q = match qos {
                    0 => QoS::AtMostOnce,
                    1 => QoS::AtLeastOnce,
                    _ => QoS::ExactlyOnce,
                };
                c.try_publish(topic, q, retain, payload)
                    .map_err(|e| e.to_string())
            }
            Conn::V5(c, _) => {
                let q = match qos {
                    0 => QoSV5::AtMostOnce,
                    1 => QoSV5::AtLeastOnce,
                    _ => QoSV5::ExactlyOnce,
                };
                c.try_publish(topic, q, retain, payload)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Polls the connection once (connecting first if needed). Errors are worded for a log.
    async fn poll(&mut self, qos: u8) -> Result<Ev, String> {
        match self {
            Conn::V4(_, el) => match el.poll().await {
                Ok(Event::Outgoing(Outgoing::Publish(id))) => Ok(Ev::Sent(id)),
                Ok(Event::Incoming(Packet::PubAck(a))) if qos == 1 => Ok(Ev::Acked(a.pkid)),
                Ok(Event::Incoming(Packet::PubComp(a))) if qos == 2 => Ok(Ev::Acked(a.pkid)),
                Ok(_) => Ok(Ev::Other),
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => Err(refused_v4(code)),
                Err(e) => Err(explain(&e.to_string())),
            },
            Conn::V5(_, el) => match el.poll().await {
                Ok(rumqttc::v5::Event::Outgoing(Outgoing::Publish(id))) => Ok(Ev::Sent(id)),
                Ok(rumqttc::v5::Event::Incoming(PacketV5::PubAck(a))) if qos == 1 => {
                    match a.reason {
                        PubAckReason::Success | PubAckReason::NoMatchingSubscribers => {
                            Ok(Ev::Acked(a.pkid))
                        }
                        r => Ok(Ev::Refused(a.pkid, format!("{r:?}"))),
                    }
                }
                Ok(rumqttc::v5::Event::Incoming(PacketV5::PubComp(a))) if qos == 2 => {
                    match a.reason {
                        PubCompReason::Success => Ok(Ev::Acked(a.pkid)),
                        r => Ok(Ev::Refused(a.pkid, format!("{r:?}"))),
                    }
                }
                Ok(rumqttc::v5::Event::Incoming(PacketV5::PubRec(a))) if qos == 2 => {
                    // A PUBREC with a failure reason ends the QoS 2 flow without a PUBCOMP.
                    match a.reason {
                        PubRecReason::Success | PubRecReason::NoMatchingSubscribers => {
                            Ok(Ev::Other)
                        }
                        r => Ok(Ev::Refused(a.pkid, format!("{r:?}"))),
                    }
                }
                Ok(_) => Ok(Ev::Other),
                Err(rumqttc::v5::ConnectionError::ConnectionRefused(code)) => Err(refused_v5(code)),
                Err(e) => Err(explain(&e.to_string())),
            },
        }
    }

    async fn disconnect(&mut self) {
        let _ = match self {
            Conn::V4(c, _) => c.try_disconnect().map_err(|e| e.to_string()),
            Conn::V5(c, _) => c.try_disconnect().map_err(|e| e.to_string()),
        };
        // Let the DISCONNECT reach the socket (a clean disconnect suppresses the Last Will, so
        // publish `offline` first).
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                if self.poll(0).await.is_err() {
                    break;
                }
            }
        })
        .await;
    }
}

fn refused_v4(code: ConnectReturnCode) -> String {
    match code {
        ConnectReturnCode::BadUserNamePassword => "the broker refused the connection: bad username or password (check [sinks.mqtt] username and password)".into(),
        ConnectReturnCode::NotAuthorized => "the broker refused the connection: not authorized (check [sinks.mqtt] username, password and the broker's ACL)".into(),
        ConnectReturnCode::BadClientId => "the broker refused the client id (set [sinks.mqtt] client_id)".into(),
        c => format!("the broker refused the connection: {c:?}"),
    }
}

fn refused_v5(code: ConnectCodeV5) -> String {
    match code {
        ConnectCodeV5::BadUserNamePassword => "the broker refused the connection: bad username or password (check [sinks.mqtt] username and password)".into(),
        ConnectCodeV5::NotAuthorized => "the broker refused the connection: not authorized (check [sinks.mqtt] username, password and the broker's ACL)".into(),
        ConnectCodeV5::ClientIdentifierNotValid => "the broker refused the client id (set [sinks.mqtt] client_id)".into(),
        c => format!("the broker refused the connection: {c:?}"),
    }
}

/// Adds a hint to the errors people meet most.
fn explain(e: &str) -> String {
    if e.contains("CertificateRequired") {
        format!("TLS handshake failed: {e} (the broker requires a client certificate: set [sinks.mqtt.tls] cert_file and key_file)")
    } else if e.contains("alert") && (e.contains("BadCertificate") || e.contains("UnknownCA")) {
        format!("TLS handshake failed: {e} (the broker does not accept [sinks.mqtt.tls] cert_file: is it signed by a CA the broker trusts?)")
    } else if e.contains("UnknownIssuer") || e.contains("certificate") || e.contains("Certificate")
    {
        format!("TLS handshake failed: {e} (does [sinks.mqtt.tls] ca_file sign the broker's certificate, and does the certificate name the host?)")
    } else if e.contains("Connection refused") {
        format!("cannot connect to the broker: {e} (is it running, and are host and port right?)")
    } else {
        format!("MQTT connection error: {e}")
    }
}

/// The sink: a [`Delivery`] over one (re)connecting broker session.
pub struct MqttSink {
    settings: MqttSettings,
    conn: Option<Conn>,
}

impl MqttSink {
    pub fn new(settings: MqttSettings) -> Self {
        Self {
            settings,
            conn: None,
        }
    }

    fn topic_for(&self, kind: u8) -> String {
        match EventKind::from_tag(kind) {
            Some(EventKind::Incident) => self.settings.topic("incidents"),
            Some(EventKind::Hook) => self.settings.topic("hooks"),
            Some(EventKind::Proposal) => self.settings.topic("hooks/proposals"),
            // Alerts, and any tag a newer version wrote: never lose a record over its topic.
            Some(EventKind::Alert) | None => self.settings.topic("alerts"),
        }
    }

    /// Connects if needed: waits for the CONNACK, then publishes the retained `online` status
    /// and waits for its acknowledgement, so later packet ids belong to alerts only.
    async fn connected(&mut self) -> Result<&mut Conn, String> {
        if self.conn.is_none() {
            let mut conn = Conn::new(&self.settings);
            let timeout = self.settings.config.connect_timeout + Duration::from_secs(1);
            let status = self.settings.topic("status");
            let ready = tokio::time::timeout(timeout, async {
                // The first poll connects and yields the CONNACK (or the refusal).
                conn.poll(1).await?;
                conn.publish(&status, 1, true, b"online".to_vec())?;
                loop {
                    if let Ev::Acked(_) = conn.poll(1).await? {
                        return Ok::<(), String>(());
                    }
                }
            })
            .await;
            match ready {
                Ok(Ok(())) => {
                    tracing::info!(
                        broker = %format!("{}:{}", self.settings.config.host, self.settings.config.port()),
                        "connected to the MQTT broker"
                    );
                    self.conn = Some(conn);
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(format!(
                        "no answer from the broker {}:{} within {}",
                        self.settings.config.host,
                        self.settings.config.port(),
                        humantime::format_duration(timeout)
                    ))
                }
            }
        }
        self.conn.as_mut().ok_or_else(|| "not connected".to_owned())
    }

    /// Publishes `batch` and waits for the broker's acknowledgements; returns how many leading
    /// records are acknowledged, or the error that broke the connection.
    async fn publish_batch(&mut self, batch: &[Record]) -> Result<usize, (usize, String)> {
        let qos = self.settings.config.qos;
        let ack_timeout = self.settings.config.ack_timeout;
        let topics: Vec<String> = batch.iter().map(|r| self.topic_for(r.kind)).collect();
        let conn = self.connected().await.map_err(|e| (0, e))?;
        for (rec, topic) in batch.iter().zip(&topics) {
            conn.publish(topic, qos, false, rec.payload.clone())
                .map_err(|e| (0, e))?;
        }
        // Publishes go out in order; the i-th `Sent` is batch[i]. Acks may come in any order.
        let mut ids: Vec<u16> = Vec::with_capacity(batch.len());
        let mut acked = vec![false; batch.len()];
        let prefix = |acked: &[bool]| acked.iter().take_while(|a| **a).count();
        let outcome = tokio::time::timeout(ack_timeout, async {
            loop {
                if prefix(&acked) == batch.len() {
                    return Ok(());
                }
                match conn.poll(qos).await? {
                    Ev::Sent(id) if ids.len() < batch.len() => {
                        if qos == 0 {
                            acked[ids.len()] = true;
                        }
                        ids.push(id);
                    }
                    Ev::Acked(id) => {
                        if let Some(i) = ids.iter().position(|&x| x == id) {
                            acked[i] = true;
                        }
                    }
                    Ev::Refused(id, why) => {
                        return Err(format!("the broker refused publish {id}: {why}"));
                    }
                    _ => {}
                }
            }
        })
        .await;
        let done = prefix(&acked);
        match outcome {
            Ok(Ok(())) => Ok(done),
            Ok(Err(e)) => Err((done, e)),
            Err(_) => Err((
                done,
                format!(
                    "the broker did not acknowledge within {}",
                    humantime::format_duration(ack_timeout)
                ),
            )),
        }
    }

    /// Publishes the retained `offline` and disconnects cleanly (on shutdown).
    pub async fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let status = self.settings.topic("status");
            if conn.publish(&status, 1, true, b"offline".to_vec()).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    while let Ok(ev) = conn.poll(1).await {
                        if let Ev::Acked(_) = ev {
                            break;
                        }
                    }
                })
                .await;
            }
            conn.disconnect().await;
        }
    }
}

impl Delivery for MqttSink {
    async fn deliver(&mut self, batch: &[Record]) -> Result<usize, DeliveryError> {
        match self.publish_batch(batch).await {
            Ok(n) => Ok(n),
            Err((done, e)) => {
                // Whatever state the session is in, start over with a fresh one.
                self.conn = None;
                if done > 0 {
                    Ok(done)
                } else {
                    Err(DeliveryError::Transient(e))
                }
            }
        }
    }

    async fn idle(&mut self) -> Result<(), DeliveryError> {
        let result: Result<(), String> = async {
            let conn = self.connected().await?;
            // Keeps the session alive (PINGREQ) and notices a lost broker.
            loop {
                conn.poll(1).await?;
            }
        }
        .await;
        self.conn = None;
        result.map_err(DeliveryError::Transient)
    }

    async fn shutdown(&mut self) {
        self.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_prefix_and_host() {
        let config = MqttSinkConfig {
            topic_prefix: "ops/seismo".into(),
            ..Default::default()
        };
        let s = MqttSettings::resolve(&config, "web/1").unwrap();
        let sink = MqttSink::new(s);
        assert_eq!(
            sink.topic_for(EventKind::Alert as u8),
            "ops/seismo/web_1/alerts"
        );
        assert_eq!(
            sink.topic_for(EventKind::Incident as u8),
            "ops/seismo/web_1/incidents"
        );
        assert_eq!(
            sink.topic_for(EventKind::Hook as u8),
            "ops/seismo/web_1/hooks"
        );
        assert_eq!(
            sink.topic_for(EventKind::Proposal as u8),
            "ops/seismo/web_1/hooks/proposals"
        );
        assert_eq!(sink.settings.topic("status"), "ops/seismo/web_1/status");
        assert_eq!(sink.settings.client_id(), "seismo-web/1");
    }

    #[test]
    fn the_password_comes_from_a_file_without_its_newline() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let mut config = MqttSinkConfig {
            username: Some("u".into()),
            password_file: Some(path),
            ..Default::default()
        };
        let s = MqttSettings::resolve(&config, "h").unwrap();
        assert_eq!(s.password.as_deref(), Some("s3cret"));
        config.password_file = Some("/nonexistent/pw".into());
        let e = MqttSettings::resolve(&config, "h").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/pw"), "{e}");
    }
}
