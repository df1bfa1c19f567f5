//! One shutdown for the whole process: the first SIGTERM or SIGINT asks every task and loop to
//! finish what is in flight and stop, a second one exits at once, and a drain that outlasts its
//! deadline exits anyway.
//!
//! Every command gets the same [`Shutdown`]. Async code waits on [`Shutdown::stopped`] or wraps
//! a network wait in [`Shutdown::or_stop`]; blocking code (the capture thread) polls the flag
//! from [`Shutdown::flag`], a plain `AtomicBool` the producer crate checks without knowing
//! about signals. Stopping at any of these points is safe: the checkpoints in the target and
//! the producer's resume point only ever name finished work, so a second signal or the deadline
//! exiting mid-drain loses nothing a restart would not redo.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

/// How long a drain may take before the process exits anyway: under the 30 s most supervisors
/// (Kubernetes, systemd) give before SIGKILL.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(20);

/// The exit code after a second signal: the shell's code for an interrupted process.
pub const EXIT_INTERRUPTED: i32 = 130;

/// The exit code when the drain outlasted [`DRAIN_DEADLINE`].
pub const EXIT_DRAIN_TIMEOUT: i32 = 1;

/// The process's stop token; clones share it.
#[derive(Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    stopping: watch::Sender<bool>,
}

impl Shutdown {
    /// A token no signal reaches: it stops only when [`Shutdown::stop`] is called.
    pub fn new() -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            stopping: watch::Sender::new(false),
        }
    }

    /// Watches SIGTERM and SIGINT for the rest of the process's life. Must run inside the Tokio
    /// runtime.
    pub fn install(deadline: Duration) -> anyhow::Result<Self> {
        use anyhow::Context;
        let shutdown = Self::new();
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        let token = shutdown.clone();
        tokio::spawn(async move {
            let first = next_signal(&mut term, &mut int).await;
            tracing::info!(
                signal = first,
                deadline_s = deadline.as_secs(),
                "stopping: finishing what is in flight (a second signal exits at once)"
            );
            token.stop();
            tokio::select! {
                second = next_signal(&mut term, &mut int) => {
                    tracing::warn!(
                        signal = second,
                        "second signal: exiting at once; the saved position stands, a restart \
                         redoes what was in flight"
                    );
                    std::process::exit(EXIT_INTERRUPTED);
                }
                _ = tokio::time::sleep(deadline) => {
                    tracing::error!(
                        deadline_s = deadline.as_secs(),
                        "the drain did not finish in time: exiting anyway; the saved position \
                         stands, a restart redoes what was in flight"
                    );
                    std::process::exit(EXIT_DRAIN_TIMEOUT);
                }
            }
        });
        Ok(shutdown)
    }

    /// Starts the drain: every check from now on says stop.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Relaxed);
        self.stopping.send_replace(true);
    }

    /// Whether a stop was asked for (for loops that poll).
    pub fn is_stopping(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// The flag blocking code polls; it turns true when the drain starts.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// Resolves once a stop was asked for (at once if it already was).
    pub async fn stopped(&self) {
        let mut seen = self.stopping.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = seen.wait_for(|stopping| *stopping).await;
    }

    /// Runs `work` unless a stop comes first: then `None`, and `work` is dropped where it was
    /// waiting. Only for work that leaves nothing half done when dropped (a connect, a read).
    pub async fn or_stop<F: Future>(&self, work: F) -> Option<F::Output> {
        if self.is_stopping() {
            return None;
        }
        tokio::select! {
            output = work => Some(output),
            _ = self.stopped() => None,
        }
    }
}

/// The token of one attempt of a run made of parts side by side (a capture per shard): it
/// stops when the process's token does, or when one part calls [`Shutdown::stop`] on it after
/// failing, which stops the others. The link to the process's token ends when this is dropped.
pub struct Attempt {
    pub token: Shutdown,
    forward: tokio::task::JoinHandle<()>,
}

impl Shutdown {
    /// A token for one attempt, stopped by this one (see [`Attempt`]). Must run inside the
    /// Tokio runtime.
    pub fn attempt(&self) -> Attempt {
        let token = Shutdown::new();
        let forward = {
            let (process, attempt) = (self.clone(), token.clone());
            tokio::spawn(async move {
                process.stopped().await;
                attempt.stop();
            })
        };
        Attempt { token, forward }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

/// The name of the next signal of the two.
async fn next_signal(term: &mut Signal, int: &mut Signal) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_reaches_every_kind_of_check() {
        let shutdown = Shutdown::new();
        let flag = shutdown.flag();
        assert!(!shutdown.is_stopping());
        let waiting = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.stopped().await }
        });
        let slow = shutdown.clone();
        let raced = tokio::spawn(async move {
            slow.or_stop(tokio::time::sleep(Duration::from_secs(3600)))
                .await
        });
        tokio::task::yield_now().await;
        shutdown.stop();
        assert!(flag.load(Ordering::Relaxed));
        assert!(shutdown.is_stopping());
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("stopped() resolves")
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(5), raced)
            .await
            .expect("or_stop gives up the wait")
            .unwrap();
        assert_eq!(outcome, None);
        // After the stop, new waits end at once and new work does not start.
        shutdown.stopped().await;
        assert_eq!(shutdown.or_stop(async { 1 }).await, None);
    }

    #[tokio::test]
    async fn work_that_ends_first_gives_its_output() {
        let shutdown = Shutdown::new();
        assert_eq!(shutdown.or_stop(async { 7 }).await, Some(7));
    }
}
