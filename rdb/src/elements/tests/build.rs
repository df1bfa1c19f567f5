//! Encoders for test objects, written from the format descriptions (not from the decoder):
//! RDB lengths and strings, LZF, ziplists, listpacks, intsets, zipmaps.

/// An element of a ziplist or listpack to build.
#[derive(Clone, Copy)]
pub enum Z<'a> {
    S(&'a [u8]),
    I(i64),
}

impl Z<'_> {
    /// The element as decoded: integers as decimal text.
    pub fn text(self) -> Vec<u8> {
        match self {
            Z::S(s) => s.to_vec(),
            Z::I(n) => n.to_string().into_bytes(),
        }
    }
}

/// An RDB length, in the shortest form.
pub fn len(n: u64) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else if n <= u64::from(u32::MAX) {
        let mut v = vec![0x80];
        v.extend((n as u32).to_be_bytes());
        v
    } else {
        let mut v = vec![0x81];
        v.extend(n.to_be_bytes());
        v
    }
}

/// A plain RDB string.
pub fn string(s: &[u8]) -> Vec<u8> {
    let mut v = len(s.len() as u64);
    v.extend_from_slice(s);
    v
}

/// An integer-encoded RDB string (8, 16 or 32 bits).
pub fn int_string(n: i64) -> Vec<u8> {
    if let Ok(n) = i8::try_from(n) {
        vec![0xc0, n as u8]
    } else if let Ok(n) = i16::try_from(n) {
        let mut v = vec![0xc1];
        v.extend(n.to_le_bytes());
        v
    } else {
        let mut v = vec![0xc2];
        v.extend((n as i32).to_le_bytes());
        v
    }
}

/// An LZF-compressed RDB string.
pub fn lzf_string(s: &[u8]) -> Vec<u8> {
    let compressed = lzf(s);
    let mut v = vec![0xc3];
    v.extend(len(compressed.len() as u64));
    v.extend(len(s.len() as u64));
    v.extend(compressed);
    v
}

/// A greedy LZF compressor: literals of up to 32 bytes, references of 3 to 264 bytes up to
/// 8192 bytes back.
pub fn lzf(input: &[u8]) -> Vec<u8> {
    fn flush(out: &mut Vec<u8>, literal: &mut Vec<u8>) {
        for chunk in literal.chunks(32) {
            out.push((chunk.len() - 1) as u8);
            out.extend_from_slice(chunk);
        }
        literal.clear();
    }
    let (mut out, mut literal, mut i) = (Vec::new(), Vec::new(), 0);
    while i < input.len() {
        let (mut best_len, mut best_dist) = (0, 0);
        for j in i.saturating_sub(8192)..i {
            let mut l = 0;
            while i + l < input.len() && l < 264 && input[j + l] == input[i + l] {
                l += 1;
            }
            if l > best_len {
                (best_len, best_dist) = (l, i - j);
            }
        }
        if best_len >= 3 {
            flush(&mut out, &mut literal);
            let (l, off) = (best_len - 2, best_dist - 1);
            if l < 7 {
                out.push((l << 5) as u8 | (off >> 8) as u8);
            } else {
                out.push((7 << 5) as u8 | (off >> 8) as u8);
                out.push((l - 7) as u8);
            }
            out.push(off as u8);
            i += best_len;
        } else {
            literal.push(input[i]);
            i += 1;
        }
    }
    flush(&mut out, &mut literal);
    out
}

