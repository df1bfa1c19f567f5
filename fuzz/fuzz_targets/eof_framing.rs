//! Fuzzes the framing of the snapshot payload after `+FULLRESYNC`: the header
//! (`replica::read_payload_header`: `$<len>` or `$EOF:<40-byte mark>`, after keepalive newlines)
//! and the end of the payload (`replica::Payload`: exactly `len` bytes, or the RDB followed by
//! the mark), with the RDB parser reading through it, as `capture.rs` runs them on the socket.
//!
//! The first byte of the input picks the sizes of the socket's reads (alternating; 0: the whole
//! stream at once); the rest is what the source sends. Checks:
//! - nothing is lost or read twice: on success, the bytes handed back (read past the payload,
//!   then still buffered, then never read) are exactly the stream after the payload's end,
//!   which is where the header says (`len` bytes, or the RDB's length plus the mark);
//! - nothing past the payload's end is needed: the stream cut right after it gives the same
//!   entries, and the socket is never read once it has handed out that last byte (on a live
//!   link that read would wait for the command stream);
//! - errors name where: a framing error after the header names the payload byte it is about,
//!   an RDB error an offset within what arrived, and no error quotes more than a short excerpt.

#![no_main]

use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use slotstream_fuzz::{read_sizes, Chunked};
use slotstream_producer::config::SourceAddr;
use slotstream_producer::replica::{read_payload_header, Payload, Transfer, EOF_MARK_LEN};
use slotstream_rdb::{Entry, RdbReader};

/// Object limit: far below the default, but above every value of the seed RDBs.
const LIMIT: usize = 1 << 20;
/// Longest error text accepted: a sentence or two and an excerpt of the bytes at fault of at
/// most 200 characters (as RDB errors quote a key), each escaped into at most 10 bytes.
const MAX_ERROR_LEN: usize = 2500;
/// The producer's socket buffer (`ReplicaLink::connect`).
const SOCKET_BUFFER: usize = 256 << 10;

/// How one run ended.
#[derive(Debug, PartialEq)]
struct Outcome {
    entries: Vec<Entry>,
    /// Where the payload ended in the stream, and the stream after it as handed back.
    end: Option<(usize, Vec<u8>)>,
    error: Option<String>,
    read_after_end: bool,
}

fn run(stream: &[u8], sizes: [usize; 2]) -> Outcome {
    let addr = SourceAddr {
        host: "fuzz".into(),
        port: 1,
        tls: false,
        username: None,
        password: None,
    };
    let mut reader = BufReader::with_capacity(SOCKET_BUFFER, Chunked::new(stream, sizes));
    let mut outcome = Outcome {
        entries: Vec::new(),
        end: None,
        error: None,
        read_after_end: false,
    };
    let transfer = match read_payload_header(&mut reader, &addr) {
        Ok(transfer) => transfer,
        Err(e) => {
            outcome.error = Some(e.to_string());
            outcome.read_after_end = reader.get_ref().read_after_end;
            return outcome;
        }
    };
    let header_len = stream.len() - reader.buffer().len() - reader.get_ref().data.len();
    assert!(header_len > 0 && stream[header_len - 1] == b'\n');

    let mut rdb = RdbReader::with_limits(Payload::new(reader, &transfer), LIMIT);
    let failed = match rdb.read_header() {
        Err(e) => Some(e),
        Ok(_) => loop {
            match rdb.next_entry() {
                Ok(Some(entry)) => outcome.entries.push(entry),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        },
    };
    let rdb_len = rdb.position();
    let (leftover, payload) = rdb.into_parts();
    if let Some(e) = failed {
        assert!(
            e.offset <= (stream.len() - header_len) as u64,
            "RDB error past what arrived: {e}"
        );
        outcome.error = Some(e.to_string());
        return outcome;
    }
    match payload.finish(leftover, &addr) {
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains(&format!("payload byte {rdb_len}")),
                "the framing error does not say where: {text}"
            );
            outcome.error = Some(text);
        }
        Ok((reader, pending)) => {
            let end = header_len
                + match transfer {
                    Transfer::Sized(len) => {
                        assert_eq!(rdb_len, len, "a sized payload ended elsewhere");
                        len as usize
                    }
                    Transfer::Eof(mark) => {
                        let at = header_len + rdb_len as usize;
                        assert_eq!(stream[at..at + EOF_MARK_LEN], mark[..]);
                        rdb_len as usize + EOF_MARK_LEN
                    }
                };
            let mut after = pending;
            after.extend_from_slice(reader.buffer());
            after.extend_from_slice(reader.get_ref().data);
            assert!(
                after == stream[end..],
                "bytes after the payload lost or read twice"
            );
            outcome.read_after_end = reader.get_ref().read_after_end;
            outcome.end = Some((end, after));
        }
    }
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctrl, stream)) = data.split_first() else {
        return;
    };
    let sizes = read_sizes(ctrl, stream.len());
    let whole = run(stream, sizes);
    if let Some(e) = &whole.error {
        assert!(e.len() <= MAX_ERROR_LEN, "error of {} bytes: {e}", e.len());
    }
    let Some((end, _)) = whole.end else {
        return;
    };
    assert!(
        !whole.read_after_end || end == stream.len(),
        "read the socket after its end though the payload ended before"
    );

    // Cut right after the payload: same entries, and no read once the payload is in.
    let cut = run(&stream[..end], sizes);
    assert_eq!(cut.entries, whole.entries);
    assert_eq!(cut.error, None);
    assert_eq!(cut.end, Some((end, Vec::new())));
    assert!(
        !cut.read_after_end,
        "read the socket after the payload's last byte"
    );
});
