//! Inputs found by fuzzing (`fuzz/`, target `record_decode`) where the record decoders do
//! something worth pinning: the fast path (`Codec::decode`) must refuse each, and the generic
//! decoder (`decode_generic`, `apache-avro`) must behave as its documentation says. The target
//! puts the header in front of each datum, as these tests do.

use slotstream_schemas::codec::{decode_generic, MAGIC};
use slotstream_schemas::{Codec, CodecError};

/// `datum` with this build's single-object header in front.
fn message(datum: &[u8]) -> Vec<u8> {
    let codec = Codec::shared().unwrap();
    [&MAGIC[..], &codec.fingerprint(), datum].concat()
}

/// A heartbeat whose `capture_ms` is a 10-byte varint (`c8 bb ff … ff 16`) whose last byte
/// holds bits beyond the 64th.
const VARINT_OVER_64_BITS: &[u8] =
    b"\x02a\x02\x04\x00\x00\x0a\xc8\xbb\xff\xff\xff\xff\xff\xff\xff\x16\x0c\x0e";

/// Finding (documented, not ours to fix): `apache-avro` reads a varint of more than 64 bits by
/// dropping the extra bits, so `decode_generic` returned a record that the fast path refused.
/// The fast path is right (an Avro long has 64 bits); `decode_generic`'s documentation says so,
/// and `record_decode` allows this one disagreement. Should this start failing because
/// `apache-avro` refuses the varint too, drop the exception from both.
#[test]
fn a_varint_over_64_bits_is_refused_by_the_fast_path_only() {
    let message = message(VARINT_OVER_64_BITS);
    let err = Codec::shared().unwrap().decode(&message).unwrap_err();
    assert!(matches!(err, CodecError::Malformed { .. }), "{err}");
    assert!(decode_generic(&message).is_ok());
}

/// A record whose `source` string declares 312,822,421 bytes (`aa aa aa aa 02`) in a 19-byte
/// datum.
const HUGE_LENGTH: &[u8] =
    b"\xaa\xaa\xaa\xaa\x02\xaa\x02a\x02\x04\x00\x00\x00\x0a\xc8\x04\x06\x02v";

/// Finding (documented): `apache-avro` allocates what a length declares before reading it, so
/// `decode_generic` asked for 300 MB to read these 19 bytes (`record_decode` runs with a 32 MiB
/// allocation limit, and now sets `apache-avro`'s own cap below it). Both decoders refuse the
/// record; the fast path without allocating for it.
#[test]
fn a_huge_declared_length_is_refused() {
    let message = message(HUGE_LENGTH);
    let err = Codec::shared().unwrap().decode(&message).unwrap_err();
    assert!(
        matches!(err, CodecError::Malformed { datum_len: 19, .. }),
        "{err}"
    );
    let err = decode_generic(&message).unwrap_err();
    assert!(
        matches!(err, CodecError::Malformed { datum_len: 19, .. }),
        "{err}"
    );
}
