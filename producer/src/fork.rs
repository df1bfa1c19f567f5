//! After a failover: where the promoted replica's history parts from the one the log holds, and
//! whether a capture can continue across that point without a full sync.
//!
//! A promoted replica keeps the old replication id as `master_replid2`, valid up to
//! `second_repl_offset - 1`: the fork. The old primary goes on streaming until it is demoted
//! (pings, the sentinels' hello `PUBLISH`es every two seconds, writes its clients still send),
//! so a capture has often read past the fork. Asked to continue from a saved offset at or below
//! the fork, the promoted replica answers `+CONTINUE`, yet positions past the fork may be in the
//! log already (heartbeats move every partition's checkpoint along): records of the new history
//! at those positions would be taken for copies and skipped. So before `PSYNC` ([`plan`]):
//!
//! - nothing in the log is past the fork: continue as saved;
//! - the log is past the fork, but what the capture read there changed nothing (the
//!   [`StreamTail`] of its last run in this process says so): continue from the fork, once the
//!   caller has lowered the log's positions past it to the fork ([`Plan::Rewind`]);
//! - otherwise a full sync: the log holds changes the new primary never had, or nobody knows.

use slotstream_schemas::resume::ResumePoint;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The replication histories a server can continue (`INFO replication`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub replid: String,
    /// The history it continued from before it was promoted (all zeros when none).
    pub replid2: String,
    /// `replid2` is valid up to the offset before this one.
    pub second_offset: u64,
}

impl History {
    /// Reads the fields from an `INFO replication` reply; `None` when one is missing.
    pub fn parse(info: &str) -> Option<History> {
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.trim_end().strip_prefix(name)?.strip_prefix(':'))
                .map(str::to_string)
        };
        // `second_repl_offset:-1` when there is no second history.
        let second_offset: i64 = field("second_repl_offset")?.parse().ok()?;
        Some(History {
            replid: field("master_replid")?,
            replid2: field("master_replid2")?,
            second_offset: u64::try_from(second_offset).unwrap_or(0),
        })
    }

    /// The last offset of `replid`'s history this server holds, when it continued `replid`
    /// under an id of its own (a promoted replica).
    fn fork_of(&self, replid: &str) -> Option<u64> {
        (self.replid != replid && self.replid2 == replid && self.second_offset > 0)
            .then(|| self.second_offset - 1)
    }
}

/// What the stream held after its last change, as one run of the router saw it: where that
/// change ended, the database selected there, the `SELECT`s since, and how far it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTail {
    pub replid: String,
    pub changed_at: u64,
    pub db: u32,
    /// `(end offset, database)` of each `SELECT` after `changed_at`, oldest first.
    pub selects: Vec<(u64, u32)>,
    pub end: u64,
}

/// `SELECT`s remembered past the last change; a tail with more is taken as a change.
const MAX_SELECTS: usize = 16;

impl StreamTail {
    /// A tail that begins at `offset` (where a run started to follow) with `db` selected.
    pub fn at(replid: String, offset: u64, db: u32) -> StreamTail {
        StreamTail {
            replid,
            changed_at: offset,
            db,
            selects: Vec::new(),
            end: offset,
        }
    }

    /// A command ending at `end` wrote records (or opened a block): the tail starts again.
    pub fn changed(&mut self, end: u64, db: u32) {
        self.changed_at = end;
        self.db = db;
        self.selects.clear();
        self.end = end;
    }

    /// A `SELECT db` ending at `end`.
    pub fn selected(&mut self, end: u64, db: u32) {
        if self.selects.len() == MAX_SELECTS {
            self.changed(end, db);
        } else {
            self.selects.push((end, db));
            self.end = end;
        }
    }

    /// A command that changed nothing (a ping, a message not forwarded) ended at `end`.
    pub fn read(&mut self, end: u64) {
        self.end = end;
    }

    /// The database selected at `offset` (within the tail).
    fn db_at(&self, offset: u64) -> u32 {
        self.selects
            .iter()
            .take_while(|(end, _)| *end <= offset)
            .last()
            .map_or(self.db, |(_, db)| *db)
    }
}

/// Where the histories part: the last offset both hold, and the database selected there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkPoint {
    pub offset: u64,
    pub db: u32,
}

/// The [`StreamTail`]s of a process's captures by name, kept from one attempt to the next
/// (after a dropped link, the next attempt asks a promoted replica to continue).
#[derive(Debug, Clone, Default)]
pub struct Tails(Arc<Mutex<HashMap<String, StreamTail>>>);

impl Tails {
    /// The tail capture `name` last kept.
    pub fn get(&self, name: &str) -> Option<StreamTail> {
        self.0.lock().ok()?.get(name).cloned()
    }

    /// Keeps `tail` as capture `name`'s (a run that followed nothing keeps the last one).
    pub fn keep(&self, name: &str, tail: Option<&StreamTail>) {
        if let (Some(tail), Ok(mut tails)) = (tail, self.0.lock()) {
            tails.insert(name.to_string(), tail.clone());
        }
    }
}

/// How a capture that has a saved position asks the source to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// `PSYNC` from the saved position.
    AsSaved,
    /// Lower every position of the log past the fork to it (`to`: its offset and the database
    /// selected there), then `PSYNC` from the saved point or the fork, whichever is lower.
    Rewind { to: ForkPoint },
    /// A full sync, for the reason given.
    Full(String),
}

