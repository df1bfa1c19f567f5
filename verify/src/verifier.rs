//! [`verify`]: walks every database of the source, judging its keys in batches, then the
//! target for keys the source lacks; the verdicts go into a [`VerifyReport`].

use crate::compare::{compare_content, compare_ttl, Outcome, TtlRule};
use crate::error::{Role, VerifyError};
use crate::field_ttl::{compare_field_ttls, fields_to_check, HashFields};
use crate::module::compare_module;
pub use crate::options::VerifyOptions;
use crate::report::{escape, DiffKind, VerifyReport};
use crate::scope::Scope;
use crate::side::{KeyType, Side};
use crate::stream;
use crate::value::{estimated_bytes, is_small, lengths, over_budget, read_big, read_small};
use redis::aio::MultiplexedConnection;
use slotstream_schemas::{now_ms, BOOKKEEPING_PREFIX};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Collections with at least this many elements are logged when read.
const BIG_KEY_ELEMENTS: u64 = 100_000;
/// Strings of at least this many bytes are logged when read.
const BIG_KEY_BYTES: u64 = 10 << 20;
/// How often progress is logged on long runs.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Compares every key of every database of source and target.
pub async fn verify(options: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let started = Instant::now();
    let (source, target) = tokio::try_join!(
        Side::connect(Role::Source, &options.source, options.source_tls.as_ref()),
        Side::connect(Role::Target, &options.target, options.target_tls.as_ref())
    )?;
    let mut verifier = Verifier {
        report: VerifyReport {
            source: source.addr.clone(),
            target: target.addr.clone(),
            ttl_tolerance_ms: options.ttl_tolerance_ms,
            ttl_extension_ms: options.ttl_extension_ms,
            max_report: options.max_report,
            ..Default::default()
        },
        tolerance_ms: options.ttl_tolerance_ms,
        ttl: TtlRule {
            extension_ms: options.ttl_extension_ms,
            tolerance_ms: options.ttl_tolerance_ms,
        },
        source,
        target,
        scope: options.scope.clone(),
        last_progress: Instant::now(),
    };
    let (src_dbs, tgt_dbs) = tokio::try_join!(
        verifier.source.dbs_with_keys(),
        verifier.target.dbs_with_keys()
    )?;
    let pairs = verifier.scope.pairs(&src_dbs, &tgt_dbs);
    for (src_db, tgt_db) in pairs.map_err(VerifyError::Scope)? {
        verifier.verify_db(src_db, tgt_db).await?;
    }
    let mut report = verifier.report;
    report.elapsed = started.elapsed();
    let total = report.total();
    tracing::info!(
        keys = total.compared,
        differences = total.differences(),
        elapsed_ms = report.elapsed.as_millis() as u64,
        "verify done"
    );
    Ok(report)
}

/// The verdict on one key.
enum Verdict {
    /// Gone from the source (expired or deleted): the target pass judges what is left of it.
    Gone,
    /// Missing on one side or changed while read: judge it once more.
    Vanished,
    Checked {
        diffs: Vec<(DiffKind, String)>,
        warning: Option<String>,
    },
}

/// A key of the same type on both sides, whose value is compared next.
struct Pending {
    index: usize,
    kind: KeyType,
    ttl_diff: Option<String>,
}

struct Verifier {
    source: Side,
    target: Side,
    /// For times that are copied as they are (a stream's delivery times).
    tolerance_ms: u64,
    /// For expiry times, which the copy moves by its TTL extension.
    ttl: TtlRule,
    report: VerifyReport,
    scope: Scope,
    last_progress: Instant,
}

