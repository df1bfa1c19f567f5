//! Fuzzes the record codec the consumer runs on every Kafka message (`Codec::decode`, single-object
//! encoding) against the schema-only `apache-avro` decoder (`codec::decode_generic`).
//!
//! The message is the input as is when it starts with the magic `C3 01` (so the header checks
//! run too), otherwise this build's 10-byte header followed by the input (so most inputs reach
//! the datum). For each message:
//! - both decoders agree: a record from the fast path is the generic value read into the Rust
//!   types (`apache_avro::from_value`); a record only the generic decoder reads has a value
//!   outside the Rust types' range (a negative `epoch`, an `rdb_type` above 255, …) or a varint
//!   of more than 64 bits (which `apache-avro` reads, dropping the extra bits), and nothing
//!   else; header errors and trailing bytes are reported alike;
//! - a decoded record re-encodes to the canonical form of the datum, which is the datum itself
//!   unless the datum used one of Avro's non-canonical spellings (see `Canon`), and `apache-avro`
//!   writes the same canonical bytes;
//! - the record's contents (bytes of every string and byte field, plus one per array item) are
//!   no larger than the datum, and the fast path's largest allocation is at most `serde`'s
//!   1 MiB preallocation cap plus 64 bytes per message byte: no length field makes it ask for
//!   more than the message holds. `apache-avro` allocates what a length declares before reading
//!   it (see `decode_generic`), so its cap is set to 16 MiB here, which `-rss_limit_mb` covers.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use apache_avro::schema::Schema;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use libfuzzer_sys::fuzz_target;
use slotstream_schemas::codec::{decode_generic, generic_schema, HEADER_LEN, MAGIC};
use slotstream_schemas::{Codec, CodecError, Record};

/// Records the largest allocation while `TRACKING` is set (the fuzzer runs inputs on one
/// thread).
struct Tracking;

static TRACKING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    if TRACKING.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// What `f` returns and the size of the largest allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    TRACKING.store(true, Ordering::Relaxed);
    let out = f();
    TRACKING.store(false, Ordering::Relaxed);
    (out, LARGEST.load(Ordering::Relaxed))
}

/// Most the fast path may allocate at once for a message of `len` bytes: `serde` preallocates
/// a sequence for up to 1 MiB of elements when its length is announced; beyond that, a vector
/// holds at most one element per message byte, of at most 24 bytes (an empty `Element` or
/// `Command` takes one byte of the message), and may grow to twice what it holds: 48 bytes per
/// message byte, 64 with room to spare.
fn allocation_bound(len: usize) -> usize {
    (1 << 20) + 64 * len
}

/// Re-encodes a datum in canonical form while checking it against the schema, independently of
/// both decoders. The spellings Avro reads but never writes, and that this normalizes:
/// - a varint with redundant high groups (`80 00` for 0): written in the fewest bytes;
/// - an array in several blocks, or in blocks with a negative count and a byte size: written as
///   one block with its count, then the terminating 0 (an empty array as a lone 0).
///
/// Anything else that does not follow the schema (a varint over 64 bits, an int over 32 bits,
/// a boolean other than 0 or 1, a union index out of range, a string that is not UTF-8, a
/// length past the end) is refused.
struct Canon<'a> {
    input: &'a [u8],
    out: Vec<u8>,
    /// Set when a varint had bits beyond the 64th, which `apache-avro` reads (dropping them).
    too_long: bool,
    /// Named records, for the schema's references by name (`Barrier.commands` → `Command`).
    named: HashMap<String, &'a Schema>,
}

impl<'a> Canon<'a> {
    fn new(schema: &'a Schema, input: &'a [u8]) -> Self {
        let mut named = HashMap::new();
        collect_named(schema, &mut named);
        Canon {
            input,
            out: Vec::new(),
            too_long: false,
            named,
        }
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.input.split_first()?;
        self.input = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (now, rest) = self.input.split_at_checked(n)?;
        self.input = rest;
        Some(now)
    }