/// Decides how to continue `saved` on a server with `history`. `highest`: the highest position
/// the log may hold (the capture may have written past `saved`); `tail`: what the last run of
/// this capture in this process read after its last change; `can_rewind`: whether the caller
/// can lower the log's positions.
pub fn plan(
    saved: &ResumePoint,
    highest: u64,
    tail: Option<&StreamTail>,
    history: &History,
    can_rewind: bool,
) -> Plan {
    let Some(fork) = history.fork_of(&saved.replid) else {
        return Plan::AsSaved;
    };
    let highest = highest.max(saved.offset).max(
        tail.filter(|t| t.replid == saved.replid)
            .map_or(0, |t| t.end),
    );
    if highest <= fork {
        return Plan::AsSaved;
    }
    match tail {
        Some(tail) if tail.replid == saved.replid && tail.changed_at <= fork && can_rewind => {
            Plan::Rewind {
                to: ForkPoint {
                    offset: fork,
                    db: tail.db_at(fork),
                },
            }
        }
        Some(tail) if tail.replid == saved.replid && tail.changed_at > fork => Plan::Full(format!(
            "the old primary sent changes after the promoted replica's last one (offset {fork}, \
             changes up to {}): the new primary never had them",
            tail.changed_at
        )),
        _ => Plan::Full(format!(
            "the log may hold positions of the old primary's stream past the promoted \
             replica's last offset {fork}, and whether they changed data is not known (this \
             process did not read them)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "1111111111111111111111111111111111111111";
    const NEW: &str = "2222222222222222222222222222222222222222";

    fn saved(offset: u64, db: u32) -> ResumePoint {
        ResumePoint {
            source: "s".into(),
            replid: OLD.into(),
            offset,
            epoch: 1,
            partitions: 4,
            db,
            snapshot_complete: true,
            slots: None,
        }
    }

    fn promoted(fork: u64) -> History {
        History {
            replid: NEW.into(),
            replid2: OLD.into(),
            second_offset: fork + 1,
        }
    }

    #[test]
    fn parses_info_replication() {
        let info = "# Replication\r\nrole:master\r\nmaster_replid:abc\r\nmaster_replid2:def\r\n\
                    master_repl_offset:90\r\nsecond_repl_offset:42\r\n";
        let history = History::parse(info).unwrap();
        assert_eq!(history.replid, "abc");
        assert_eq!(history.replid2, "def");
        assert_eq!(history.second_offset, 42);
        assert_eq!(History::parse("role:master\r\n"), None);
        let first = "master_replid:abc\r\nmaster_replid2:0000\r\nsecond_repl_offset:-1\r\n";
        assert_eq!(History::parse(first).unwrap().second_offset, 0);
    }

    #[test]
    fn the_same_server_continues_as_saved() {
        let history = History {
            replid: OLD.into(),
            replid2: "0".repeat(40),
            second_offset: 0,
        };
        assert_eq!(
            plan(&saved(500, 0), 900, None, &history, true),
            Plan::AsSaved
        );
    }

    #[test]
    fn a_log_at_or_below_the_fork_continues_as_saved() {
        assert_eq!(
            plan(&saved(500, 0), 600, None, &promoted(600), true),
            Plan::AsSaved
        );
    }

    #[test]
    fn pings_past_the_fork_rewind_to_it_with_the_database_selected_there() {
        let mut tail = StreamTail::at(OLD.into(), 400, 3);
        tail.changed(550, 3);
        tail.read(570);
        tail.selected(600, 0);
        tail.read(700);
        // The lowest checkpoint is past the fork: lower it to the fork, in db 0.
        let to = ForkPoint { offset: 650, db: 0 };
        let plan_for = |saved_at| plan(&saved(saved_at, 0), 700, Some(&tail), &promoted(650), true);
        assert_eq!(plan_for(680), Plan::Rewind { to });
        // Before the SELECT: db 3 was selected at the fork.
        let to = ForkPoint { offset: 580, db: 3 };
        assert_eq!(
            plan(&saved(680, 0), 700, Some(&tail), &promoted(580), true),
            Plan::Rewind { to }
        );
        // The lowest checkpoint is before the fork: the others are lowered to the fork all
        // the same (the caller continues from the lowest).
        let to = ForkPoint { offset: 650, db: 0 };
        assert_eq!(
            plan(&saved(560, 3), 700, Some(&tail), &promoted(650), true),
            Plan::Rewind { to }
        );
    }

    #[test]
    fn changes_past_the_fork_or_an_unknown_tail_take_a_full_sync() {
        let mut tail = StreamTail::at(OLD.into(), 400, 0);
        tail.changed(660, 0);
        tail.read(700);
        let full = |plan: Plan| matches!(plan, Plan::Full(_));
        assert!(full(plan(
            &saved(680, 0),
            700,
            Some(&tail),
            &promoted(650),
            true
        )));
        assert!(full(plan(&saved(680, 0), 700, None, &promoted(650), true)));
        // A tail of another history says nothing about this one.
        let other = StreamTail::at(NEW.into(), 400, 0);
        assert!(full(plan(
            &saved(680, 0),
            700,
            Some(&other),
            &promoted(650),
            true
        )));
        // A caller that cannot lower the log's positions.
        let quiet = StreamTail::at(OLD.into(), 600, 0);
        assert!(full(plan(
            &saved(680, 0),
            700,
            Some(&quiet),
            &promoted(650),
            false
        )));
        // Only the tail knows the log went past the fork.
        assert!(full(plan(
            &saved(600, 0),
            600,
            Some(&tail),
            &promoted(650),
            false
        )));
    }

    #[test]
    fn too_many_selects_count_as_a_change() {
        let mut tail = StreamTail::at(OLD.into(), 100, 0);
        for i in 0..=MAX_SELECTS as u64 {
            tail.selected(200 + i, (i % 2) as u32);
        }
        assert_eq!(tail.changed_at, 200 + MAX_SELECTS as u64);
        assert!(tail.selects.is_empty());
    }
}
