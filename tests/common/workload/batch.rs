//! One pipeline of workload commands, and the tally of what was sent and what the server
//! refused.
//!
//! Every command carries a label (its name, plus the subcommand for `XGROUP`, `SCRIPT` and
//! `FUNCTION`) so replies can be matched back to commands, including the replies nested in an
//! `EXEC`. Server errors are expected (a list popped empty, a group destroyed under a reader)
//! and only counted; connection errors end the run.

use redis::{Connection, Pipeline, Value};
use std::collections::BTreeMap;

/// Commands queued for one round trip.
pub struct Batch {
    pipe: Pipeline,
    labels: Vec<&'static str>,
}

impl Batch {
    pub fn new() -> Batch {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        Batch {
            pipe,
            labels: Vec::new(),
        }
    }

    /// Starts a command; a two-word label such as `XGROUP CREATE` sends both words. Arguments
    /// follow with `.arg(...)` on the returned pipeline.
    pub fn cmd(&mut self, label: &'static str) -> &mut Pipeline {
        self.labels.push(label);
        let mut words = label.split(' ');
        self.pipe.cmd(words.next().unwrap_or(label));
        for word in words {
            self.pipe.arg(word);
        }
        &mut self.pipe
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The commands as they go on the wire.
    pub fn packed(&self) -> Vec<u8> {
        self.pipe.get_packed_pipeline()
    }

    /// Sends the batch and tallies the replies; panics on a connection error.
    pub fn send(self, conn: &mut Connection, tally: &mut Tally) {
        if self.labels.is_empty() {
            return;
        }
        let replies: Vec<Value> = self
            .pipe
            .query(conn)
            .unwrap_or_else(|err| panic!("workload connection failed: {err}"));
        assert_eq!(
            replies.len(),
            self.labels.len(),
            "one reply per workload command"
        );
        tally.record(&self.labels, replies);
    }
}

/// Commands sent and server errors, per label.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    /// The first error message seen per label, to tell an expected refusal from a mistake.
    pub first_error: BTreeMap<String, String>,
}

impl Tally {
    pub fn ops(&self) -> u64 {
        self.sent.values().sum()
    }

    pub fn merge(&mut self, other: Tally) {
        for (label, n) in other.sent {
            *self.sent.entry(label).or_default() += n;
        }
        for (label, n) in other.errors {
            *self.errors.entry(label).or_default() += n;
        }
        for (label, text) in other.first_error {
            self.first_error.entry(label).or_insert(text);
        }
    }

    /// Counts one command sent outside a batch (setup), with its reply.
    pub fn record_one(&mut self, label: &'static str, reply: &Value) {
        *self.sent.entry(label.to_string()).or_default() += 1;
        self.check(label, reply);
    }

    fn record(&mut self, labels: &[&'static str], replies: Vec<Value>) {
        // Commands queued since MULTI; their results arrive inside EXEC's reply.
        let mut queued: Option<Vec<&'static str>> = None;
        for (&label, reply) in labels.iter().zip(&replies) {
            *self.sent.entry(label.to_string()).or_default() += 1;
            match (label, &mut queued) {
                ("MULTI", _) => queued = Some(Vec::new()),
                ("EXEC", _) => {
                    let inner = queued.take().unwrap_or_default();
                    match reply {
                        Value::Array(results) => {
                            for (&label, result) in inner.iter().zip(results) {
                                self.check(label, result);
                            }
                        }
                        other => self.check(label, other),
                    }
                }
                // Refused when queued (it will not run, and EXEC aborts).
                (_, _) if matches!(reply, Value::ServerError(_)) => self.check(label, reply),
                (_, Some(inner)) => inner.push(label),
                (_, None) => {}
            }
        }
    }

    fn check(&mut self, label: &'static str, reply: &Value) {
        if let Value::ServerError(err) = reply {
            *self.errors.entry(label.to_string()).or_default() += 1;
            self.first_error
                .entry(label.to_string())
                .or_insert_with(|| err.to_string());
        }
    }
}