    /// A zigzag varint of at most 64 bits (10 bytes, the last at most 1).
    fn long(&mut self) -> Option<i64> {
        let mut raw = 0u64;
        for group in 0..10 {
            let b = self.byte()?;
            if group == 9 && b > 1 {
                self.too_long = true;
                return None;
            }
            raw |= u64::from(b & 0x7f) << (7 * group);
            if b & 0x80 == 0 {
                return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        None
    }

    fn write_long(&mut self, v: i64) {
        let mut raw = ((v << 1) ^ (v >> 63)) as u64;
        while raw > 0x7f {
            self.out.push((raw as u8 & 0x7f) | 0x80);
            raw >>= 7;
        }
        self.out.push(raw as u8);
    }

    fn value(&mut self, schema: &'a Schema) -> Option<()> {
        match schema {
            Schema::Null => {}
            Schema::Boolean => {
                let b = self.byte()?;
                if b > 1 {
                    return None;
                }
                self.out.push(b);
            }
            Schema::Int => {
                let v = i32::try_from(self.long()?).ok()?;
                self.write_long(v.into());
            }
            Schema::Long => {
                let v = self.long()?;
                self.write_long(v);
            }
            Schema::Bytes | Schema::String => {
                let len = usize::try_from(self.long()?).ok()?;
                let bytes = self.take(len)?;
                if matches!(schema, Schema::String) {
                    std::str::from_utf8(bytes).ok()?;
                }
                self.write_long(len as i64);
                self.out.extend_from_slice(bytes);
            }
            Schema::Array(array) => {
                let outer = std::mem::take(&mut self.out);
                let mut count = 0i64;
                loop {
                    let mut block = self.long()?;
                    if block == 0 {
                        break;
                    }
                    if block < 0 {
                        block = block.checked_neg()?;
                        // The block's size in bytes, which readers may use to skip it.
                        self.long()?;
                    }
                    for _ in 0..block {
                        self.value(&array.items)?;
                    }
                    count = count.checked_add(block)?;
                }
                let items = std::mem::replace(&mut self.out, outer);
                if count > 0 {
                    self.write_long(count);
                    self.out.extend_from_slice(&items);
                }
                self.out.push(0);
            }
            Schema::Union(union) => {
                let index = self.long()?;
                let variant = union.variants().get(usize::try_from(index).ok()?)?;
                self.write_long(index);
                self.value(variant)?;
            }
            Schema::Record(record) => {
                for field in &record.fields {
                    self.value(&field.schema)?;
                }
            }
            Schema::Ref { name } => {
                let named = *self.named.get(name.name())?;
                self.value(named)?;
            }
            other => panic!("record.avsc uses a type this target does not know: {other:?}"),
        }
        Some(())
    }
}

fn collect_named<'a>(schema: &'a Schema, named: &mut HashMap<String, &'a Schema>) {
    match schema {
        Schema::Record(record) => {
            named.insert(record.name.name().to_owned(), schema);
            for field in &record.fields {
                collect_named(&field.schema, named);
            }
        }
        Schema::Array(array) => collect_named(&array.items, named),
        Schema::Union(union) => union
            .variants()
            .iter()
            .for_each(|v| collect_named(v, named)),
        _ => {}
    }
}

/// Why a datum is not one record of the schema.
#[derive(Debug, PartialEq)]
enum Refused {
    /// A varint with bits beyond the 64th: 10 bytes, the last above 1.
    TooLong,
    Other,
}

/// The canonical encoding of `datum`, if it is one whole record of the schema.
fn canonical(datum: &[u8]) -> Result<Vec<u8>, Refused> {
    let (schema, _) = generic_schema().expect("record.avsc parses");
    let mut canon = Canon::new(schema, datum);
    match canon.value(schema) {
        Some(()) if canon.input.is_empty() => Ok(canon.out),
        _ if canon.too_long => Err(Refused::TooLong),
        _ => Err(Refused::Other),
    }
}

/// Bytes of every string and byte field, plus one per array item.
fn weight(value: &Value) -> usize {
    match value {
        Value::Bytes(b) => b.len(),
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(|v| 1 + weight(v)).sum(),
        Value::Record(fields) => fields.iter().map(|(_, v)| weight(v)).sum(),
        Value::Union(_, v) => weight(v),
        _ => 0,
    }
}

/// A generic value read into the Rust types with `apache-avro`'s serde support, which checks
/// every integer against its Rust type. That support maps a union's index to the Rust enum's
/// variant list, which also holds `Body`'s aliases; so the body goes in as `{type, value}`, with
/// its branch named as `record.avsc` names it.
fn to_record(value: &Value) -> Result<Record, apache_avro::Error> {
    let (schema, _) = generic_schema().expect("record.avsc parses");
    let (Schema::Record(top), Value::Record(fields)) = (schema, value) else {
        panic!("the generic decoder read a {value:?}");
    };
    let mut fields = fields.clone();
    if let (Some((_, Value::Union(index, body))), Some(Schema::Union(union))) =
        (fields.last_mut(), top.fields.last().map(|f| &f.schema))
    {
        let Some(Schema::Record(branch)) = union.variants().get(*index as usize) else {
            panic!("body branch {index} is not a record of record.avsc");
        };
        let named = vec![
            (
                "type".to_owned(),
                Value::String(branch.name.name().to_owned()),
            ),
            (
                "value".to_owned(),
                std::mem::replace(&mut **body, Value::Null),
            ),
        ];
        fields.last_mut().expect("a body").1 = Value::Record(named);
    }
    apache_avro::from_value(&Value::Record(fields))
}

/// Errors of the header, which both decoders check with the same code.
fn header_error(e: &CodecError) -> bool {
    matches!(
        e,
        CodecError::NotSingleObject { .. }
            | CodecError::TruncatedHeader { .. }
            | CodecError::UnknownFingerprint { .. }
    )
}

fn check(message: &[u8]) {
    let codec = Codec::shared().expect("record.avsc parses");
    let (fast, largest) = largest_allocation(|| codec.decode(message));
    assert!(
        largest <= allocation_bound(message.len()),
        "decoding {} bytes allocated {largest} bytes at once",
        message.len()
    );
    let generic = decode_generic(message);
    // Errors render.
    if let Err(e) = &fast {
        drop(e.to_string());
    }
    match (&fast, &generic) {
        (Ok(record), Ok(value)) => {
            let read = to_record(value).unwrap_or_else(|e| {
                panic!("a generic value the fast path read does not convert: {e}")
            });
            assert_eq!(&read, record, "the decoders read different records");
        }
        (Err(e), Ok(value)) => {
            // Only a value outside the Rust types' range, or a varint longer than 64 bits,
            // which apache-avro reads without its extra bits and Avro (and the fast path) refuse.
            assert!(!header_error(e), "header refused by one decoder only: {e}");
            let datum = &message[HEADER_LEN..];
            assert!(
                to_record(value).is_err() || canonical(datum) == Err(Refused::TooLong),
                "only the generic decoder reads this record; the fast path says: {e}"
            );
        }
        (Ok(record), Err(e)) => {
            panic!("only the fast path reads this record ({record:?}); apache-avro says: {e}")
        }
        (Err(fast), Err(generic)) => {
            if header_error(fast) || header_error(generic) {
                assert_eq!(fast.to_string(), generic.to_string());
            }
            if let CodecError::TrailingBytes { extra, .. } = fast {
                assert!(
                    matches!(generic, CodecError::TrailingBytes { extra: e, .. } if e == extra),
                    "fast path: {fast}; apache-avro: {generic}"
                );
            }
        }
    }

    let (Ok(record), Ok(value)) = (fast, generic) else {
        return;
    };
    let datum = &message[HEADER_LEN..];
    assert!(
        weight(&value) <= datum.len(),
        "a {}-byte datum decoded into {} bytes of contents",
        datum.len(),
        weight(&value)
    );

    let canon = canonical(datum).unwrap_or_else(|why| {
        panic!("the decoders read a datum that breaks the Avro rules: {why:?}")
    });
    let mut again = Vec::new();
    codec
        .encode(&record, &mut again)
        .expect("a decoded record encodes");
    assert_eq!(&again[..HEADER_LEN], &message[..HEADER_LEN]);
    assert!(
        again[HEADER_LEN..] == canon[..],
        "re-encoded record differs from the canonical datum"
    );
    let (schema, _) = generic_schema().expect("record.avsc parses");
    let writer = GenericDatumWriter::builder(schema)
        .build()
        .expect("writer for record.avsc");
    let mut theirs = Vec::new();
    writer
        .write_value(&mut theirs, value)
        .expect("apache-avro writes what it read");
    assert!(
        theirs == canon,
        "apache-avro writes another canonical datum"
    );
}

/// `apache-avro`'s allocation cap for this process (its default is 512 MiB).
const GENERIC_MAX_ALLOCATION: usize = 16 << 20;

fuzz_target!(|data: &[u8]| {
    apache_avro::util::max_allocation_bytes(GENERIC_MAX_ALLOCATION);
    if data.starts_with(&MAGIC) {
        check(data);
    } else {
        let codec = Codec::shared().expect("record.avsc parses");
        let mut message = MAGIC.to_vec();
        message.extend_from_slice(&codec.fingerprint());
        message.extend_from_slice(data);
        check(&message);
    }
});
