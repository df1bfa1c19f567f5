//! Reads a `COMMAND` (or `COMMAND INFO`) reply into table entries, in its RESP2 shape (arrays
//! of name/value pairs) or RESP3 shape (maps and sets) alike.
//!
//! An entry is `[name, arity, flags, first, last, step]`, then on 6.0+ `acl-categories`, and
//! on 7.0+ `tips`, `key-specs` (element 8) and `subcommands` (element 9, entries of the same
//! shape named `container|sub`). A key spec the code cannot follow (`unknown`, `incomplete`, a
//! type it does not know) makes only that command fall back to an explicit rule or
//! [`KeysError::Unsupported`]; a reply that is not shaped like a table at all is an error.

use super::legacy::rule_for;
use super::spec::{BeginSearch, FindKeys, KeySpec};
use super::table::{CommandInfo, KeySource, NameMap};
use super::KeysError;
use redis::Value;

/// One key spec as the table gives it.
enum Parsed {
    Key(KeySpec),
    /// Flagged `not_key` (the channel of `SPUBLISH`): not a key, skipped as the server does.
    NotKey,
    /// A spec that cannot be followed; why.
    Unusable(&'static str),
}

/// One entry; `None` for the nil that `COMMAND INFO` gives for a name it does not know.
pub(crate) fn entry(value: &Value) -> Result<Option<CommandInfo>, KeysError> {
    if matches!(value, Value::Nil) {
        return Ok(None);
    }
    let items = list(value).ok_or_else(|| KeysError::bad_table("?", "an entry is not an array"))?;
    let name = items
        .first()
        .and_then(text)
        .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
        .ok_or_else(|| KeysError::bad_table("?", "an entry has no name"))?;
    let number = |at: usize, what: &str| {
        items
            .get(at)
            .and_then(int)
            .ok_or_else(|| KeysError::bad_table(&name, format!("no {what} (element {at})")))
    };
    let arity = number(1, "arity")?;
    let flags: Vec<String> = items
        .get(2)
        .and_then(list)
        .ok_or_else(|| KeysError::bad_table(&name, "no flags (element 2)"))?
        .iter()
        .filter_map(text)
        .map(|f| String::from_utf8_lossy(f).to_ascii_lowercase())
        .collect();
    let (first, last, step) = (
        number(3, "first key")?,
        number(4, "last key")?,
        number(5, "step")?,
    );
    let specs = match items.get(8) {
        None => None,
        Some(v) => Some(
            list(v)
                .ok_or_else(|| KeysError::bad_table(&name, "key specs (element 8) not an array"))?
                .iter()
                .map(spec)
                .collect::<Vec<_>>(),
        ),
    };
    let mut subcommands = NameMap::default();
    if let Some(v) = items.get(9) {
        let subs = list(v)
            .ok_or_else(|| KeysError::bad_table(&name, "subcommands (element 9) not an array"))?;
        for sub in subs {
            if let Some(info) = entry(sub)? {
                let short = info
                    .name
                    .rsplit_once('|')
                    .map_or(&info.name[..], |(_, s)| s);
                subcommands.insert(short.as_bytes().into(), info);
            }
        }
    }
    let movable = flags.iter().any(|f| f == "movablekeys");
    let keys = key_source(&name, movable, (first, last, step), specs.as_deref());
    Ok(Some(CommandInfo::new(
        name,
        arity,
        flags,
        keys,
        subcommands,
    )))
}

/// Decides where a command's keys are.
fn key_source(
    name: &str,
    movable: bool,
    (first, last, step): (i64, i64, i64),
    specs: Option<&[Parsed]>,
) -> KeySource {
    let fallback = |why| rule_for(name).map_or(KeySource::Unsupported(why), KeySource::Rule);
    let Some(specs) = specs else {
        // Before 7.0: first/last/step, which movable-keys commands cannot express.
        if movable {
            return fallback("movable keys, and the server gives no key specs");
        }
        if first == 0 {
            return KeySource::None;
        }
        return KeySpec::legacy(first, last, step).map_or(
            KeySource::Unsupported("first/last/step describe no key range"),
            |spec| KeySource::Specs(Box::new([spec])),
        );
    };
    let mut keys = Vec::with_capacity(specs.len());
    for spec in specs {
        match spec {
            Parsed::Key(key) => keys.push(key.clone()),
            Parsed::NotKey => {}
            Parsed::Unusable(why) => return fallback(why),
        }
    }
    if !keys.is_empty() {
        KeySource::Specs(keys.into())
    } else if movable {
        // A module command that finds its keys in code and publishes no spec.
        fallback("movable keys without key specs")
    } else {
        // 7.0+ derives first/last/step from the specs, `not_key` ones included (`SPUBLISH`
        // says 1 1 1): with the specs at hand they are not consulted.
        KeySource::None
    }
}

fn spec(value: &Value) -> Parsed {
    let flags = field(value, "flags").and_then(list).unwrap_or_default();
    let flagged = |name: &str| {
        flags
            .iter()
            .filter_map(text)
            .any(|f| f.eq_ignore_ascii_case(name.as_bytes()))
    };
    if flagged("not_key") {
        return Parsed::NotKey;
    }
    if flagged("incomplete") {
        return Parsed::Unusable("a key spec is incomplete");
    }
    let begin = match begin_search(value) {
        Ok(begin) => begin,
        Err(why) => return Parsed::Unusable(why),
    };
    match find_keys(value) {
        Ok(find) => Parsed::Key(KeySpec { begin, find }),
        Err(why) => Parsed::Unusable(why),
    }
}

fn begin_search(spec: &Value) -> Result<BeginSearch, &'static str> {
    let (kind, inner) = typed(spec, "begin_search").ok_or("a key spec has no begin_search")?;
    match kind {
        b"index" => {
            let index = usize_field(inner, "index").filter(|&i| i >= 1);
            index
                .map(BeginSearch::Index)
                .ok_or("bad begin_search index")
        }
        b"keyword" => {
            let keyword = field(inner, "keyword")
                .and_then(text)
                .filter(|k| !k.is_empty());
            let startfrom = field(inner, "startfrom").and_then(int);
            match (keyword, startfrom) {
                (Some(keyword), Some(startfrom)) => Ok(BeginSearch::Keyword {
                    keyword: keyword.into(),
                    startfrom,
                }),
                _ => Err("bad begin_search keyword"),
            }
        }
        b"unknown" => Err("a key spec's begin_search is of type unknown"),
        _ => Err("a key spec's begin_search is of a type this version does not know"),
    }
}

