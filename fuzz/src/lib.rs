//! What the fuzz targets share: how an input says the sizes of the reads its bytes arrive in,
//! a reader that hands them out so, and the loop that feeds an incremental parser read by read.
//!
//! # Layout
//! - [`read_sizes`]: the read sizes a control byte picks.
//! - [`Chunked`]: a reader (a socket) that hands out its bytes in reads of those sizes.
//! - [`arrive`]: appends a stream read by read to a buffer and lets a parser take from its front.

/// The read sizes control byte `ctrl` picks for a stream of `len` bytes: 0, one read of all of
/// it; otherwise reads of 1..=16 and of 61..=976 bytes, alternating (the low and high nibble).
pub fn read_sizes(ctrl: u8, len: usize) -> [usize; 2] {
    if ctrl == 0 {
        [len.max(1); 2]
    } else {
        [
            usize::from(ctrl & 0x0f) + 1,
            (usize::from(ctrl >> 4) + 1) * 61,
        ]
    }
}

/// Hands out `data` in reads of alternating sizes, as a socket may, and notes a read asked for
/// once everything was handed out (a live socket would block there).
pub struct Chunked<'a> {
    pub data: &'a [u8],
    sizes: [usize; 2],
    turn: usize,
    pub read_after_end: bool,
}

impl<'a> Chunked<'a> {
    pub fn new(data: &'a [u8], sizes: [usize; 2]) -> Self {
        Chunked {
            data,
            sizes,
            turn: 0,
            read_after_end: false,
        }
    }
}

impl std::io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.data.is_empty() {
            self.read_after_end = true;
            return Ok(0);
        }
        let size = self.sizes[self.turn % 2];
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(now);
        self.data = rest;
        Ok(n)
    }
}

/// Appends `stream` to a buffer read by read (sizes alternating as in `sizes`) and after each
/// read lets `take` parse from the buffer's front: it returns how many bytes it used, which
/// leave the buffer, and whether the stream failed, which ends the feeding.
pub fn arrive(stream: &[u8], sizes: [usize; 2], mut take: impl FnMut(&[u8]) -> (usize, bool)) {
    let mut pending = Vec::new();
    let mut rest = stream;
    let mut turn = 0;
    while !rest.is_empty() {
        let n = sizes[turn % 2].min(rest.len());
        turn += 1;
        pending.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        let (used, failed) = take(&pending);
        pending.drain(..used);
        if failed {
            return;
        }
    }
}
