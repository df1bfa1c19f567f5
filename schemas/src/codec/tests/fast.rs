//! The fast path: round trips, limits of the unsigned types, and hostile input.

use super::samples::{body_name, record, samples, serde_names};
use crate::codec::{decode_generic, Codec, CodecError, HEADER_LEN, MAGIC};
use crate::record::*;

fn codec() -> &'static Codec {
    Codec::shared().unwrap()
}

fn encoded(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    codec().encode(record, &mut out).unwrap();
    out
}

#[test]
fn samples_cover_every_body_kind() {
    let mut seen: Vec<&str> = samples().iter().map(|r| body_name(&r.body)).collect();
    seen.sort_unstable();
    seen.dedup();
    let mut all = serde_names::<Body>();
    all.sort_unstable();
    assert_eq!(seen, all);
}

#[test]
fn every_sample_round_trips() {
    let mut out = Vec::new();
    for sample in samples() {
        out.clear();
        codec().encode(&sample, &mut out).unwrap();
        assert_eq!(&out[..2], &MAGIC);
        assert_eq!(out[2..HEADER_LEN], codec().fingerprint());
        let decoded = codec().decode(&out).unwrap();
        assert_eq!(decoded, sample, "{}", body_name(&sample.body));
    }
}

#[test]
fn encode_appends_and_reuses_the_buffer() {
    let all = samples();
    let mut out = b"prefix".to_vec();
    codec().encode(&all[0], &mut out).unwrap();
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(codec().decode(&out[6..]).unwrap(), all[0]);

    // Two records back to back decode only separately.
    let first_len = out.len() - 6;
    codec().encode(&all[1], &mut out).unwrap();
    let both = &out[6..];
    assert!(matches!(
        codec().decode(both),
        Err(CodecError::TrailingBytes { .. })
    ));
    assert_eq!(codec().decode(&both[first_len..]).unwrap(), all[1]);
}

#[test]
fn small_record_is_small() {
    let sample = record(Body::Heartbeat(Heartbeat { source_offset: 5 }));
    // Header, then varints: nothing wasted on the unsigned types.
    let bytes = encoded(&sample);
    assert!(bytes.len() < 48, "{} bytes", bytes.len());
}

#[test]
fn values_beyond_avro_range_are_errors_not_wraparounds() {
    let mut too_big = record(Body::Heartbeat(Heartbeat {
        source_offset: i64::MAX as u64 + 1,
    }));
    let mut out = b"keep".to_vec();
    let err = codec().encode(&too_big, &mut out).unwrap_err();
    assert!(matches!(err, CodecError::Encode { .. }), "{err}");
    assert_eq!(out, b"keep", "a failed encode leaves the buffer as it was");

    too_big.body = Body::Heartbeat(Heartbeat { source_offset: 1 });
    too_big.db = i32::MAX as u32 + 1;
    let err = codec().encode(&too_big, &mut out).unwrap_err();
    assert!(err.to_string().contains("i32"), "{err}");

    too_big.db = 0;
    too_big.epoch = u64::MAX;
    assert!(codec().encode(&too_big, &mut out).is_err());
}

#[test]
fn header_errors_say_what_is_wrong() {
    let good = encoded(&samples()[0]);

    let err = codec().decode(b"{\"json\": true}").unwrap_err();
    match &err {
        CodecError::NotSingleObject { first_bytes, len } => {
            assert_eq!(first_bytes, "7b226a736f6e223a20747275657d");
            assert_eq!(*len, 14);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("7b226a"), "{err}");

    // Confluent wire format: magic 0, 4-byte schema id.
    let mut confluent = vec![0, 0, 0, 0, 7];
    confluent.extend_from_slice(&good[HEADER_LEN..]);
    assert!(matches!(
        codec().decode(&confluent),
        Err(CodecError::NotSingleObject { .. })
    ));

    assert!(matches!(
        codec().decode(&[]),
        Err(CodecError::NotSingleObject { len: 0, .. })
    ));
    assert!(matches!(
        codec().decode(&good[..7]),
        Err(CodecError::TruncatedHeader { len: 7, .. })
    ));

    let mut other_schema = good.clone();
    other_schema[2..HEADER_LEN].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let err = codec().decode(&other_schema).unwrap_err();
    match &err {
        CodecError::UnknownFingerprint { found, expected } => {
            assert_eq!(found, "0102030405060708");
            assert_eq!(*expected, crate::codec::hex(&codec().fingerprint()));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("0102030405060708"), "{err}");

    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        codec().decode(&trailing),
        Err(CodecError::TrailingBytes { extra: 1, .. })
    ));
}

/// xorshift64*: deterministic junk without a dependency.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Both decoders, on input that must not panic; returns whether each accepted it.
fn decode_both(bytes: &[u8]) -> (bool, bool) {
    (codec().decode(bytes).is_ok(), decode_generic(bytes).is_ok())
}

#[test]
fn junk_is_an_error_never_a_panic() {
    let mut junk = Junk(0x9e37_79b9_7f4a_7c15);
    let header: Vec<u8> = MAGIC
        .iter()
        .chain(codec().fingerprint().iter())
        .copied()
        .collect();
    for round in 0..20_000 {
        let len = (junk.next() % 64) as usize;
        let body = junk.bytes(len);
        assert_eq!(
            decode_both(&body),
            (false, false),
            "round {round}: {body:?}"
        );
        // Junk behind a valid header gets past the header check and exercises the decoders.
        let mut framed = header.clone();
        framed.extend_from_slice(&body);
        // The fast path is the stricter one (u8/u16/u32 ranges): what it accepts, any Avro
        // reader accepts.
        let (fast, generic) = decode_both(&framed);
        assert!(!fast || generic, "only the fast path accepts {framed:?}");
    }
}

#[test]
fn huge_lengths_and_counts_are_errors() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&codec().fingerprint());
    // source: a string claiming i64::MAX bytes (zigzag varint of a huge positive number).
    bytes.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert_eq!(decode_both(&bytes), (false, false));

    // A Command whose args array claims a block of 2^62 elements.
    let valid = encoded(&record(Body::Command(Command { args: Vec::new() })));
    let mut huge = valid[..valid.len() - 1].to_vec();
    huge.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert_eq!(decode_both(&huge), (false, false));
}

#[test]
fn every_truncation_and_bit_flip_is_handled() {
    let small: Vec<Record> = samples()
        .into_iter()
        .filter(|r| crate::memory::record_size(r) < 2000)
        .collect();
    for sample in &small {
        let bytes = encoded(sample);
        for cut in 0..bytes.len() {
            let (fast, generic) = decode_both(&bytes[..cut]);
            assert_eq!(
                (fast, generic),
                (false, false),
                "{} cut at {cut}",
                body_name(&sample.body)
            );
        }
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            // Some flips still make a valid record; none may panic.
            let _ = decode_both(&flipped);
        }
    }
}

#[test]
fn serde_names_see_the_record_fields() {
    assert_eq!(
        serde_names::<Record>(),
        [
            "source",
            "epoch",
            "position",
            "db",
            "slot",
            "capture_ms",
            "body"
        ]
    );
}
