//! A batch: the commands of one round trip to the destination, what each of them concerns (so a
//! failing reply names its key and database), how an error reply to it is taken, and the log
//! space its records hold until the destination has them.
//!
//! Everything is added through [`Batch::push`], so the commands and what is known about them
//! cannot drift apart; the replies are judged by [`Batch::outcome`], which needs no server.

use crate::error::is_target_fault;
use crate::wire::Commands;
use redis::Value;
use slotstream_schemas::log::Lease;

/// A batch buffer up to this size is kept for the next batch.
const KEEP_BUFFER_BYTES: usize = 4 << 20;

/// How an error reply to a command is taken, and whether applying it again is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replies {
    /// Our own writes (snapshot keys, functions, big values' parts, bookkeeping): any error
    /// stops the partition. Applying them again is harmless: they replace what they write, and
    /// a big value's parts are counted under its temporary key ([`crate::chunk`]).
    Strict,
    /// A replicated command: an error that is the command's own outcome is what a replica of
    /// the source would get too (the source runs a `MULTI` block whole, and a key with a TTL
    /// can expire on the destination a moment before the source's `DEL` arrives), so it is
    /// counted and logged, not fatal. Faults of the destination itself stay fatal. Applying it
    /// again is not harmless (`INCR`, `LPUSH`).
    Replicated,
}

/// How big a batch may grow.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Commands per batch.
    pub commands: usize,
    /// Bytes per batch; a single bigger record goes alone.
    pub bytes: usize,
    /// With a rate limit: writes per batch (every key of an `MSET` counted).
    pub writes: Option<usize>,
}

/// What the records of a batch add up to, for checkpoints and counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Data records (keys, functions, commands; a chunked value once, with its last chunk),
    /// counted into the checkpoint.
    pub records: u64,
    /// Live commands.
    pub commands: u64,
    /// Snapshot keys written.
    pub snapshot_keys: u64,
}

/// Commands `..end` of the batch (from the previous span's end) concern `key` in `db`.
#[derive(Debug)]
struct Span {
    end: usize,
    db: u32,
    key: Vec<u8>,
    replies: Replies,
}

/// A command the destination refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub db: u32,
    /// The key the command concerns (or its name, for keyless commands).
    pub key: Vec<u8>,
    /// The error reply.
    pub reply: String,
}

/// Why a batch did not apply as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchFailure {
    /// A command was refused. `ran_rest`: inside `EXEC`, where the other commands of the
    /// transaction ran anyway; otherwise nothing of a transaction ran (refused while queuing).
    Refused { refusal: Refusal, ran_rest: bool },
    /// `EXEC` did not answer one reply per command: nothing of the transaction ran.
    Aborted(String),
}

/// Commands being added for one key; see [`Batch::push`].
#[must_use = "name the key the commands concern with `concerning`"]
pub struct Push<'b> {
    batch: &'b mut Batch,
    start: usize,
    replies: Replies,
}

impl Push<'_> {
    /// Where the commands are written.
    pub fn commands(&mut self) -> &mut Commands {
        &mut self.batch.cmds
    }

    /// Ends the push: the commands written concern `key` (kept only when there are any; a
    /// write that joined an open `MSET` added none). Returns how many were added.
    pub fn concerning(self, key: Vec<u8>) -> usize {
        let end = self.batch.cmds.len();
        if end > self.start {
            self.batch.replicated |= self.replies == Replies::Replicated;
            self.batch.spans.push(Span {
                end,
                db: self.batch.db,
                key,
                replies: self.replies,
            });
        }
        end - self.start
    }
}

/// The commands of one round trip, and what they concern.
#[derive(Default)]
pub struct Batch {
    cmds: Commands,
    spans: Vec<Span>,
    leases: Vec<Lease>,
    /// The database the batch connection is in after the commands so far.
    db: u32,
    /// Whether it holds replicated commands, which must not be applied twice.
    replicated: bool,
    /// Whether its commands must apply all or none even when applying them again is harmless
    /// (a big value's part and the mark that says it is applied).
    whole: bool,
    /// Bookkeeping keys to delete once the checkpoint covering this batch is stored, each with
    /// the database it is in.
    forget: Vec<(u32, Vec<u8>)>,
    pub tally: Tally,
}

impl Batch {
    /// Makes the commands pushed next run in `db`.
    pub fn select(&mut self, db: u32) {
        if db != self.db {
            self.command(
                Replies::Strict,
                b"<SELECT>".to_vec(),
                &[&b"SELECT"[..], db.to_string().as_bytes()],
            );
            self.db = db;
        }
    }

    /// The connection moved to `db` through a command already pushed (a `SELECT` inside a
    /// replicated `MULTI` block).
    pub fn moved_to(&mut self, db: u32) {
        self.db = db;
    }

    /// The database the commands pushed next run in.
    pub fn db(&self) -> u32 {
        self.db
    }

