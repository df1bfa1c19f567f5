#!/usr/bin/env python3
"""Decode slotstream records with fastavro and record.avsc alone, as any Avro reader would.

Each record is Avro single-object encoded: C3 01, the 8-byte little-endian CRC-64-AVRO
fingerprint of the schema's canonical form, then the datum. This script checks that header
against the fingerprint fastavro computes from record.avsc, decodes the datum, checks that
nothing is left over, and prints one JSON line per record (keys sorted, bytes as lower-case
hex, the body as {"io.slotstream.<Kind>": {...}}).

Usage:
    check_with_fastavro.py [--schema record.avsc] --hex C301...  [--hex ...]
    check_with_fastavro.py [--schema record.avsc] --file records.bin

A --file holds records back to back, each preceded by its length as a 4-byte big-endian
unsigned integer. Exit status 1 on the first record that does not decode.

Requires fastavro (pip install fastavro).
"""

import argparse
import io
import json
import os
import struct
import sys

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

MAGIC = b"\xc3\x01"


def load_schema(path):
    with open(path, encoding="utf-8") as f:
        schema = parse_schema(json.load(f))
    # fastavro prints the fingerprint in wire (little-endian) byte order.
    wire = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
    return schema, wire


def plain(value):
    """Turns fastavro's decoded value into JSON-friendly data."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):  # (record name, record) for a union branch
        name, inner = value
        return {name: plain(inner)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def decode(schema, wire_fingerprint, message):
    if message[:2] != MAGIC:
        raise ValueError(f"no C3 01 magic: starts with {message[:16].hex()}")
    if len(message) < 10:
        raise ValueError(f"header truncated: {len(message)} bytes")
    if message[2:10] != wire_fingerprint:
        raise ValueError(
            f"fingerprint {message[2:10].hex()} is not record.avsc's {wire_fingerprint.hex()}"
        )
    datum = io.BytesIO(message[10:])
    record = fastavro.schemaless_reader(datum, schema, return_record_name=True)
    left = len(message) - 10 - datum.tell()
    if left:
        raise ValueError(f"{left} trailing bytes after the record")
    return plain(record)


def read_framed(path):
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        if at + 4 > len(data):
            raise ValueError(f"truncated length prefix at byte {at}")
        (length,) = struct.unpack_from(">I", data, at)
        at += 4
        if at + length > len(data):
            raise ValueError(f"record at byte {at} claims {length} bytes, file ends first")
        yield data[at : at + length]
        at += length


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", default=os.path.join(here, "record.avsc"))
    parser.add_argument("--hex", action="append", default=[], help="one record, hex")
    parser.add_argument("--file", help="length-prefixed records")
    args = parser.parse_args()
    if not args.hex and not args.file:
        parser.error("give --hex or --file")

    schema, wire = load_schema(args.schema)
    messages = [bytes.fromhex(h) for h in args.hex]
    if args.file:
        messages.extend(read_framed(args.file))
    for n, message in enumerate(messages):
        try:
            record = decode(schema, wire, message)
        except Exception as e:  # noqa: BLE001 - report any decoder failure with its record
            print(f"record {n}: {e}", file=sys.stderr)
            return 1
        print(json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
