//! Where the pipeline's events go: the sinks, which the daemon hands in. The pipeline knows
//! only this trait.

use std::future::Future;

use crate::event::Event;

pub trait Output: Send + 'static {
    /// Hands a burst of events on, in order, waiting while the receiver is full (backpressure).
    fn send_all(&mut self, events: Vec<Event>) -> impl Future<Output = ()> + Send;
}
