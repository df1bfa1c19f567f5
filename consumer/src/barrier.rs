//! Barriers: a record copied into several partitions (a cross-slot command, a `MULTI` block
//! across slots, `FLUSHALL`…) is applied once, by the last involved partition to reach it, after
//! every involved partition has applied everything before it. With checkpoints on, the barrier's
//! commands and every involved partition's checkpoint commit in one `MULTI/EXEC`.

use crate::checkpoint::Checkpoint;
use slotstream_schemas::retry::Retry;
use slotstream_schemas::Position;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::watch;

/// Identifies a barrier: all its copies share epoch and position.
pub type BarrierId = (u64, Position);

/// One partition's arrival at a barrier.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub partition: u32,
    /// The partition's checkpoint key and the checkpoint it moves to with the barrier.
    pub checkpoint: Option<(Vec<u8>, Checkpoint)>,
    /// Data records of the partition applied with the barrier (for the `applied` count).
    pub records: u64,
    /// Replication id of the partition's epoch, stored with its checkpoint.
    pub replid: Option<String>,
    /// The source the partition applies, stored with its checkpoint.
    pub source: Option<String>,
}

/// The outcome every waiting partition learns: `Ok` or the applier's failure.
pub type Outcome = Option<Result<(), Failed>>;

/// Why the partition that applied a barrier failed, and whether a new run can help: every
/// waiting partition fails the same way, so the run is retried (or not) as that failure says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub why: String,
    pub retry: Retry,
}

/// What a partition does at a barrier.
pub enum Turn {
    /// Last to arrive: apply it for everyone, then report through the sender.
    Apply(Vec<Arrival>, watch::Sender<Outcome>),
    /// Others are still on their way: wait for the outcome.
    Wait(watch::Receiver<Outcome>),
}

struct Pending {
    needed: usize,
    arrivals: Vec<Arrival>,
    done: watch::Sender<Outcome>,
}

/// Barriers in progress, shared by all partition tasks.
#[derive(Default)]
pub struct Barriers {
    pending: Mutex<HashMap<BarrierId, Pending>>,
}

impl Barriers {
    /// Registers `arrival` at barrier `id`, which `needed` partitions must reach.
    pub fn arrive(&self, id: BarrierId, needed: usize, arrival: Arrival) -> Turn {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let entry = pending.entry(id).or_insert_with(|| Pending {
            needed,
            arrivals: Vec::new(),
            done: watch::channel(None).0,
        });
        entry.arrivals.push(arrival);
        if entry.arrivals.len() < entry.needed {
            return Turn::Wait(entry.done.subscribe());
        }
        match pending.remove(&id) {
            Some(Pending { arrivals, done, .. }) => Turn::Apply(arrivals, done),
            None => Turn::Apply(Vec::new(), watch::channel(None).0),
        }
    }
}

/// Waits for the partition that applies the barrier to report.
pub async fn wait(mut outcome: watch::Receiver<Outcome>) -> Result<(), Failed> {
    loop {
        if let Some(result) = outcome.borrow_and_update().clone() {
            return result;
        }
        if outcome.changed().await.is_err() {
            // It ended without a word: its own error, if any, says more; a new run applies the
            // barrier again from the checkpoints.
            return Err(Failed {
                why: "the partition applying the barrier stopped".into(),
                retry: Retry::Later,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(partition: u32) -> Arrival {
        Arrival {
            partition,
            checkpoint: None,
            records: 0,
            replid: None,
            source: None,
        }
    }

    #[tokio::test]
    async fn the_last_arrival_applies_and_the_others_learn_the_outcome() {
        let barriers = Barriers::default();
        let id = (
            1,
            Position {
                offset: 10,
                index: 0,
            },
        );
        let Turn::Wait(first) = barriers.arrive(id, 3, arrival(0)) else {
            panic!("applied early")
        };
        let Turn::Wait(second) = barriers.arrive(id, 3, arrival(4)) else {
            panic!("applied early")
        };
        let Turn::Apply(arrivals, done) = barriers.arrive(id, 3, arrival(9)) else {
            panic!("the last arrival must apply")
        };
        let partitions: Vec<u32> = arrivals.iter().map(|a| a.partition).collect();
        assert_eq!(partitions, vec![0, 4, 9]);
        done.send_replace(Some(Ok(())));
        assert_eq!(wait(first).await, Ok(()));
        assert_eq!(wait(second).await, Ok(()));
    }

    #[tokio::test]
    async fn failures_reach_the_waiting_partitions() {
        let barriers = Barriers::default();
        let id = (
            1,
            Position {
                offset: 10,
                index: 0,
            },
        );
        let Turn::Wait(waiting) = barriers.arrive(id, 2, arrival(0)) else {
            panic!()
        };
        let Turn::Apply(_, done) = barriers.arrive(id, 2, arrival(1)) else {
            panic!()
        };
        let oom = Failed {
            why: "OOM".into(),
            retry: Retry::Later,
        };
        done.send_replace(Some(Err(oom.clone())));
        assert_eq!(wait(waiting).await, Err(oom));
    }
}