    /// Starts adding the commands for one key (none, one or many), in the current database:
    /// write them through [`Push::commands`], then name the key with [`Push::concerning`].
    pub fn push(&mut self, replies: Replies) -> Push<'_> {
        let start = self.cmds.len();
        Push {
            batch: self,
            start,
            replies,
        }
    }

    /// Adds one command of plain arguments that concerns `key`.
    pub fn command<A: AsRef<[u8]>>(&mut self, replies: Replies, key: Vec<u8>, args: &[A]) {
        let mut push = self.push(replies);
        push.commands().push(args);
        push.concerning(key);
    }

    /// Keeps a record's log space until the batch is applied.
    pub fn hold(&mut self, lease: Option<Lease>) {
        self.leases.extend(lease);
    }

    /// Commands, as the destination sees them.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Bytes of the commands so far.
    pub fn byte_len(&self) -> usize {
        self.cmds.byte_len()
    }

    /// Writes, for rate limits: commands, with every key of an `MSET` counted.
    pub fn writes(&self) -> usize {
        self.cmds.writes()
    }

    /// Deletes the bookkeeping key `key`, in the database selected now, once the checkpoint
    /// that covers this batch is stored (until then, a restart needs it).
    pub fn delete_when_stored(&mut self, key: Vec<u8>) {
        self.forget.push((self.db, key));
    }

    /// Each command in wire form with the key it concerns (for bookkeeping batches whose
    /// commands go to different primaries; `SELECT`s are left out).
    pub fn commands_by_key(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let wire = self.cmds.bytes().to_vec();
        let mut out = Vec::new();
        for (index, command) in crate::wire::split_commands(&wire).into_iter().enumerate() {
            let Some(span) = self.span_of(index) else {
                continue;
            };
            if span.key == b"<SELECT>" {
                continue;
            }
            out.push((span.key.clone(), command.to_vec()));
        }
        out
    }

    /// The keys [`Self::delete_when_stored`] asked to delete, each with its database, taken
    /// out of the batch.
    pub fn take_forgotten(&mut self) -> Vec<(u32, Vec<u8>)> {
        std::mem::take(&mut self.forget)
    }

    /// Adds the deletions asked for with [`Self::delete_when_stored`], to go with the
    /// checkpoint (which is in database 0: each deletion selects its key's database again).
    pub fn forget_when_stored(&mut self) {
        for (db, key) in std::mem::take(&mut self.forget) {
            self.select(db);
            self.command(Replies::Strict, key.clone(), &[&b"DEL"[..], &key]);
        }
    }

    /// Whether applying the whole batch a second time is harmless: it holds no replicated
    /// commands ([`Replies`]).
    pub fn replayable(&self) -> bool {
        !self.replicated
    }

    /// Marks the batch as one to apply all or none ([`Self::needs_transaction`]).
    pub fn keep_whole(&mut self) {
        self.whole = true;
    }

    /// Whether the batch must go in a transaction: it holds replicated commands, or writes that
    /// must apply together. A batch of whole snapshot keys need not: each write replaces its
    /// key, and the checkpoint that covers them is stored only after every reply was checked.
    pub fn needs_transaction(&self) -> bool {
        self.replicated || self.whole
    }

    /// Whether another record may join.
    pub fn has_room(&self, limits: &Limits) -> bool {
        self.cmds.len() < limits.commands
            && self.cmds.byte_len() < limits.bytes
            && limits.writes.is_none_or(|most| self.cmds.writes() < most)
    }

    /// The commands in wire form.
    pub fn bytes(&mut self) -> &[u8] {
        self.cmds.bytes()
    }

    /// Empties the batch for the next one (its records are applied or abandoned): frees their
    /// log space and returns their tally. The buffers are kept, unless one big value grew them;
    /// deletions waiting for the checkpoint are kept too.
    pub fn clear(&mut self) -> Tally {
        self.cmds.clear(KEEP_BUFFER_BYTES);
        self.spans.clear();
        self.leases.clear();
        self.replicated = false;
        self.whole = false;
        std::mem::take(&mut self.tally)
    }

    /// Judges the replies to the batch (sent inside `MULTI … EXEC` when `transaction`): the
    /// commands refused as their own outcome, which are counted, or why the batch failed.
    pub fn outcome(
        &self,
        mut replies: Vec<Value>,
        transaction: bool,
    ) -> Result<Vec<Refusal>, BatchFailure> {
        let results = if transaction {
            let exec = replies.pop().unwrap_or(Value::Nil);
            // `MULTI`'s reply, then one `QUEUED` (or a refusal) per command.
            let queued = replies.get(1..).unwrap_or_default();
            if let Some(index) = queued
                .iter()
                .position(|r| matches!(r, Value::ServerError(_)))
            {
                return Err(BatchFailure::Refused {
                    refusal: self.refusal(index, &queued[index]),
                    ran_rest: false,
                });
            }
            match exec {
                Value::Array(results) if results.len() == self.cmds.len() => results,
                other => return Err(BatchFailure::Aborted(format!("{other:?}"))),
            }
        } else {
            replies
        };
        let mut refused = Vec::new();
        for (index, reply) in results.iter().enumerate() {
            let Value::ServerError(err) = reply else {
                continue;
            };
            let span = self.span_of(index);
            let accepted = span.is_some_and(|s| s.replies == Replies::Replicated);
            if !accepted || is_target_fault(err) {
                return Err(BatchFailure::Refused {
                    refusal: self.refusal(index, reply),
                    ran_rest: transaction,
                });
            }
            refused.push(self.refusal(index, reply));
        }
        Ok(refused)
    }

    /// The span command `index` belongs to.
    fn span_of(&self, index: usize) -> Option<&Span> {
        let at = self.spans.partition_point(|s| s.end <= index);
        self.spans.get(at)
    }

    fn refusal(&self, index: usize, reply: &Value) -> Refusal {
        let reply = match reply {
            // As the server sent it (`OOM command not allowed…`): the `redis` crate's display
            // renames codes (`ResponseError`, `NoPerm`), which operators would not recognise.
            Value::ServerError(err) => match err.details() {
                Some(details) => format!("{} {details}", err.code()),
                None => err.code().to_string(),
            },
            other => format!("{other:?}"),
        };
        match self.span_of(index) {
            Some(span) => Refusal {
                db: span.db,
                key: span.key.clone(),
                reply,
            },
            None => Refusal {
                db: self.db,
                key: b"<unknown command>".to_vec(),
                reply,
            },
        }
    }
}

#[cfg(test)]
mod tests;