fn find_keys(spec: &Value) -> Result<FindKeys, &'static str> {
    let (kind, inner) = typed(spec, "find_keys").ok_or("a key spec has no find_keys")?;
    // A step of 0 would never advance: such a spec is unusable, not a loop.
    let step = |name| usize_field(inner, name).filter(|&s| s >= 1);
    match kind {
        b"range" => {
            let lastkey = field(inner, "lastkey").and_then(int);
            match (lastkey, step("keystep"), usize_field(inner, "limit")) {
                (Some(lastkey), Some(keystep), Some(limit)) => Ok(FindKeys::Range {
                    lastkey,
                    keystep,
                    limit,
                }),
                _ => Err("bad find_keys range"),
            }
        }
        b"keynum" => {
            let keynumidx = usize_field(inner, "keynumidx");
            match (keynumidx, usize_field(inner, "firstkey"), step("keystep")) {
                (Some(keynumidx), Some(firstkey), Some(keystep)) => Ok(FindKeys::Keynum {
                    keynumidx,
                    firstkey,
                    keystep,
                }),
                _ => Err("bad find_keys keynum"),
            }
        }
        b"unknown" => Err("a key spec's find_keys is of type unknown"),
        _ => Err("a key spec's find_keys is of a type this version does not know"),
    }
}

/// `{type: T, spec: S}` under `name`, as `(T, S)`.
fn typed<'a>(value: &'a Value, name: &str) -> Option<(&'a [u8], &'a Value)> {
    let part = field(value, name)?;
    Some((field(part, "type").and_then(text)?, field(part, "spec")?))
}

fn usize_field(value: &Value, name: &str) -> Option<usize> {
    field(value, name)
        .and_then(int)
        .and_then(|n| usize::try_from(n).ok())
}

/// The value under `name` in a map, or in an array of alternating names and values.
fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let is_name = |k: &Value| text(k).is_some_and(|k| k.eq_ignore_ascii_case(name.as_bytes()));
    match value {
        Value::Map(pairs) => pairs.iter().find(|(k, _)| is_name(k)).map(|(_, v)| v),
        _ => list(value)?
            .chunks_exact(2)
            .find(|pair| is_name(&pair[0]))
            .map(|pair| &pair[1]),
    }
}

pub(crate) fn list(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

fn text(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        Value::VerbatimString { text, .. } => Some(text.as_bytes()),
        Value::Okay => Some(b"OK"),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        _ => std::str::from_utf8(text(value)?).ok()?.parse().ok(),
    }
}
