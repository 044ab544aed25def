//! The tests' own MQTT client: a persistent session (clean session off, QoS 1) that records
//! every message it receives and reconnects by itself while the broker is down, so messages
//! published while it was away are delivered when it is back (from the broker's persistence).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use crate::mosquitto::Broker;

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub topic: String,
    pub payload: String,
    pub retain: bool,
}

pub struct Subscriber {
    messages: Arc<Mutex<Vec<Message>>>,
    subscribed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Subscriber {
    /// Connects to 127.0.0.1:`port` as `id` and subscribes to `filter` (once per session).
    pub fn start(port: u16, id: &str, filter: &str, login: Option<(&str, &str)>) -> Subscriber {
        Self::spawn(port, id, filter, login, false)
    }

    /// [`Subscriber::start`], but subscribing again on every connection, even when the broker
    /// says it kept the session: Mosquitto 2.0 restores a persistent session from its
    /// persistence file without the session's shared subscriptions (`$share/...`).
    pub fn start_resubscribing(
        port: u16,
        id: &str,
        filter: &str,
        login: Option<(&str, &str)>,
    ) -> Subscriber {
        Self::spawn(port, id, filter, login, true)
    }

    fn spawn(
        port: u16,
        id: &str,
        filter: &str,
        login: Option<(&str, &str)>,
        resubscribe: bool,
    ) -> Subscriber {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_clean_session(false)
            .set_keep_alive(Duration::from_secs(5));
        if let Some((u, p)) = login {
            opts.set_credentials(u, p);
        }
        let (client, mut connection) = Client::new(opts, 64);
        let messages = Arc::new(Mutex::new(Vec::new()));
        let subscribed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let filter = filter.to_owned();
        let thread = {
            let (messages, subscribed, stop) = (
                Arc::clone(&messages),
                Arc::clone(&subscribed),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // `recv` (not `recv_timeout`): a timed-out poll can drop a request mid-write.
                    // Keep-alive pings wake it at least every 5 s to notice `stop`.
                    match connection.recv() {
                        Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                            if !ack.session_present || resubscribe {
                                let _ = client.try_subscribe(filter.as_str(), QoS::AtLeastOnce);
                            } else {
                                subscribed.store(true, Ordering::Relaxed);
                            }
                        }
                        Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                            subscribed.store(true, Ordering::Relaxed);
                        }
                        Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                            messages.lock().unwrap().push(Message {
                                topic: p.topic.clone(),
                                payload: String::from_utf8_lossy(&p.payload).into_owned(),
                                retain: p.retain,
                            });
                        }
                        Ok(Ok(_)) => {}
                        // Broker down: rumqttc reconnects on the next call; do not spin.
                        Ok(Err(_)) => std::thread::sleep(Duration::from_millis(100)),
                        Err(_) => {}
                    }
                }
            })
        };
        Subscriber {
            messages,
            subscribed,
            stop,
            thread: Some(thread),
        }
    }

    /// [`Subscriber::start`] on `broker` (its plain listener when it has one besides TLS),
    /// waiting up to 10 s for the subscription; fails the test with the broker's log without it.
    pub fn subscribed_to(
        broker: &Broker,
        id: &str,
        filter: &str,
        login: Option<(&str, &str)>,
    ) -> Subscriber {
        let sub = Subscriber::start(broker.plain_port.unwrap_or(broker.port), id, filter, login);
        assert!(
            sub.wait_subscribed(Duration::from_secs(10)),
            "{}",
            broker.log()
        );
        sub
    }

    /// Waits (bounded) until the subscription is in place.
    pub fn wait_subscribed(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.subscribed.load(Ordering::Relaxed) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().unwrap().clone()
    }

    /// Payloads received on `topic`, in arrival order.
    pub fn payloads(&self, topic: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| m.topic == topic)
            .map(|m| m.payload)
            .collect()
    }

    /// Waits (bounded) until `pred` holds over the messages received so far.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Message]) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if pred(&self.messages.lock().unwrap()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        pred(&self.messages.lock().unwrap())
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Not joined: the thread notices `stop` at its next event (within a keep-alive) and
        // ends by itself; waiting for it would only slow the tests down.
        drop(self.thread.take());
    }
}
