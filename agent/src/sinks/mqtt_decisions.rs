//! The decisions subscription: the agent subscribes to `{prefix}/{host}/hooks/decisions` on the
//! MQTT sink's broker (same host, port, TLS and login) at QoS 1 with a persistent session
//! (clean session off, a stable client id `{client_id}-decisions`), so decisions published
//! while the agent was down are delivered when it is back. A message is acknowledged (PUBACK)
//! only after the hooks have taken it (applied and recorded, or refused), so one that arrives
//! just before a crash is delivered again; decisions are idempotent.
//!
//! It speaks MQTT 3.1.1 whatever `[sinks.mqtt] version` says (sessions work alike in both).

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::mqtt::MqttSettings;
use crate::alerting::hooks::decisions::{DecisionSender, Inbound, Source};
use crate::backoff::Backoff;
use crate::telemetry::stats::LogLimiter;

/// Larger packets break the connection (a decision is a few hundred bytes; anything up to this
/// is read, refused as invalid and acknowledged, so it is not delivered again and again).
const MAX_PACKET: usize = 1024 * 1024;
/// How long the hooks may take to answer before the message is left unacknowledged.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// The topic decisions arrive on.
pub fn topic(settings: &MqttSettings) -> String {
    settings.topic("hooks/decisions")
}

/// Starts the subscription; it ends when `stop` is cancelled.
pub fn spawn(
    settings: MqttSettings,
    tx: DecisionSender,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::select! {
            () = run(settings, tx) => {}
            () = stop.cancelled() => {}
        }
    })
}

fn options(s: &MqttSettings) -> MqttOptions {
    let c = &s.config;
    let mut o = MqttOptions::new(format!("{}-decisions", s.client_id()), &c.host, c.port());
    o.set_keep_alive(c.keep_alive)
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    if let Some(tls) = &s.tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            std::sync::Arc::clone(tls),
        )));
    }
    if let Some(u) = &c.username {
        o.set_credentials(u.clone(), s.password.clone().unwrap_or_default());
    }
    o
}

async fn run(settings: MqttSettings, tx: DecisionSender) {
    let topic = topic(&settings);
    let (client, mut events) = AsyncClient::new(options(&settings), 16);
    events
        .network_options
        .set_connection_timeout(settings.config.connect_timeout.as_secs().max(1));
    let mut backoff = Backoff::new(settings.config.retry_initial, settings.config.retry_max);
    let mut error_log = LogLimiter::new(Duration::from_secs(60));
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                tracing::debug!(
                    session_present = ack.session_present,
                    "decisions: connected"
                );
                // Subscribing again is harmless, and covers a broker that lost the session.
                if let Err(e) = client.try_subscribe(topic.as_str(), QoS::AtLeastOnce) {
                    tracing::error!(error = %e, "cannot subscribe to hook decisions");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                {
                    tracing::error!(topic = %topic,
                        "the broker refused the subscription to hook decisions: check its ACL for this client");
                } else {
                    tracing::info!(topic = %topic, "subscribed to hook decisions");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let (reply, answer) = oneshot::channel();
                let inbound = Inbound {
                    body: p.payload.to_vec(),
                    source: Source::Mqtt,
                    reply: Some(reply),
                };
                if tx.send(inbound).await.is_err() {
                    // The hooks have stopped: leave the message for the next run.
                    return;
                }
                if tokio::time::timeout(ANSWER_WITHIN, answer).await.is_ok() {
                    let _ = client.try_ack(&p);
                }
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(n) = error_log.hit() {
                    tracing::warn!(error = %e, failures = n,
                        "hook decisions: MQTT connection lost; reconnecting (logged at most once a minute)");
                }
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}
