//! Reading the `redis` crate's replies: strings, integers, lists and maps, and the error codes
//! verify reacts to. A leaf: it knows nothing of sides or values.

use redis::{RedisError, Value};

/// `WRONGTYPE`: the key was replaced by one of another type while being read.
pub fn is_wrong_type(err: &RedisError) -> bool {
    err.code() == Some("WRONGTYPE")
}

/// An `ERR unknown command` reply: the server does not have the command.
pub fn is_unknown_command(err: &RedisError) -> bool {
    err.code() == Some("ERR")
        && err
            .detail()
            .is_some_and(|detail| detail.to_ascii_lowercase().starts_with("unknown command"))
}

/// An array of bulk strings as byte vectors; `None` for any other shape.
pub fn bulk_list(reply: Value) -> Option<Vec<Vec<u8>>> {
    match reply {
        Value::Array(items) => items.into_iter().map(bytes_of).collect(),
        _ => None,
    }
}

/// A string-like reply as bytes.
pub fn bytes_of(reply: Value) -> Option<Vec<u8>> {
    match reply {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        Value::Okay => Some(b"OK".to_vec()),
        _ => None,
    }
}

/// An integer reply, or a string holding one.
pub fn int_of(reply: &Value) -> Option<i64> {
    match reply {
        Value::Int(n) => Some(*n),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::SimpleString(text) => text.parse().ok(),
        _ => None,
    }
}

/// A scalar reply as text for reports (`nil` for a null reply).
pub fn text_of(reply: &Value) -> String {
    match reply {
        Value::Nil => "nil".to_string(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::Okay => "OK".to_string(),
        Value::Double(x) => x.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::ServerError(err) => format!("error: {err}"),
        other => format!("{other:?}"),
    }
}

/// A key/value reply (a flat RESP2 array or a RESP3 map) as pairs.
pub fn map_of(reply: Value) -> Vec<(String, Value)> {
    match reply {
        Value::Array(items) => {
            let mut pairs = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(name), Some(value)) = (items.next(), items.next()) {
                pairs.push((text_of(&name), value));
            }
            pairs
        }
        Value::Map(pairs) => pairs
            .into_iter()
            .map(|(name, value)| (text_of(&name), value))
            .collect(),
        _ => Vec::new(),
    }
}

/// An array of key/value replies as pairs each.
pub fn list_of_maps(reply: Value) -> Vec<Vec<(String, Value)>> {
    match reply {
        Value::Array(items) => items.into_iter().map(map_of).collect(),
        _ => Vec::new(),
    }
}

/// The value named `name` in pairs from [`map_of`].
pub fn field<'a>(map: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    map.iter().find(|(n, _)| n == name).map(|(_, value)| value)
}

/// The named fields of a map, as text, skipping those it does not have.
pub fn scalar_fields(map: &[(String, Value)], names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .filter_map(|name| field(map, name).map(|value| (name.to_string(), text_of(value))))
        .collect()
}
