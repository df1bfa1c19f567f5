//! Reading an intset (sets of integers only): encoding width (u32 LE: 2, 4 or 8 bytes), count
//! (u32 LE), then the integers in ascending order, each little-endian of that width.

use super::error::DecodeError;

/// The integers of an intset.
pub(crate) fn intset(buf: &[u8]) -> Result<impl Iterator<Item = i64> + '_, DecodeError> {
    let header = buf
        .get(..8)
        .ok_or_else(|| DecodeError::truncated("intset header", 0, 8, buf.len()))?;
    let width = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let count = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as u64;
    if !matches!(width, 2 | 4 | 8) {
        return Err(DecodeError::invalid(
            "intset header",
            0,
            format!("integer width {width} (expected 2, 4 or 8)"),
        ));
    }
    let body = buf.get(8..).unwrap_or_default();
    if count.saturating_mul(width as u64) != body.len() as u64 {
        return Err(DecodeError::invalid(
            "intset header",
            4,
            format!(
                "{count} integers of {width} bytes do not fill the {} bytes that follow",
                body.len()
            ),
        ));
    }
    Ok(body.chunks_exact(width).map(move |chunk| {
        let mut raw = [0u8; 8];
        raw[..width].copy_from_slice(chunk);
        let shift = 64 - 8 * width as u32;
        (i64::from_le_bytes(raw) << shift) >> shift
    }))
}
