//! The running pipeline's handle: reloads run closures in its own task, between two events.

use tokio::sync::{mpsc, oneshot};

use super::stage::{Pipeline, PipelineCommand};
use crate::event::AlertEvent;

/// Commands queued for the pipeline.
const COMMAND_QUEUE: usize = 8;

/// Sends commands to the running pipeline (see `crate::daemon::reload`); `O` is its output.
pub struct PipelineHandle<O>(mpsc::Sender<PipelineCommand<O>>);

impl<O> Clone for PipelineHandle<O> {
    fn clone(&self) -> Self {
        PipelineHandle(self.0.clone())
    }
}

impl<O: Send + 'static> PipelineHandle<O> {
    /// The handle, and the receiving end for [`Pipeline::run`].
    pub fn channel() -> (PipelineHandle<O>, mpsc::Receiver<PipelineCommand<O>>) {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        (PipelineHandle(tx), rx)
    }

    /// Runs `f` in the pipeline's task, sends the events it returns, and hands back its
    /// result; `None` when the pipeline has stopped.
    pub async fn apply<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Pipeline, &mut O) -> (T, Vec<AlertEvent>) + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let command: PipelineCommand<O> = Box::new(move |p, out| {
            let (result, events) = f(p, out);
            let _ = tx.send(result);
            events
        });
        self.0.send(command).await.ok()?;
        rx.await.ok()
    }
}
