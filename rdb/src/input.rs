//! The buffered input under the parser: big reads into one fixed buffer, the byte position,
//! and the running CRC64 of every byte consumed.
//!
//! Invariants:
//! - `buf[start..end]` holds bytes read from `inner` but not yet consumed; `base + start` is
//!   the RDB position of `buf[start]`.
//! - Every consumed byte is hashed exactly once, in bulk: `buf[crc_from..start]` are consumed
//!   bytes not hashed yet, folded in before the buffer is compacted and at the EOF opcode.
//! - `inner` is only read when the parser needs a byte that is not buffered, so nothing is
//!   requested from a socket after the RDB's last byte (it may not come until we ACK).

use std::io::{ErrorKind, Read};

use crc::{Digest, Table};

use crate::dump::CRC64;
use crate::error::{RdbError, RdbErrorKind};

/// Size of the read buffer: large enough that per-read overhead vanishes, small enough to
/// stay in L2 cache.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

pub(crate) struct Input<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    crc_from: usize,
    base: u64,
    digest: Digest<'static, u64, Table<16>>,
    /// Largest number of bytes one key, value or decoded string may take.
    pub(crate) limit: usize,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R, limit: usize) -> Self {
        Input {
            inner,
            buf: vec![0u8; BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            crc_from: 0,
            base: 0,
            digest: CRC64.digest(),
            limit,
        }
    }

    /// RDB bytes consumed so far.
    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.base + self.start as u64
    }

    /// RDB bytes received from `inner` so far (consumed or buffered).
    fn received(&self) -> u64 {
        self.base + self.end as u64
    }

    /// The buffered, unconsumed bytes.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Marks `n` buffered bytes as consumed; `n` must not exceed `available().len()`.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start = (self.start + n).min(self.end);
    }

    /// An error of this kind at the current position.
    pub(crate) fn error(&self, kind: RdbErrorKind) -> RdbError {
        let offset = match kind {
            RdbErrorKind::Truncated => self.received(),
            _ => self.position(),
        };
        RdbError::new(offset, kind)
    }

    /// Makes at least `min` bytes available (`min` <= BUF_SIZE), reading `inner` as needed.
    pub(crate) fn fill(&mut self, min: usize) -> Result<(), RdbError> {
        if self.end - self.start >= min {
            return Ok(());
        }
        if BUF_SIZE - self.start < min {
            self.compact();
        }
        while self.end - self.start < min {
            if self.end == BUF_SIZE {
                self.compact();
            }
            self.read_more()?;
        }
        Ok(())
    }

    /// Reads once from `inner` into the free end of the buffer (at least one byte).
    fn read_more(&mut self) -> Result<(), RdbError> {
        if self.start == self.end {
            // Nothing to keep: restart at the front so reads stay large.
            self.compact();
        }
        loop {
            let free = match self.buf.get_mut(self.end..) {
                Some(free) if !free.is_empty() => free,
                _ => return Err(self.error(RdbErrorKind::Corrupt("read buffer full".into()))),
            };
            match self.inner.read(free) {
                Ok(0) => return Err(self.error(RdbErrorKind::Truncated)),
                Ok(n) => {
                    self.end += n.min(BUF_SIZE - self.end);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    return Err(self.error(RdbErrorKind::Truncated))
                }
                Err(e) => return Err(self.error(RdbErrorKind::Io(e))),
            }
        }
    }

    /// Hashes the consumed bytes not hashed yet, then moves the unconsumed ones to the front.
    fn compact(&mut self) {
        self.fold_crc();
        let (start, end) = (self.start, self.end);
        if start > 0 {
            self.buf.copy_within(start..end, 0);
            self.base += start as u64;
            self.end = end - start;
            self.start = 0;
            self.crc_from = 0;
        }
    }

    fn fold_crc(&mut self) {
        if let Some(span) = self.buf.get(self.crc_from..self.start) {
            self.digest.update(span);
        }
        self.crc_from = self.start;
    }

    /// The CRC64 of every byte consumed so far; hashing then starts over.
    pub(crate) fn take_crc(&mut self) -> u64 {
        self.fold_crc();
        std::mem::replace(&mut self.digest, CRC64.digest()).finalize()
    }

    #[inline]
    pub(crate) fn read_u8(&mut self) -> Result<u8, RdbError> {
        if let Some(&b) = self.buf.get(self.start) {
            if self.start < self.end {
                self.start += 1;
                return Ok(b);
            }
        }
        self.fill(1)?;
        let b = self.available().first().copied().unwrap_or(0);
        self.consume(1);
        Ok(b)
    }

    /// Reads exactly N bytes (N is small: fixed-size fields).
    #[inline]
    pub(crate) fn read_array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        self.fill(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.available().get(..N).unwrap_or(&[0u8; N]));
        self.consume(N);
        Ok(out)
    }

    /// Checks that `out` may grow by `add` bytes within the object limit.
    #[inline]
    pub(crate) fn check_room(&self, have: usize, add: u64) -> Result<usize, RdbError> {
        let total = (have as u64).saturating_add(add);
        if total > self.limit as u64 {
            return Err(self.error(RdbErrorKind::ObjectTooLarge {
                size: total,
                limit: self.limit,
            }));
        }
        // Fits under the limit, which is a usize.
        Ok(add as usize)
    }

    /// Consumes the next `n` bytes, appending them to `out`. `out` grows only as bytes arrive,
    /// so a corrupt length costs no memory beyond what the stream really carries.
    pub(crate) fn copy_to(&mut self, out: &mut Vec<u8>, n: u64) -> Result<(), RdbError> {
        let mut left = self.check_room(out.len(), n)?;
        loop {
            let take = left.min(self.end - self.start);
            if let Some(chunk) = self.buf.get(self.start..self.start + take) {
                out.extend_from_slice(chunk);
            }
            self.start += take;
            left -= take;
            if left == 0 {
                return Ok(());
            }
            self.read_more()?;
        }
    }

    /// The unconsumed buffered bytes and the inner reader.
    pub(crate) fn into_parts(self) -> (Vec<u8>, R) {
        let rest = self.available().to_vec();
        (rest, self.inner)
    }
}
