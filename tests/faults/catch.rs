//! Catching the big value half-applied: a tight watch on its part mark (the parts applied so
//! far) and `CLIENT PAUSE WRITE` on the target once the mark has moved a chosen number of times,
//! so whatever writes the target is held between two of the value's batches (or between a
//! batch and its checkpoint) until the kill. Its parts can come and go within milliseconds,
//! faster than a look at the whole copy.

use crate::rig::{Phase, Rig, BIG_DB, PART_MARK};
use redis::Connection;
use std::time::{Duration, Instant};

/// How long the target's writes stay paused if the test never lets them go.
const PAUSE_MS: u64 = 10_000;

/// The target's writes held; let go on drop.
pub struct Paused(Connection);

impl Drop for Paused {
    fn drop(&mut self) {
        let _: redis::RedisResult<()> = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut self.0);
    }
}

impl Rig {
    /// Watches the big list's part mark until it has moved `moves` times since the victim
    /// started, then pauses the target's writes: `Some` with the value half-built and its
    /// writer held, `None` if the value was done first or the copy went live.
    pub fn pause_inside_big_value(&mut self, moves: u32) -> Option<Paused> {
        let mut conn = self.target.conn();
        let _: () = redis::cmd("SELECT")
            .arg(BIG_DB)
            .query(&mut conn)
            .expect("SELECT");
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = self.part_before.mark.clone();
        let (mut moved, mut looks) = (0, 0u64);
        loop {
            let mark: Option<String> = redis::cmd("GET")
                .arg(PART_MARK)
                .query(&mut conn)
                .expect("GET the part mark");
            if mark != last {
                if mark.is_some() {
                    moved += 1;
                } else if moved > 0 {
                    return None;
                }
                last = mark;
            }
            if moved >= moves {
                let _: () = redis::cmd("CLIENT")
                    .arg(&["PAUSE", &PAUSE_MS.to_string(), "WRITE"])
                    .query(&mut conn)
                    .expect("CLIENT PAUSE WRITE");
                let paused = Paused(conn);
                return self
                    .part_state()
                    .building_since(&self.part_before)
                    .then_some(paused);
            }
            looks += 1;
            if looks % 500 == 0 {
                if self.phase() == Phase::Live {
                    return None;
                }
                self.assert_running();
                assert!(
                    Instant::now() < deadline,
                    "the big value never showed:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}