/// A ziplist holding `items`, each integer in its smallest encoding.
pub fn ziplist(items: &[Z<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    let (mut prev, mut tail) = (0usize, 10usize);
    for item in items {
        let mut entry = if prev < 254 {
            vec![prev as u8]
        } else {
            let mut v = vec![0xfe];
            v.extend((prev as u32).to_le_bytes());
            v
        };
        match *item {
            Z::I(n @ 0..=12) => entry.push(0xf1 + n as u8),
            Z::I(n) if i8::try_from(n).is_ok() => entry.extend([0xfe, n as u8]),
            Z::I(n) if i16::try_from(n).is_ok() => {
                entry.push(0xc0);
                entry.extend((n as i16).to_le_bytes());
            }
            Z::I(n) if (-(1 << 23)..1 << 23).contains(&n) => {
                entry.push(0xf0);
                entry.extend(&(n as i32).to_le_bytes()[..3]);
            }
            Z::I(n) if i32::try_from(n).is_ok() => {
                entry.push(0xd0);
                entry.extend((n as i32).to_le_bytes());
            }
            Z::I(n) => {
                entry.push(0xe0);
                entry.extend(n.to_le_bytes());
            }
            Z::S(s) => {
                let n = s.len();
                if n < 64 {
                    entry.push(n as u8);
                } else if n < 16384 {
                    entry.extend([0x40 | (n >> 8) as u8, n as u8]);
                } else {
                    entry.push(0x80);
                    entry.extend((n as u32).to_be_bytes());
                }
                entry.extend_from_slice(s);
            }
        }
        tail = 10 + body.len();
        prev = entry.len();
        body.extend(entry);
    }
    let total = 10 + body.len() + 1;
    let mut zl = Vec::with_capacity(total);
    zl.extend((total as u32).to_le_bytes());
    zl.extend((tail as u32).to_le_bytes());
    zl.extend((items.len().min(65535) as u16).to_le_bytes());
    zl.extend(body);
    zl.push(0xff);
    zl
}

/// A listpack holding `items`, each integer in its smallest encoding.
pub fn listpack(items: &[Z<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for item in items {
        let mut entry = Vec::new();
        match *item {
            Z::I(n @ 0..=127) => entry.push(n as u8),
            Z::I(n) if (-4096..4096).contains(&n) => {
                let u = (n as u16) & 0x1fff;
                entry.extend([0xc0 | (u >> 8) as u8, u as u8]);
            }
            Z::I(n) if i16::try_from(n).is_ok() => {
                entry.push(0xf1);
                entry.extend((n as i16).to_le_bytes());
            }
            Z::I(n) if (-(1 << 23)..1 << 23).contains(&n) => {
                entry.push(0xf2);
                entry.extend(&(n as i32).to_le_bytes()[..3]);
            }
            Z::I(n) if i32::try_from(n).is_ok() => {
                entry.push(0xf3);
                entry.extend((n as i32).to_le_bytes());
            }
            Z::I(n) => {
                entry.push(0xf4);
                entry.extend(n.to_le_bytes());
            }
            Z::S(s) => {
                let n = s.len();
                if n < 64 {
                    entry.push(0x80 | n as u8);
                } else if n < 4096 {
                    entry.extend([0xe0 | (n >> 8) as u8, n as u8]);
                } else {
                    entry.push(0xf0);
                    entry.extend((n as u32).to_le_bytes());
                }
                entry.extend_from_slice(s);
            }
        }
        // The back-length, read from its last byte backwards, 7 bits a byte; every byte but
        // the one read last (the first) carries the 128 flag. Sizes as Redis picks them.
        let l = entry.len();
        let size = [127, 16382, 2097150, 268435454]
            .iter()
            .position(|&max| l <= max)
            .map_or(5, |i| i + 1);
        let mut back: Vec<u8> = (0..size)
            .map(|k| ((l >> (7 * k)) & 127) as u8 | 128)
            .collect();
        back.reverse();
        back[0] &= 127;
        entry.extend(back);
        body.extend(entry);
    }
    let total = 6 + body.len() + 1;
    let mut lp = Vec::with_capacity(total);
    lp.extend((total as u32).to_le_bytes());
    lp.extend((items.len().min(65535) as u16).to_le_bytes());
    lp.extend(body);
    lp.push(0xff);
    lp
}

/// An intset of `width` bytes per integer.
pub fn intset(width: u32, values: &[i64]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(width.to_le_bytes());
    v.extend((values.len() as u32).to_le_bytes());
    for n in values {
        v.extend(&n.to_le_bytes()[..width as usize]);
    }
    v
}

/// A zipmap; `free` unused bytes after each value.
pub fn zipmap(pairs: &[(&[u8], &[u8])], free: u8) -> Vec<u8> {
    let zlen = |v: &mut Vec<u8>, n: usize| {
        if n < 254 {
            v.push(n as u8);
        } else {
            v.push(254);
            v.extend((n as u32).to_le_bytes());
        }
    };
    let mut v = vec![pairs.len().min(254) as u8];
    for (key, value) in pairs {
        zlen(&mut v, key.len());
        v.extend_from_slice(key);
        zlen(&mut v, value.len());
        v.push(free);
        v.extend_from_slice(value);
        v.extend(std::iter::repeat_n(0xaa, usize::from(free)));
    }
    v.push(0xff);
    v
}
