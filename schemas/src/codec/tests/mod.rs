//! Tests of the codec: round trips and hostile input on the fast path, agreement with
//! `apache-avro` and `fastavro`, and a drift check between `record.avsc` and the Rust types.

mod agreement;
mod bench;
mod earlier;
mod fast;
mod fastavro;
mod samples;