impl Verifier {
    /// Source database `db` against target database `tgt_db` (the same, unless mapped); the
    /// report counts them under `db`.
    async fn verify_db(&mut self, db: i64, tgt_db: i64) -> Result<(), VerifyError> {
        let (srcs, tgts) =
            tokio::try_join!(self.source.open_all(db), self.target.open_all(tgt_db))?;
        self.report.dbs.entry(db).or_default();
        // Each source node in turn; each page's keys read on the target node that holds them.
        for src in &srcs {
            let mut scanning = src.clone();
            let mut cursor = 0;
            loop {
                let (next, mut keys) = self.source.scan_page(&mut scanning, cursor).await?;
                keys.retain(|key| {
                    !key.starts_with(BOOKKEEPING_PREFIX) && self.scope.keeps_key(key)
                });
                for (node, keys) in self.target.nodes.group(keys) {
                    self.check_batch(db, src, &tgts[node], keys).await?;
                }
                self.progress(db);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        for tgt in &tgts {
            self.find_extra(db, &srcs, &mut tgt.clone()).await?;
        }
        Ok(())
    }

    /// Judges a batch of source keys, and once more those that vanished on the way.
    async fn check_batch(
        &mut self,
        db: i64,
        src: &MultiplexedConnection,
        tgt: &MultiplexedConnection,
        keys: Vec<Vec<u8>>,
    ) -> Result<(), VerifyError> {
        if keys.is_empty() {
            return Ok(());
        }
        let verdicts = self.judge(src, tgt, &keys, true).await?;
        let mut again = Vec::new();
        for (key, verdict) in keys.into_iter().zip(verdicts) {
            match verdict {
                Verdict::Vanished => again.push(key),
                verdict => self.record(db, &key, verdict),
            }
        }
        if !again.is_empty() {
            tracing::debug!(db, keys = again.len(), "verify re-checks keys");
            let verdicts = self.judge(src, tgt, &again, false).await?;
            for (key, verdict) in again.iter().zip(verdicts) {
                self.record(db, key, verdict);
            }
        }
        Ok(())
    }

    fn record(&mut self, db: i64, key: &[u8], verdict: Verdict) {
        if let Verdict::Checked { diffs, warning } = verdict {
            if let Some(warning) = warning {
                self.report.record_warning(db, key, warning);
            }
            self.report.record_key(db, key, diffs);
        }
    }

    /// Types and expiry for the whole batch, then values (see the module doc).
    async fn judge(
        &self,
        src: &MultiplexedConnection,
        tgt: &MultiplexedConnection,
        keys: &[Vec<u8>],
        first_pass: bool,
    ) -> Result<Vec<Verdict>, VerifyError> {
        let (mut s, mut t) = (src.clone(), tgt.clone());
        let (src_meta, tgt_meta) = tokio::try_join!(
            self.source.meta(&mut s, keys),
            self.target.meta(&mut t, keys)
        )?;
        let now = now_ms();
        let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(keys.len());
        let mut pending = Vec::new();
        for (index, (a, b)) in src_meta.into_iter().zip(tgt_meta).enumerate() {
            let checked = |kind, reason| Verdict::Checked {
                diffs: vec![(kind, reason)],
                warning: None,
            };
            verdicts.push(match (&a.kind, &b.kind) {
                (KeyType::None, _) => Some(Verdict::Gone),
                // Not the copy's: a left-out type (a key of it on the target is one too many).
                (x, KeyType::None) if !self.scope.keeps_kind(x) => Some(Verdict::Gone),
                (x, y) if !self.scope.keeps_kind(x) => Some(checked(
                    DiffKind::ExtraOnTarget,
                    format!(
                        "{} on target, {} (left out by the filter) on source",
                        y.name(),
                        x.name()
                    ),
                )),
                (_, KeyType::None) if first_pass => Some(Verdict::Vanished),
                (kind, KeyType::None) => Some(checked(
                    DiffKind::MissingOnTarget,
                    format!("{} only on source", kind.name()),
                )),
                (x, y) if x != y => Some(checked(
                    DiffKind::TypeDiffers,
                    format!("type {} vs {}", x.name(), y.name()),
                )),
                _ => {
                    let ttl_diff = compare_ttl(a.expire_at, b.expire_at, self.ttl, now);
                    pending.push(Pending {
                        index,
                        kind: a.kind,
                        ttl_diff,
                    });
                    None
                }
            });
        }
        let outcomes = self.compare_values(src, tgt, keys, &pending).await?;
        for (item, (outcome, field_ttl_diff)) in pending.into_iter().zip(outcomes) {
            let mut diffs: Vec<(DiffKind, String)> = Vec::new();
            let mut warning = None;
            match outcome {
                Outcome::Vanished if first_pass => {
                    verdicts[item.index] = Some(Verdict::Vanished);
                    continue;
                }
                Outcome::Vanished => diffs.push((
                    DiffKind::ValueDiffers,
                    "changed or expired while being compared".to_string(),
                )),
                Outcome::Differs(reason) => diffs.push((DiffKind::ValueDiffers, reason)),
                Outcome::Warning(reason) => warning = Some(reason),
                Outcome::Same => {}
            }
            // One TTL difference per key, whether of the key, of its fields, or of both.
            let ttl_diff = match (item.ttl_diff, field_ttl_diff) {
                (Some(key), Some(fields)) => Some(format!("{key}; {fields}")),
                (key, fields) => key.or(fields),
            };
            diffs.extend(ttl_diff.map(|reason| (DiffKind::TtlDiffers, reason)));
            verdicts[item.index] = Some(Verdict::Checked { diffs, warning });
        }
        Ok(verdicts
            .into_iter()
            .map(|verdict| verdict.unwrap_or(Verdict::Vanished))
            .collect())
    }

    /// Value outcomes for keys whose types match, in `pending` order, each with the hash field
    /// TTL difference of a hash.
    async fn compare_values(
        &self,
        src: &MultiplexedConnection,
        tgt: &MultiplexedConnection,
        keys: &[Vec<u8>],
        pending: &[Pending],
    ) -> Result<Vec<(Outcome, Option<String>)>, VerifyError> {
        let (mut s, mut t) = (src.clone(), tgt.clone());
        let items: Vec<(&[u8], &KeyType)> = pending
            .iter()
            .map(|p| (keys[p.index].as_slice(), &p.kind))
            .collect();
        let (src_len, tgt_len) = tokio::try_join!(
            lengths(&self.source, &mut s, &items),
            lengths(&self.target, &mut t, &items)
        )?;
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(items.len());
        let mut field_ttls: Vec<Option<String>> = vec![None; items.len()];
        let mut small: Vec<usize> = Vec::new();
        let mut budget = 0;
        for (i, &(key, kind)) in items.iter().enumerate() {
            let outcome = match (kind, src_len[i], tgt_len[i]) {
                (KeyType::Other(name), _, _) => Some(
                    compare_module((&self.source, &self.target), (&mut s, &mut t), key, name)
                        .await?,
                ),
                (_, Some(a), Some(b)) if a != b => Some(Outcome::Differs(count_reason(kind, a, b))),
                (KeyType::Stream, Some(_), Some(_)) => Some(
                    stream::compare_stream(
                        (&self.source, &self.target),
                        (src, tgt),
                        key,
                        self.tolerance_ms,
                    )
                    .await?,
                ),
                (_, Some(len), Some(_)) if is_small(kind, len) => {
                    let bytes = estimated_bytes(kind, len);
                    if over_budget(budget, bytes) {
                        let results = (&mut outcomes[..], &mut field_ttls[..]);
                        self.flush_small(src, tgt, &items, &mut small, results)
                            .await?;
                        budget = 0;
                    }
                    budget += bytes;
                    small.push(i);
                    None
                }
                (_, Some(len), Some(_)) => {
                    let (outcome, field_ttl) = self.compare_big(src, tgt, key, kind, len).await?;
                    field_ttls[i] = field_ttl;
                    Some(outcome)
                }
                _ => Some(Outcome::Vanished),
            };
            outcomes.push(outcome);
        }
        let results = (&mut outcomes[..], &mut field_ttls[..]);
        self.flush_small(src, tgt, &items, &mut small, results)
            .await?;
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Outcome::Vanished))
            .zip(field_ttls)
            .collect())
    }

    /// Reads one key too big for the shared pipeline from both sides, page by page, and
    /// compares it: the outcome, and the field TTL difference of a hash.
    async fn compare_big(
        &self,
        src: &MultiplexedConnection,
        tgt: &MultiplexedConnection,
        key: &[u8],
        kind: &KeyType,
        len: u64,
    ) -> Result<(Outcome, Option<String>), VerifyError> {
        let huge = match kind {
            KeyType::String => len >= BIG_KEY_BYTES,
            _ => len >= BIG_KEY_ELEMENTS,
        };
        if huge {
            let key = escape(key, 200);
            tracing::info!(%key, kind = kind.name(), len, "verify reads a big key");
        }
        let (mut s, mut t) = (src.clone(), tgt.clone());
        let (a, b) = tokio::join!(
            read_big(&self.source, &mut s, key, kind),
            read_big(&self.target, &mut t, key, kind)
        );
        let (a, b) = (a?, b?);
        let outcome = compare_content(&a, &b);
        let Some(fields) = fields_to_check(&self.source, &outcome, a, b) else {
            return Ok((outcome, None));
        };
        let sides = (&self.source, &self.target);
        let hash = [(key, fields)];
        let diffs = compare_field_ttls(sides, (src, tgt), &hash, self.ttl).await?;
        Ok((outcome, diffs.into_iter().next().flatten()))
    }

    /// Reads the queued small keys from both sides in one pipeline each and compares them, and
    /// then the field TTLs of the hashes among them.
    async fn flush_small(
        &self,
        src: &MultiplexedConnection,
        tgt: &MultiplexedConnection,
        items: &[(&[u8], &KeyType)],
        small: &mut Vec<usize>,
        results: (&mut [Option<Outcome>], &mut [Option<String>]),
    ) -> Result<(), VerifyError> {
        let (outcomes, field_ttls) = results;
        if small.is_empty() {
            return Ok(());
        }
        let (mut s, mut t) = (src.clone(), tgt.clone());
        let batch: Vec<(&[u8], &KeyType)> = small.iter().map(|&i| items[i]).collect();
        let (a, b) = tokio::try_join!(
            read_small(&self.source, &mut s, &batch),
            read_small(&self.target, &mut t, &batch)
        )?;
        let (mut indexes, mut hashes): (Vec<usize>, Vec<HashFields>) = (Vec::new(), Vec::new());
        for ((i, a), b) in small.drain(..).zip(a).zip(b) {
            let outcome = compare_content(&a, &b);
            if let Some(fields) = fields_to_check(&self.source, &outcome, a, b) {
                indexes.push(i);
                hashes.push((items[i].0, fields));
            }
            outcomes[i] = Some(outcome);
        }
        if hashes.is_empty() {
            return Ok(());
        }
        let sides = (&self.source, &self.target);
        let diffs = compare_field_ttls(sides, (src, tgt), &hashes, self.ttl).await?;
        for (i, diff) in indexes.into_iter().zip(diffs) {
            field_ttls[i] = diff;
        }
        Ok(())
    }

    /// SCANs one target node (`tgt`) for keys the source (`srcs`, in node order) does not have.
    async fn find_extra(
        &mut self,
        db: i64,
        srcs: &[MultiplexedConnection],
        tgt: &mut MultiplexedConnection,
    ) -> Result<(), VerifyError> {
        // SCAN may return a key twice; an extra key is reported once.
        let mut reported: HashSet<Vec<u8>> = HashSet::new();
        let mut cursor = 0;
        loop {
            let (next, mut keys) = self.target.scan_page(tgt, cursor).await?;
            keys.retain(|key| !key.starts_with(BOOKKEEPING_PREFIX) && self.scope.keeps_key(key));
            let on_source = self.source.exists_anywhere(srcs, &keys).await?;
            let extra: Vec<Vec<u8>> = keys
                .into_iter()
                .zip(on_source)
                .filter(|(key, found)| !found && !reported.contains(key))
                .map(|(key, _)| key)
                .collect();
            if !extra.is_empty() {
                // Judge once more: a key that expired on the target meanwhile is not extra.
                let mut t = tgt.clone();
                let (on_target, on_source) = tokio::try_join!(
                    self.target.meta(&mut t, &extra),
                    self.source.exists_anywhere(srcs, &extra)
                )?;
                for (key, (meta, on_source)) in
                    extra.into_iter().zip(on_target.into_iter().zip(on_source))
                {
                    if on_source || meta.kind == KeyType::None || !self.scope.keeps_kind(&meta.kind)
                    {
                        continue;
                    }
                    let reason = format!("{} only on target", meta.kind.name());
                    self.report
                        .record_key(db, &key, vec![(DiffKind::ExtraOnTarget, reason)]);
                    reported.insert(key);
                }
            }
            self.progress(db);
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    fn progress(&mut self, db: i64) {
        if self.last_progress.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last_progress = Instant::now();
        let total = self.report.total();
        tracing::info!(
            db,
            keys = total.compared,
            differences = total.differences(),
            "verify progress"
        );
    }
}

/// The reason for two different lengths, named by type.
fn count_reason(kind: &KeyType, a: u64, b: u64) -> String {
    let what = match kind {
        KeyType::String => "string length",
        KeyType::List => "list length",
        KeyType::Set => "set member count",
        KeyType::ZSet => "zset member count",
        KeyType::Hash => "hash field count",
        KeyType::Stream => "stream length",
        _ => "length",
    };
    format!("{what} {a} vs {b}")
}
